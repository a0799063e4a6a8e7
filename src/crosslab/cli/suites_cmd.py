"""`crosslab suites`: installed suites with the content digests and grader versions a protocol pins."""

from __future__ import annotations

from rich.table import Table

from crosslab.cli.common import console


def suites() -> None:
    """List installed suites, their item counts, content digests and grader versions (for protocol pins)."""
    from crosslab.suites.registry import get_suite, suite_names

    table = Table(title="Suites")
    for col in ("suite", "items", "digest", "graders", "about"):
        table.add_column(col, no_wrap=col == "digest", min_width=64 if col == "digest" else None)
    for name in suite_names():
        suite = get_suite(name)
        graders = "\n".join(f"{kind}: {version}" for kind, version in sorted(suite.grader_versions.items()))
        table.add_row(name, str(len(suite.items())), suite.content_digest(), graders, suite.description)
    console.print(table)
