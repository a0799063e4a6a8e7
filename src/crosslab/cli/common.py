"""What every command shares: consoles and the one-line error exit."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

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
