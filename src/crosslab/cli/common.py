"""What every command shares: consoles and the one-line error exit."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear line to stderr and exit non-zero (2: bad input, 1: runtime failure)."""
    one_line = " ".join(message.split())
    err_console.print(f"[bold red]crosslab: error:[/] {escape(one_line)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
