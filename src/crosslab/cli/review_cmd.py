"""`crosslab review export|import`: people adjudicate the verdicts graders were unsure of, signed by their lab."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crosslab.cli.common import console, fail
from crosslab.core.errors import CrosslabError

app = typer.Typer(help="Human adjudication of unsure or disputed verdicts.", no_args_is_help=True)
RunDir = Annotated[Path, typer.Argument(help="The graded run directory.")]


def _journal(run_dir: Path):  # -> Journal, imported lazily to keep startup fast
    from crosslab.engine.journal import Journal

    try:
        return Journal.open(run_dir)
    except CrosslabError as exc:
        fail(str(exc))


@app.command("export")
def export_cmd(
    run_dir: RunDir,
    out: Annotated[Path, typer.Option("--out", "-o", help="The sheet to write: .csv (spreadsheets) or .jsonl.")],
    tier: Annotated[str, typer.Option(help="The reviewer's tier: public, restricted (a partner lab) or withheld "
                                           "(the evaluating lab). Items above it show ids and labels only.")]
    = "public",
    everything: Annotated[bool, typer.Option("--all", help="Every graded verdict, not only unsure or "
                                                           "disputed ones.")] = False,
) -> None:
    """Write a sheet of the verdicts that need a person; reviewers fill review_label and reviewer_note."""
    from crosslab.core.atomic import write_atomically
    from crosslab.review.apply import apply_adjudications
    from crosslab.review.runview import RunView
    from crosslab.review.sheet import encode_sheet, sheet_format, sheet_rows
    from crosslab.review.store import load_adjudications

    journal = _journal(run_dir)
    try:
        fmt = sheet_format(out)
        if out.exists():
            raise FileExistsError(f"{out} already exists; a filled sheet is never overwritten")
        view = RunView.of(journal)
        rows = sheet_rows(view, apply_adjudications(view, load_adjudications(view)), tier, everything)
        write_atomically(out, encode_sheet(rows, fmt), private=True)
    except (CrosslabError, OSError) as exc:
        fail(str(exc))
    finally:
        journal.close()
    withheld = sum(r["shown"] == "withheld" for r in rows)
    console.print(f"{len(rows)} verdict(s) to review written to {out}"
                  + (f" ({withheld} above tier {tier}: ids and labels only)" if withheld else ""),
                  soft_wrap=True, highlight=False)


@app.command("import")
def import_cmd(
    run_dir: RunDir,
    sheet: Annotated[Path, typer.Argument(help="The filled sheet (.csv or .jsonl).")],
    key: Annotated[Path, typer.Option("--key", help="The reviewing lab's key: a keystore directory, a lab's "
                                                    "directory in it, or its signing_key.pem.")],
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who reviewed (a name or email; it is signed).")],
    lab: Annotated[str | None, typer.Option("--as", help="The reviewing lab, when the keystore holds several.")]
    = None,
    trust: Annotated[Path | None, typer.Option("--trust", help="The reviewing lab's identity file "
                                                               "(LAB.identity.json) the key must match.")] = None,
) -> None:
    """Sign the reviewed rows as the reviewing lab and store them in the run; they override the verdicts."""
    from crosslab.identity.keys import load_identity
    from crosslab.review.importing import import_sheet
    from crosslab.review.signer import reviewing_key

    journal = _journal(run_dir)
    try:
        private_key, identity = reviewing_key(key, lab)
        trusted = load_identity(trust) if trust is not None else None
        done = import_sheet(journal, sheet, private_key, identity, reviewer, trusted)
    except (CrosslabError, OSError) as exc:
        fail(str(exc))
    finally:
        journal.close()
    rows = done.statement.rows
    changed = sum(r.review_label != r.original.label for r in rows)
    console.print(f"{len(rows)} verdict(s) adjudicated by {reviewer} for {identity.lab} ({changed} label(s) "
                  f"changed), signed: {done.path}", soft_wrap=True, highlight=False)
