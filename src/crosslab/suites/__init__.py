"""Evaluation suites: items as data files, plus each suite's environments and graders."""
