"""Results: metrics computed from a graded journal."""
