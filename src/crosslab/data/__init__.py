"""Package data (prices)."""
