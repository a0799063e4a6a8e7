"""`crosslab demo`: a complete two-lab round, offline, on the embedded model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from crosslab.cli.common import console, fail
from crosslab.cli.progress import DirectionProgress


def demo(
    out: Annotated[Path, typer.Option(help="Demo directory (resumable: run again to continue).")]
    = Path("crosslab-demo"),
    full: Annotated[bool, typer.Option("--full", help="Whole suites instead of the quick profile (much longer).")]
    = False,
    per_suite: Annotated[int | None, typer.Option(min=1, help="At most this many items of each suite: a shorter "
                                                  "look than the quick profile (6-20 per suite).")] = None,
    attack: Annotated[bool | None, typer.Option("--attack/--no-attack", help="Pin an adaptive attack (Crescendo, "
                                                "SmolLM2 in every role) in every direction; default: with --full.")]
    = None,
) -> None:
    """Two labs, keys, a signed protocol, both directions on SmolLM2, bundles, review, verification, reports."""
    from crosslab.demo import run_demo

    if full and per_suite is not None:
        fail("--full and --per-suite: choose one (whole suites, or at most N items of each)")
    from crosslab.engine.caller import SampleError

    started = time.perf_counter()
    progress = DirectionProgress()

    def say(message: str) -> None:
        progress.bars.console.print(f"[cyan]›[/] {message}", highlight=False, soft_wrap=True)

    try:
        with progress:
            result = run_demo(out, full=full, per_suite=per_suite, attack=attack, say=say, on_record=progress.record, on_direction=progress.start)
    except SampleError as exc:
        fail(f"the embedded model did not answer ({exc.kind}): {exc}", code=1)
    except (RuntimeError, ValueError, OSError) as exc:
        fail(str(exc), code=1)
    _summary(result.report_data)
    console.print(f"\nprotocol {result.protocol_id[:16]}… · {len(result.views)} bundles, all verified · "
                  f"{time.perf_counter() - started:.0f} s", soft_wrap=True, highlight=False)
    console.print(f"public joint report: {result.reports['joint']}", soft_wrap=True, highlight=False)
    console.print(f"partner report (Borealis, includes restricted items): {result.reports['partner']}",
                  soft_wrap=True, highlight=False)
    console.print(f"verify it yourself: crosslab verify {result.directions[0].bundle} --keys {out / 'trusted'}",
                  soft_wrap=True, highlight=False)
    console.print(f"published to a local registry; browse it: crosslab registry serve --dir {result.registry}",
                  soft_wrap=True, highlight=False)
    evidence = result.evidence
    if evidence is not None:
        console.print(f"evidence packages, cosigned by {len(evidence.witness_keys)} witnesses at log size "
                      f"{evidence.size}; a buyer verifies each offline:", soft_wrap=True, highlight=False)
        for lab in evidence.packages:
            console.print(f"  {escape(evidence.verify_command(lab))}", soft_wrap=True, highlight=False)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def _summary(report: dict[str, Any]) -> None:
    table = Table(title="Pass rate per category (95% interval) — every figure from this run's model calls")
    table.add_column("direction")
    categories = sorted({r["category"] for b in report["bundles"] for r in b["evaluation_results"]
                         if r["slice"] == "all"}, key=lambda c: (c == "all", c))
    for c in categories:
        table.add_column(c, justify="right")
    for b in report["bundles"]:
        cells = []
        for c in categories:
            r = next((r for r in b["evaluation_results"] if r["category"] == c and r["slice"] == "all"), None)
            ci = r["score_details"]["uncertainty"]["confidence_interval"] if r else None
            cells.append(f"{_pct(r['score_details']['score'])} [{_pct(ci['lower'])}–{_pct(ci['upper'])}]"
                         if r and ci else "—")
        table.add_row(b["direction"], *cells)
    console.print(table)
    comparisons = Table(title="Paired comparisons (A − B, overall; Holm-adjusted p)")
    for col in ("A", "B", "pairs", "A − B", "interval", "adj. p", "verdict"):
        comparisons.add_column(col)
    for c in report["comparisons"]:
        overall = [r for r in c["rows"] if r["slice"] == "all"]  # (all, all), or the only category's row
        r = next((r for r in overall if r["category"] == "all"), overall[0] if overall else None)
        if r is None or r["difference"] is None:
            continue
        comparisons.add_row(c["a"], c["b"], f"{r['n_pairs']} ({r['category']})", f"{r['difference'] * 100:+.1f} pts",
                            f"{r['low'] * 100:+.1f} … {r['high'] * 100:+.1f}",
                            f"{r['p_adjusted']:.3f}" if r["p_adjusted"] is not None else "—", r["verdict"])
    console.print(comparisons)
