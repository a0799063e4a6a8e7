"""`crosslab disclosure scan DIR`: fail if public artifacts carry restricted/withheld text or a canary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crosslab.cli.common import console, fail

app = typer.Typer(help="Disclosure tiers: the leak scan.", no_args_is_help=True)


@app.command()
def scan(
    directory: Annotated[Path, typer.Argument(help="Directory of public artifacts (a bundle, reports).")],
    runs: Annotated[list[Path] | None, typer.Option("--run", help="Run directories whose items count as "
                                                                 "sensitive too (repeatable).")] = None,
) -> None:
    """Scan every file under DIR except encrypted ones; exit 1 on any hit.

    Sensitive text: the authored content of every restricted or withheld item of
    the installed suites and of the given runs (minus passages public items share),
    and any canary token. A bundle's reveals/NNNN.jsonl may carry the text and
    canary of the items its own disclosure lines reveal, and nothing else
    (`crosslab verify` checks that each opens a commitment the evaluator signed).
    """
    from crosslab.disclosure.leakscan import reveal_allowance, scan_files
    from crosslab.suites.registry import installed_sensitive
    from crosslab.engine.journal import Journal, JournalError

    if not directory.is_dir():
        fail(f"{directory} is not a directory")
    items = []
    for run in runs or []:
        try:
            journal = Journal.open(run)
        except JournalError as exc:
            fail(str(exc))
        items.extend(journal.items())
        journal.close()
    sensitive = installed_sensitive(items)
    files = {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}
    hits = scan_files(files, sensitive, revealed=reveal_allowance(files))
    if hits:
        for hit in hits[:20]:
            console.print(f"[red]leak:[/] {hit}", soft_wrap=True, highlight=False)
        fail(f"leak scan: {len(hits)} hit(s) in {directory}", code=1)
    console.print(f"[green]clean:[/] {len(files)} files scanned against {len(sensitive)} sensitive passages "
                  "and the canary pattern", soft_wrap=True, highlight=False)
