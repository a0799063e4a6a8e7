"""`crosslab round plan|run`: the directions of a round, and running this lab's share of them."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from crosslab.cli.common import console, fail
from crosslab.cli.progress import DirectionProgress
from crosslab.core.errors import CrosslabError

app = typer.Typer(help="Rounds: who evaluates whom, and running your share.", no_args_is_help=True)
ProtocolFile = Annotated[Path, typer.Argument(help="The protocol YAML (signatures beside it).")]


def _load(path: Path) -> tuple[Any, dict | None]:
    from crosslab.protocol.schema import load_protocol
    from crosslab.protocol.signing import envelope_path, read_envelope

    try:
        return load_protocol(path), read_envelope(envelope_path(path))
    except (CrosslabError, OSError) as exc:
        fail(str(exc))


@app.command()
def plan(protocol_path: ProtocolFile) -> None:
    """List every direction of the round (evaluator → evaluated deployment) with sample counts."""
    from crosslab.suites.pins import pin_mismatches, pinned_items
    from crosslab.protocol.rounds import directions
    from crosslab.round.prompts import confidential_deployments
    from crosslab.round.share import check_ready

    protocol, envelope = _load(protocol_path)
    r = protocol.round
    console.print(f"[bold]{protocol.title}[/] · round {r.number} of {r.date}"
                  + (f" · follows {r.previous[:16]}…" if r.previous else " · first round")
                  + f" · protocol {protocol.id[:16]}…", soft_wrap=True, highlight=False)
    problems = pin_mismatches(protocol)
    sizes = {} if problems else {p.name: len(pinned_items(p)) * p.epochs for p in protocol.suites}
    table = Table(title="Directions")
    for col in ("evaluator", "evaluates", "deployment", *[p.name for p in protocol.suites], "samples"):
        table.add_column(col, justify="right" if col in sizes or col == "samples" else "left")
    share = directions(protocol)
    for d in share:
        table.add_row(d.evaluator, d.evaluated, d.deployment, *[str(sizes.get(p.name, "?")) for p in protocol.suites],
                      str(sum(sizes.values())) if sizes else "?")
    console.print(table)
    console.print(f"{len(share)} directions, {len(share) * sum(sizes.values()) if sizes else '?'} samples in all",
                  soft_wrap=True)
    for commitment, names in confidential_deployments(protocol).items():
        console.print(f"{', '.join(names)}: confidential system prompt (commitment {commitment[:16]}…); its "
                      "evaluators need the lab's sealed prompt (round run --sealed-prompt)", soft_wrap=True,
                      highlight=False)
    try:
        check_ready(protocol, envelope)
        console.print("[green]ready:[/] every participant signed and every suite pin matches", soft_wrap=True)
    except CrosslabError as exc:  # RoundError, VerificationError
        console.print(f"[yellow]not ready:[/] {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from None


@app.command()
def run(
    protocol_path: ProtocolFile,
    lab: Annotated[str, typer.Option("--as", help="Your lab id: runs every direction where you evaluate.")],
    out: Annotated[Path, typer.Option(help="Round directory: runs and bundles go under it.")] = Path("round"),
    only: Annotated[str | None, typer.Option(help="Only this evaluated lab (default: all of your share).")] = None,
    keystore: Annotated[Path | None, typer.Option(help="Keystore directory (default: $CROSSLAB_KEYSTORE).")] = None,
    use_cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse cached model responses (off by "
                                            "default: a round's figures come from calls made for it).")] = False,
    allow_errors: Annotated[bool, typer.Option(help="Write bundles even when samples errored.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    executor: Annotated[str, typer.Option("--executor", help="local, or ray: each direction's samples on Ray "
                                          "workers with one shared rate limit (docs/scale-out.md).")] = "local",
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="A Ray cluster to join.")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Ray workers.")] = 2,
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-c", min=1, help="Calls in flight per "
                                                    "direction (yours to set: not part of the protocol).")] = None,
    rpm: Annotated[float | None, typer.Option(min=0.001, help="Requests-per-minute cap for your API account.")]
    = None,
    tpm: Annotated[float | None, typer.Option(min=0.001, help="Tokens-per-minute cap for your API account.")]
    = None,
    timeout: Annotated[float | None, typer.Option(min=0.1, help="Seconds before a call times out.")] = None,
    sealed_prompt: Annotated[list[Path] | None, typer.Option("--sealed-prompt", help="A confidential system "
                                                             "prompt sealed to you by the lab you evaluate "
                                                             "(`crosslab prompt seal`); repeat for each.")]
    = None,
) -> None:
    """Run your share of the round (resumable) and write one signed bundle per direction."""
    from crosslab.attest.errors import VerificationError
    from crosslab.engine.cache import ResponseCache, default_cache_dir
    from crosslab.engine.caller import SampleError
    from crosslab.identity.keystore import Keystore, default_keystore_dir
    from crosslab.round.prompts import missing_prompts, open_prompts
    from crosslab.round.share import (
        RoundError,
        check_ready,
        run_direction,
        samples_per_direction,
        share_of,
    )

    from crosslab.cli.executor import ray_options

    ray = ray_options(executor, ray_address, workers)
    limits = {k: v for k, v in {"concurrency": concurrency, "requests_per_minute": rpm, "tokens_per_minute": tpm,
                                "timeout_s": timeout}.items() if v is not None}
    protocol, envelope = _load(protocol_path)
    try:
        check_ready(protocol, envelope)
        share = [d for d in share_of(protocol, lab) if only in (None, d.evaluated)]
        if not share:
            raise RoundError(f"{lab} does not evaluate {only!r} in this protocol")
        store = Keystore(keystore or default_keystore_dir())
        key = store.signing_key(lab)
        prompts = open_prompts(protocol, sealed_prompt or [], store.age_identity(lab)) if sealed_prompt else {}
        missing = missing_prompts(protocol, share, prompts)
        if missing:
            raise RoundError(f"{', '.join(missing)} keep{'s' if len(missing) == 1 else ''} the system prompt "
                             "confidential: ask the lab for its sealed prompt (`crosslab prompt seal`) and pass "
                             "it with --sealed-prompt FILE")
    except (CrosslabError, OSError) as exc:
        fail(str(exc), code=1 if isinstance(exc, VerificationError) else 2)
    cache = ResponseCache(default_cache_dir()) if use_cache else None
    per_direction = samples_per_direction(protocol)
    results = []
    with DirectionProgress(quiet) as progress:
        for direction in share:
            progress.start(direction, per_direction)
            try:
                result = asyncio.run(run_direction(protocol, envelope, direction, out, key, cache=cache,
                                                   on_record=progress.record, allow_errors=allow_errors,
                                                   ray=ray, limits=limits, prompts=prompts))
            except SampleError as exc:
                fail(f"{direction}: the deployment did not answer a test call ({exc.kind}): {exc}", code=1)
            except (CrosslabError, OSError, ValueError) as exc:  # ValueError: e.g. malformed JSON in a run to resume
                fail(f"{direction}: {exc}", code=1)
            except sqlite3.DatabaseError as exc:  # a journal damaged while it was in use (open checks it first)
                fail(f"{direction}: a run journal under {out} is damaged ({exc}); move it aside and run again", code=1)
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM (cli/app.py): the journals keep every finished sample
                fail(f"interrupted during {direction}; finished samples are saved. Resume with the same command: "
                     f"crosslab round run {protocol_path} --as {lab} --out {out}"
                     + "".join(f" --sealed-prompt {p}" for p in sealed_prompt or []), code=130)
            progress.finish(direction)
            results.append(result)
    table = Table(title=f"round {protocol.round.number}: {lab}'s share")
    for col in ("direction", "samples", "errors", "resumed", "cached calls", "bundle"):
        table.add_column(col)
    for r in results:
        table.add_row(str(r.direction), str(r.samples), str(r.errors), str(r.skipped), _cached(r),
                      str(r.bundle) if r.bundle else "[red]not written: samples errored; run again to retry[/]")
    console.print(table)
    if any(r.bundle is None for r in results):
        fail("samples errored, so not every bundle was written; run the same command again to retry only "
             "those (finished samples are kept), or add --allow-errors to publish them as errors", code=1)


def _cached(result: object) -> str:
    """Model calls answered from the response cache in this direction's runs ("0" without --cache)."""
    from crosslab.engine.journal import Journal
    from crosslab.results.costs import call_counts

    journals = [Journal.open(run_dir) for run_dir in getattr(result, "runs", {}).values()]
    try:
        counts = call_counts(r for journal in journals for r in journal.records())
    finally:
        for journal in journals:
            journal.close()
    cached = counts["cached_calls"]
    return f"{cached} in {counts['samples_with_cached_calls']} samples" if cached else "0"
