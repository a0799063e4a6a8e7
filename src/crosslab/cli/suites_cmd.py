"""`crosslab suites`: installed suites with the content digests a protocol pins."""

from __future__ import annotations

from rich.table import Table

from crosslab.cli.common import console


def suites() -> None:
    """List installed suites, their item counts and content digests (for protocol pins)."""
    from crosslab.suites.registry import get_suite, suite_names

    table = Table(title="Suites")
    for col in ("suite", "items", "digest", "about"):
        table.add_column(col)
    for name in suite_names():
        suite = get_suite(name)
        table.add_row(name, str(len(suite.items())), suite.content_digest(), suite.description)
    console.print(table)
