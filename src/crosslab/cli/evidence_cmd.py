"""`crosslab evidence …`: make a vendor's evidence package from a registry, and verify one offline."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from crosslab.cli.common import console, err_console, fail

app = typer.Typer(help="Evidence packages: a vendor's published record with proofs, verified offline.",
                  no_args_is_help=True)
Opt = typer.Option


@app.command("pack")
def pack_cmd(
    registry: Annotated[str, Opt(help="The registry, e.g. https://registry.example")],
    vendor: Annotated[str, Opt(help="The lab whose record to pack (as the evaluated lab, and its declines).")],
    out: Annotated[Path, Opt(help="The package file to write (replaced atomically).")],
    size: Annotated[int | None, Opt(min=1, help="The log size (checkpoint) to pack at (default: the latest).")] = None,
    log_key: Annotated[str | None, Opt(help="The log's verifier key, to check its signature before writing.")] = None,
    quiet: Annotated[bool, Opt(help="No progress bars.")] = False,
) -> None:
    """Fetch a vendor's published record, check it, and write one crosslab-evidence/1 file."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from crosslab.evidence import EvidenceError, pack

    if out.exists() and out.is_dir():
        fail(f"{out}: is a directory")
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err_console,
                    disable=quiet)
    tasks: dict[str, object] = {}

    def progress(what: str, done: int, total: int) -> None:
        if what not in tasks:
            tasks[what] = bars.add_task(what, total=total)
        bars.update(tasks[what], completed=done, total=total)  # type: ignore[arg-type]

    try:
        with bars:
            found = pack(registry, vendor, out, size=size, log_key=log_key, progress=progress)
    except EvidenceError as exc:
        fail(f"not packed: {exc}", code=1)
    except OSError as exc:
        fail(f"{out}: cannot be written ({exc.strerror})", code=1)
    console.print(f"packed {found.vendor}: {len(found.bundles)} bundle(s), {len(found.declined)} decline(s), "
                  f"{len(found.indices)} of {found.checkpoint.size} log entries -> {out}",
                  soft_wrap=True, highlight=False, markup=False)


@app.command("verify")
def verify_cmd(
    package: Annotated[Path, typer.Argument(help="The evidence package file.")],
    log_key: Annotated[str, Opt(help="The log's verifier key (<name>+<id>+<key>), as its operator publishes it.")],
    witness_key: Annotated[list[str] | None, Opt(help="A witness verifier key you trust (repeat for several). "
                                                 "Cosignatures by other keys are ignored.")] = None,
    min_witnesses: Annotated[int | None, Opt(min=0, help="Cosignatures required from the trusted witnesses "
                                             "(default: all of them).")] = None,
    vendor: Annotated[str | None, Opt(help="Also require the package to be about this lab.")] = None,
) -> None:
    """Verify a package offline: checkpoint and cosignatures, every leaf, completeness, proofs, files, bundles."""
    from crosslab.evidence import EvidenceError, Trust, verify_package
    from crosslab.evidence.format import MAX_PACKAGE_BYTES
    from crosslab.transparency import NoteError

    try:
        trust = Trust.parse(log_key, witness_key or [], min_witnesses)
    except NoteError as exc:
        fail(f"--log-key/--witness-key: {exc}")
    distinct = len({(w.name, w.key_id) for w in trust.witnesses})
    if trust.min_witnesses > distinct:
        fail(f"--min-witnesses {trust.min_witnesses}: only {distinct} witness key(s) given, so it can never be met")
    data = _read_package(package, MAX_PACKAGE_BYTES)
    try:
        found = verify_package(data, trust, vendor=vendor)
    except EvidenceError as exc:
        fail(f"{package}: verification failed: {exc}", code=1)
    except Exception as exc:  # noqa: BLE001 - fail closed with one line, whatever the file did
        fail(f"{package}: verification failed: could not be checked ({type(exc).__name__})", code=1)
    _report(found)


def _read_package(path: Path, limit: int) -> bytes:
    try:
        st = os.stat(path)
    except OSError as exc:
        fail(f"{path}: cannot be read ({exc.strerror})")
    if not stat.S_ISREG(st.st_mode):
        fail(f"{path}: not a regular file")
    if st.st_size > limit:
        fail(f"{path}: verification failed: {st.st_size:,} bytes, over the {limit:,}-byte package limit", code=1)
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot be read ({exc.strerror})")


def _report(found) -> None:  # noqa: ANN001 - a VerifiedEvidence
    cp = found.checkpoint
    say = lambda text: console.print(escape(text), soft_wrap=True, highlight=False)  # noqa: E731
    say(f"evidence verified: {found.vendor}'s complete record in log {cp.origin} at size {cp.size}")
    names = ", ".join(sorted(c.witness.name for c in found.cosignatures)) or "none required"
    say(f"  cosigned by {len(found.cosignatures)} trusted witness(es): {names}")
    for b in found.bundles:
        r = b.result
        state = "countersigned" if r.countersigned and not r.self_evaluation else "not countersigned"
        say(f"  bundle {r.evaluator} -> {r.evaluated}/{r.deployment}, protocol {b.protocol_id[:12]}… round "
            f"{r.round.get('number')}: {r.stubs} stubs, {r.public_verified} public disclosures checked, {state}, "
            f"{r.revealed} revealed (log entries {', '.join(map(str, b.indices))})")
    for d in found.declined:
        say(f"  declined protocol {d.protocol.id[:12]}… round {d.protocol.round.number} (log entry {d.index}): "
            f"{d.reason!r}")
    if not found.bundles and not found.declined:
        say(f"  the log holds no bundle about {found.vendor} and no decline by it")
