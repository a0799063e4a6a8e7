"""Graders: pure functions from (item, transcript) to a Verdict."""
