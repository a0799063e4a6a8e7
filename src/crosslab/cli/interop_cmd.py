"""`crosslab import …` / `crosslab export …`: Inspect logs and public datasets in, logs and results out.

The work is in ``crosslab.interop``; these commands parse options, turn every
refusal into one line on stderr, and say what was written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crosslab.cli.common import console, fail
from crosslab.core.errors import CrosslabError

import_app = typer.Typer(help="Take in Inspect logs and public benchmark files.", no_args_is_help=True)
export_app = typer.Typer(help="Give out Inspect logs and results tables.", no_args_is_help=True)


def _said(message: str) -> None:
    console.print(message, soft_wrap=True, highlight=False)


@import_app.command("dataset")
def import_dataset(
    kind: Annotated[str, typer.Argument(help="strongreject | harmbench | jailbreakbench | xstest | simpleqa.")],
    file: Annotated[Path, typer.Argument(help="The dataset's CSV file, as published (docs/interop.md).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The items file to write (JSONL).")],
    tier: Annotated[str, typer.Option(help="Tier of harmful requests: restricted (default), withheld or public.")]
    = "restricted",
    benign: Annotated[bool, typer.Option("--benign", help="jailbreakbench: the file is the benign set.")] = False,
) -> None:
    """Read a public benchmark file into a crosslab items file (ids, categories, facets, tiers)."""
    from crosslab.interop.datasets import Options, read_dataset, write_items

    if tier not in ("public", "restricted", "withheld"):
        fail(f"--tier must be public, restricted or withheld, not {tier!r}")
    try:
        items = read_dataset(kind, file, Options(tier=tier, benign=benign))  # type: ignore[arg-type]
        write_items(items, out)
    except CrosslabError as exc:
        fail(str(exc))
    by_tier = {t: sum(i.tier == t for i in items) for t in ("public", "restricted", "withheld")}
    _said(f"{len(items)} items from {file} written to {out} ("
          + ", ".join(f"{n} {t}" for t, n in by_tier.items() if n) + ")")


@import_app.command("inspect")
def import_inspect(
    log: Annotated[Path, typer.Argument(help="The Inspect log (.eval or .json).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Runs directory; the run is written in a new folder.")]
    = Path("runs"),
    target: Annotated[str | None, typer.Option(help="The deployment the log evaluated (provider:model or a target "
                                                    "YAML), e.g. the one a protocol agrees; default: the log's "
                                                    "model, named inspect:<model>.")] = None,
    tier: Annotated[str, typer.Option(help="Tier of the imported samples: restricted (default), public or "
                                           "withheld.")] = "restricted",
) -> None:
    """Turn an Inspect eval log into a crosslab run journal, graded by crosslab's rules."""
    from crosslab.interop.inspect_import import import_log
    from crosslab.targets.registry import parse_target

    if tier not in ("public", "restricted", "withheld"):
        fail(f"--tier must be public, restricted or withheld, not {tier!r}")
    try:
        deployment = parse_target(target) if target else None
        run_dir = import_log(log, out, deployment=deployment, tier=tier)  # type: ignore[arg-type]
    except CrosslabError as exc:
        fail(str(exc))
    _said(f"imported {log} as run {run_dir.name} in {run_dir}")


@export_app.command("inspect")
def export_inspect(
    source: Annotated[Path, typer.Argument(help="A run directory, or a bundle directory (verified first).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The Inspect log to write (.eval).")],
    keys: Annotated[Path | None, typer.Option("--keys", help="Bundles: directory of identity files you trust.")]
    = None,
    lab: Annotated[str | None, typer.Option("--as", help="Bundles: your lab id; a partner also sees the restricted "
                                                         "samples it can decrypt.")] = None,
    keystore: Annotated[Path | None, typer.Option(help="Keystore directory (default: $CROSSLAB_KEYSTORE).")] = None,
) -> None:
    """Write a run or a verified bundle as an Inspect log (`inspect view` opens it)."""
    from crosslab.interop.inspect_export import write_inspect

    src = _source(source, keys, lab, keystore)
    try:
        write_inspect(src, out)
    except CrosslabError as exc:
        fail(str(exc))
    _said(f"wrote {out}: {len(src.samples)} samples"
          + (f" ({src.left_out} not yours to see: in the counts only)" if src.left_out else ""))


def _source(path: Path, keys: Path | None, lab: str | None, keystore: Path | None):  # -> Source
    """A run directory as is, or a bundle verified with the pinned keys, cut to what this reader may see."""
    from crosslab.interop.source import from_bundle, from_run, is_run

    if not path.is_dir():
        fail(f"{path} is not a run or bundle directory")
    try:
        if is_run(path):
            return from_run(path)
        if keys is None:
            fail(f"{path} is not a run directory; a bundle needs --keys (the identities you trust) to be verified")
        from crosslab.cli.bundle_cmd import pinned_identities, age_identity_or_exit

        return from_bundle(path, pinned_identities(keys), age_identity_or_exit(lab, keystore))
    except CrosslabError as exc:
        fail(str(exc))


@export_app.command("results")
def export_results(
    bundle: Annotated[Path, typer.Argument(help="A bundle directory (verified first; never exported unverified).")],
    fmt: Annotated[str, typer.Option("--format", help="eee (Every Eval Ever JSON, schema 0.3.0) or csv.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The file to write (default: standard output).")]
    = None,
    keys: Annotated[Path | None, typer.Option("--keys", help="Directory of identity files you trust.")] = None,
) -> None:
    """Write a verified bundle's metrics as Every Eval Ever JSON or a flat CSV table."""
    from crosslab.attest.errors import VerificationError
    from crosslab.bundle.reader import printable
    from crosslab.interop.errors import InteropError
    from crosslab.interop.results_export import FORMATS, write_results
    from crosslab.interop.verified import verify_copy

    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if keys is None:
        fail(f"{bundle}: a bundle needs --keys (the identities you trust) to be verified before it is exported")
    from crosslab.cli.bundle_cmd import pinned_identities

    pinned = pinned_identities(keys)
    try:
        verified = verify_copy(bundle, pinned)
    except InteropError as exc:  # not a bundle directory, or unreadable
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - fail closed, one line, as `crosslab verify` does
        message = str(exc) if isinstance(exc, VerificationError) else \
            f"could not be checked ({type(exc).__name__}: {exc})"
        fail(f"{printable(str(bundle))}: verification failed, nothing exported: {printable(message)}", code=1)
    try:
        rows = write_results(verified, fmt, out)
    except CrosslabError as exc:
        fail(str(exc))
    if out is not None:
        _said(f"wrote {out}: {rows} metric rows of {verified.result.evaluator} on "
              f"{verified.result.evaluated}/{verified.result.deployment} ({fmt}, verified)")
