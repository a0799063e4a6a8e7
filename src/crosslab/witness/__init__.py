"""A witness: checks that each new checkpoint of a log extends the last one it saw, then cosigns it (C2SP tlog-witness)."""
