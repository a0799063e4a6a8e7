"""crosslab: cross-lab AI safety evaluation with verifiable, redacted publication."""

__version__ = "0.1.0"
