"""`crosslab suites`: installed suites with the content digests and grader versions a protocol pins.

Digests are printed whole, outside the table, as lines a protocol author can
paste: a table cell is cut short on a narrow terminal, and a cut digest is
useless for a pin. ``--subset N`` prints the pin of a quick profile with the
very function the protocol check uses (``suites.pins.pin_digest``), so the
two can never disagree.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from crosslab.cli.common import console, fail


def suites(
    subset: Annotated[int | None, typer.Option("--subset", min=1, help="Also print each suite's pin for a "
                                               "subset of N items (a protocol's `subset: N`).")] = None,
    name: Annotated[str | None, typer.Option("--suite", help="Only this suite.")] = None,
) -> None:
    """List installed suites, their item counts, full content digests and grader versions (for protocol pins)."""
    from crosslab.items.loader import ItemsError
    from crosslab.suites.pins import pin_digest
    from crosslab.suites.registry import get_suite, suite_names

    names = suite_names()
    if name is not None:
        if name not in names:
            fail(f"no suite {name!r} installed (installed: {', '.join(names)})")
        names = [name]
    table = Table(title="Suites")
    for col in ("suite", "items", "graders", "about"):
        table.add_column(col)
    pins = []
    for suite_name in names:
        suite = get_suite(suite_name)
        try:
            count = len(suite.items())
            pin = f"  - {{name: {suite_name}, digest: {suite.content_digest()}}}"
            if subset is not None:
                whole = "  # the whole suite" if subset >= count else ""
                pin += f"\n  - {{name: {suite_name}, digest: {pin_digest(suite_name, subset)}, subset: {subset}}}{whole}"
        except ItemsError as exc:
            fail(f"suite {suite_name}: {exc}", code=1)
        graders = "\n".join(f"{kind}: {version}" for kind, version in sorted(suite.grader_versions.items()))
        table.add_row(suite_name, str(count), graders, suite.description)
        pins.append(pin)
    console.print(table)
    console.print("pins (paste under the protocol's suites:)", highlight=False)
    for pin in pins:
        console.print(pin, soft_wrap=True, highlight=False, markup=False)
