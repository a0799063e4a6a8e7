"""A monitor: follows a log, keeps every checkpoint it saw, and reports a split view or a rewritten history.

``Monitor.poll`` fetches the log's checkpoint, verifies it (log key, and k
trusted cosignatures when asked), and holds it against the checkpoints in its
``MonitorState``; a contradiction is a ``SplitView`` kept with both signed
notes. A log that cannot be judged raises ``LogUnreachable`` or
``LogAnswerError`` instead. docs/monitor.md describes the rules.
"""

from crosslab.monitor.client import LogClient
from crosslab.monitor.errors import LogAnswerError, LogUnreachable, MonitorError
from crosslab.monitor.findings import Seen, SplitView
from crosslab.monitor.follow import Monitor, Observation
from crosslab.monitor.state import MonitorState

__all__ = ["LogAnswerError", "LogClient", "LogUnreachable", "Monitor", "MonitorError", "MonitorState",
           "Observation", "Seen", "SplitView"]
