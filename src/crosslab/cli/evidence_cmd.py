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
    from crosslab.evidence import EvidenceError, verify_package
    from crosslab.evidence.format import MAX_PACKAGE_BYTES

    trust = _trusted(log_key, witness_key, min_witnesses)
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


# -- render and compare (a summary page, two vendors side by side): verified first, always ------------------------
def _trusted(log_key: str, witness_key: list[str] | None, min_witnesses: int | None):  # noqa: ANN202 - a Trust
    """The reader's trust from the command line; a usage error (exit 2) when a key is malformed or K unreachable."""
    from crosslab.evidence import Trust
    from crosslab.transparency import NoteError

    try:
        trust = Trust.parse(log_key, witness_key or [], min_witnesses)
    except NoteError as exc:
        fail(f"--log-key/--witness-key: {exc}")
    distinct = len({(w.name, w.key_id) for w in trust.witnesses})
    if trust.min_witnesses > distinct:
        fail(f"--min-witnesses {trust.min_witnesses}: only {distinct} witness key(s) given, so it can never be met")
    return trust


def _verified(package: Path, trust):  # noqa: ANN001, ANN202 - a Trust in, a VerifiedEvidence out
    """The package, verified offline; one line and exit 1 when it does not verify (nothing is rendered then)."""
    from crosslab.evidence import EvidenceError, verify_package
    from crosslab.evidence.format import MAX_PACKAGE_BYTES

    data = _read_package(package, MAX_PACKAGE_BYTES)
    try:
        return verify_package(data, trust)
    except EvidenceError as exc:
        fail(f"{package}: verification failed, nothing rendered: {exc}", code=1)
    except Exception as exc:  # noqa: BLE001 - fail closed with one line, whatever the file did
        fail(f"{package}: verification failed, nothing rendered: could not be checked ({type(exc).__name__})", code=1)


def _write_page(out: Path, html: str) -> None:
    from crosslab.core.atomic import write_atomically

    if out.exists() and out.is_dir():
        fail(f"{out}: is a directory")
    try:
        write_atomically(out, html.encode())
    except OSError as exc:
        fail(f"{out}: cannot be written ({exc.strerror})", code=1)


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@app.command("render")
def render_cmd(
    package: Annotated[Path, typer.Argument(help="The evidence package file.")],
    out: Annotated[Path, Opt(help="The HTML page to write (replaced atomically).")],
    log_key: Annotated[str, Opt(help="The log's verifier key (<name>+<id>+<key>), as its operator publishes it.")],
    witness_key: Annotated[list[str] | None, Opt(help="A witness verifier key you trust (repeat for several).")] = None,
    min_witnesses: Annotated[int | None, Opt(min=0, help="Cosignatures required from the trusted witnesses "
                                             "(default: all of them).")] = None,
    json_out: Annotated[Path | None, Opt("--json", help="Also write the data the page shows, as JSON.")] = None,
) -> None:
    """Verify a package offline, then write its one-page HTML summary for procurement (never for an unverified one)."""
    import orjson

    from crosslab.evidence import EvidenceError
    from crosslab.evidence.summary import build_summary, render_summary_html

    found = _verified(package, _trusted(log_key, witness_key, min_witnesses))
    try:
        summary = build_summary(found, _now())
    except EvidenceError as exc:
        fail(str(exc), code=1)
    _write_page(out, render_summary_html(summary))
    if json_out is not None:
        _write_page(json_out, orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")
    covered = sum(q["covered"] for q in summary["questions"])
    console.print(escape(f"summary of {found.vendor}: {len(summary['findings'])} finding(s), "
                         f"{len(summary['rounds'])} round(s), {len(summary['declines'])} decline(s), "
                         f"{covered} of {len(summary['questions'])} buyer questions covered -> {out}"),
                  soft_wrap=True, highlight=False)


@app.command("compare")
def compare_cmd(
    package_a: Annotated[Path, typer.Argument(help="Vendor A's evidence package.")],
    package_b: Annotated[Path, typer.Argument(help="Vendor B's evidence package.")],
    log_key: Annotated[str, Opt(help="The log's verifier key (<name>+<id>+<key>), as its operator publishes it.")],
    witness_key: Annotated[list[str] | None, Opt(help="A witness verifier key you trust (repeat for several).")] = None,
    min_witnesses: Annotated[int | None, Opt(min=0, help="Cosignatures required from the trusted witnesses "
                                             "(default: all of them).")] = None,
    out: Annotated[Path | None, Opt(help="Also write the comparison as one HTML page.")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print the comparison as JSON instead of lines.")] = False,
) -> None:
    """Verify two packages offline, then put the vendors side by side: paired only on the same protocol and items."""
    import orjson

    from crosslab.evidence.compare import compare_evidence, render_comparison_html
    from crosslab.report.render import pct, signed

    trust = _trusted(log_key, witness_key, min_witnesses)
    a, b = _verified(package_a, trust), _verified(package_b, trust)
    data = compare_evidence(a, b, generated_at=_now())
    if out is not None:
        _write_page(out, render_comparison_html(data))
    if as_json:
        typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
        return
    say = lambda text: console.print(escape(text), soft_wrap=True, highlight=False)  # noqa: E731
    say(f"{a.vendor} vs {b.vendor}: {len(data['compared'])} categor(ies) compared, "
        f"{len(data['not_compared'])} not compared")
    for r in data["categories"]:
        fa, fb = (pct(f["pass_rate"]) if f else "—" for f in (r["a"], r["b"]))
        if r["compared"]:
            o = r["paired"]["overall"]
            diff = signed(o["difference"]["estimate"]) if o["difference"] else "—"
            say(f"  {r['category']}: {fa} vs {fb}, difference {diff} over {o['n_pairs']} pairs: {o['verdict']}")
        else:
            say(f"  {r['category']}: {fa} vs {fb}, not compared: {r['reason']}")
