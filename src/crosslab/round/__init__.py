"""Running a lab's share of a round: every direction it evaluates, to signed bundles."""
