"""Leaves every layer may use: canonical JSON and digests, atomic writes, YAML reading, the error root, the version."""
