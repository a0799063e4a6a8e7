"""Progress for a round: one bar per direction on a terminal, plain lines elsewhere (cli/plain_progress.py)."""

from __future__ import annotations

from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from crosslab.cli.common import err_console
from crosslab.cli.plain_progress import PlainProgress


class DirectionProgress:
    """Used as ``on_direction`` / ``on_record`` callbacks by `crosslab round run` and `crosslab demo`."""

    def __init__(self, quiet: bool = False) -> None:
        #: Off a terminal rich would draw nothing until the end: plain lines instead.
        self.plain = not quiet and not err_console.is_terminal
        self.bars = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("[red]{task.fields[errors]} errors"), TimeElapsedColumn(),
                             console=err_console, disable=quiet or self.plain)
        self.lines: dict[Any, PlainProgress] = {}
        self.tasks: dict[Any, TaskID] = {}
        self.errors: dict[Any, int] = {}
        self.totals: dict[Any, int] = {}

    def __enter__(self) -> DirectionProgress:
        self.bars.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.__exit__(*exc)

    def start(self, direction: Any, total: int) -> None:
        self.tasks[direction] = self.bars.add_task(str(direction), total=total, errors=0)
        self.errors[direction] = 0
        self.totals[direction] = total
        if self.plain:
            self.lines[direction] = PlainProgress(str(direction), total)

    def record(self, direction: Any, _suite: str, record: dict[str, Any]) -> None:
        self.errors[direction] += record["status"] == "error"
        self.bars.update(self.tasks[direction], advance=1, errors=self.errors[direction])
        if direction in self.lines:
            self.lines[direction].record(record)

    def finish(self, direction: Any) -> None:
        """Fill the bar: a resumed direction skips samples already done."""
        self.bars.update(self.tasks[direction], completed=self.totals[direction])
        if direction in self.lines:
            self.lines[direction].finish(self.totals[direction])
