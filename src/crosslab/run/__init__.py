"""Run orchestration: one run from validated input to a graded journal (engine, then grading)."""
