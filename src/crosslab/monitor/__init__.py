"""A monitor: follows a log, keeps every checkpoint it saw, and reports a split view or a rewritten history."""
