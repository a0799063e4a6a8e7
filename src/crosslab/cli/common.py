"""What every command shares: consoles and the one-line error exit."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from crosslab.core.jsonl import jsonl_lines

#: Piped output (CI logs, files) gets wide lines instead of Rich's 80-column default,
#: so tables stay readable; a terminal keeps its own width.
PIPED_WIDTH = 160
console = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else PIPED_WIDTH)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear line to stderr and exit non-zero (2: bad input, 1: runtime failure)."""
    one_line = " ".join(message.split())
    err_console.print(f"[bold red]crosslab: error:[/] {escape(one_line)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def jsonl_objects(data: bytes, source: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL file; stops with ``SOURCE:LINE: problem``.

    Lines are split on "\\n" alone (``core.jsonl``), so a line separator inside a string stays in it.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})")
    out = []
    for number, raw in enumerate(jsonl_lines(text), start=1):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            fail(f"{source}:{number}: not valid JSON ({exc})")
        if not isinstance(obj, dict):
            fail(f"{source}:{number}: each line must be a JSON object")
        out.append((number, obj))
    return out
