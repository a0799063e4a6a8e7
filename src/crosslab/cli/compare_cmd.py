"""`crosslab compare` (two runs, paired) and `crosslab plan` (how many rollouts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from crosslab.cli.common import console, fail
from crosslab.engine.journal import Journal, JournalError

# numpy/scipy load inside the commands, so `crosslab run` doesn't pay for them at start-up

Opt = typer.Option


def _run_dir(run: str, out: Path) -> Path:
    return Path(run) if Path(run).is_dir() else out / run


def _open(run: str, out: Path) -> Journal:
    try:
        return Journal.open(_run_dir(run, out))
    except JournalError as exc:
        fail(f"cannot read run {run}: {exc}")


def compare(
    run_a: Annotated[str, typer.Argument(help="Run id (under --out) or run directory: A.")],
    run_b: Annotated[str, typer.Argument(help="Run id or directory: B (e.g. the previous generation).")],
    out: Annotated[Path, Opt(help="Directory that holds run directories.")] = Path("runs"),
    alpha: Annotated[float, Opt(min=0.0001, max=0.5, help="Significance level for verdicts.")] = 0.05,
    correction: Annotated[str, Opt(help="Multiplicity correction across rows: holm or bh.")] = "holm",
    min_effect: Annotated[float, Opt(min=0.0, help="Smallest difference worth calling better/worse.")] = 0.0,
    grader: Annotated[str | None, Opt(help="Which verdict to compare when samples have several.")] = None,
    resamples: Annotated[int, Opt(min=100, help="Bootstrap resamples.")] = 10_000,
    seed: Annotated[int, Opt(help="Bootstrap seed.")] = 0,
    as_json: Annotated[bool, Opt("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Compare two runs of the same items, per category and slice, with paired statistics.

    Two adaptive-attack runs (`crosslab run --attack`) of the same spec, attacker
    and judge compare their targets' ASR at budget, paired by behaviour.
    """
    from crosslab.results.compare import compare_runs, load_outcomes
    from crosslab.run.attack import is_attack_run

    if correction not in ("holm", "bh"):
        fail(f"--correction must be holm or bh, not {correction!r}")
    attack_runs = [is_attack_run(_run_dir(r, out)) for r in (run_a, run_b)]
    if any(attack_runs):
        if not all(attack_runs):
            fail("an adaptive-attack run compares only with another attack run "
                 f"({run_a if attack_runs[0] else run_b} is one, the other is a suite run)")
        _compare_attacks(_run_dir(run_a, out), _run_dir(run_b, out), alpha, correction, as_json)
        return
    try:
        a = load_outcomes(_open(run_a, out), grader)
        b = load_outcomes(_open(run_b, out), grader)
    except ValueError as exc:
        fail(str(exc))
    if not a.scores or not b.scores:
        fail("nothing to compare: one of the runs has no graded samples")
    result = compare_runs(a, b, alpha=alpha, correction=correction, min_effect=min_effect,  # type: ignore[arg-type]
                          resamples=resamples, seed=seed)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
        return
    _print(result)


def _compare_attacks(dir_a: Path, dir_b: Path, alpha: float, correction: str, as_json: bool) -> None:
    from crosslab.results.attack_compare import NotComparable, compare_attacks, load_attack
    from crosslab.run.attack import ATTACK_DIR

    runs = []
    for run_dir in (dir_a, dir_b):
        try:
            runs.append(load_attack(run_dir / ATTACK_DIR))
        except JournalError as exc:
            fail(f"cannot read attack run {run_dir}: {exc}")
    a, b = runs
    if not a.success or not b.success:
        fail("nothing to compare: one of the attack runs has no finished behaviour")
    try:
        result = compare_attacks(a, b, alpha=alpha, correction=correction)  # type: ignore[arg-type]
    except NotComparable as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
        return
    table = Table(title=f"A = {a.target} ({a.target_digest[:12]})  vs  B = {b.target} ({b.target_digest[:12]}): "
                        "ASR at budget, lower is more robust")
    for col in ("harm", "pairs", "A", "B", "A − B", "p", "adj. p", "verdict"):
        table.add_column(col, justify="left" if col in ("harm", "verdict") else "right")
    for row in result.rows:
        table.add_row(row.harm, str(row.n_pairs), _fmt(row.a), _fmt(row.b), *_fmt_difference(row.difference),
                      "-" if row.p_adjusted is None else f"{row.p_adjusted:.3g}", row.verdict)
    console.print(table)
    q = result.queries
    if q["behaviours"]:
        console.print(f"target queries to first success, on the {q['behaviours']} behaviours both gave way on: "
                      f"median A {q['a']['median']}, B {q['b']['median']}", soft_wrap=True)
    secondary = sum(r.difference is not None for r in result.rows[1:])
    console.print("held fixed: attack spec " + a.fixed["attack spec"][:12] + ", attacker, judge and prompts · "
                  "the overall row is the primary test"
                  + (f"; harm rows adjusted among themselves ({'Holm' if correction == 'holm' else 'Benjamini–Hochberg'}"
                     f", {secondary} rows)" if secondary else "") + f" · alpha {alpha:g}",
                  soft_wrap=True, highlight=False)
    notes = []
    if a.errors or b.errors:
        notes.append(f"behaviours whose attack ended in an error, left out: A {a.errors}, B {b.errors}")
    if result.unpaired:
        notes.append(f"{result.unpaired} behaviours were attacked in only one run and are not paired")
    for note in notes:
        console.print(f"[yellow]{note}[/]", soft_wrap=True)


def _fmt_difference(d: Any) -> tuple[str, str]:
    """The table's "A − B" and "p" cells for a paired difference (or dashes without one)."""
    if d is None:
        return "-", "-"
    return f"{d.estimate:+.1%} [{d.low:+.1%}, {d.high:+.1%}]", f"{d.p_value:.3g}"


def _fmt(iv: Any, rare: Any = None) -> str:
    if rare is not None:  # few events: the exact upper bound says more than a two-sided interval
        return str(rare)
    return "-" if iv is None else f"{iv.estimate:.1%} [{iv.low:.1%}, {iv.high:.1%}]"


def _print(result: Any) -> None:
    from crosslab.results.compare import ALL

    table = Table(title=f"A = {result.a.label} ({result.a.digest[:12]})  vs  B = {result.b.label} "
                        f"({result.b.digest[:12]})")
    for col in ("category", "slice", "pairs", "A", "B", "A − B", "p", "adj. p", "verdict"):
        table.add_column(col, justify="left" if col in ("category", "slice", "verdict") else "right")
    methods: set[str] = set()
    for row in result.rows:
        d = row.difference
        for iv in (row.a, row.b, d):
            if iv is not None:
                methods.add(iv.method)
        colour = {"better": "green", "worse": "red"}.get(row.verdict, "")
        table.add_row(
            row.category, "" if row.slice == ALL else row.slice, str(row.n_pairs), _fmt(row.a, row.rare_a), _fmt(row.b, row.rare_b),
            *_fmt_difference(d),
            "-" if row.p_adjusted is None else f"{row.p_adjusted:.3g}",
            f"[{colour}]{row.verdict}[/]" if colour else row.verdict,
        )
    console.print(table)
    name = {"holm": "Holm", "bh": "Benjamini–Hochberg"}[result.correction]
    console.print(f"metric: pass rate · {result.rows[0].a.level if result.rows and result.rows[0].a else 0.95:.0%} "
                  f"intervals · p adjusted across {sum(r.difference is not None for r in result.rows)} rows "
                  f"({name}) · alpha {result.alpha:g}"
                  + (f" · minimum effect {result.min_effect:.1%}" if result.min_effect else ""), soft_wrap=True)
    console.print("methods: " + "; ".join(sorted(methods)), soft_wrap=True, highlight=False)
    notes = []
    if result.a.errors or result.b.errors:
        notes.append(f"error samples left out: A {result.a.errors}, B {result.b.errors}")
    if result.unpaired:
        notes.append(f"{result.unpaired} graded samples have no partner in the other run and are not paired")
    for note in notes:
        console.print(f"[yellow]{note}[/]", soft_wrap=True)


def plan(
    rate: Annotated[float | None, Opt(min=1e-9, max=1.0, help="Rate of a rare behaviour to observe at least once.")] = None,
    power: Annotated[float, Opt(min=0.01, max=0.9999, help="Probability of detecting it.")] = 0.8,
    rate_a: Annotated[float | None, Opt(min=0.0, max=1.0, help="Expected rate for A (difference planning).")] = None,
    rate_b: Annotated[float | None, Opt(min=0.0, max=1.0, help="Expected rate for B (difference planning).")] = None,
    alpha: Annotated[float, Opt(min=0.0001, max=0.5, help="Two-sided significance level.")] = 0.05,
    rollouts: Annotated[int | None, Opt(min=1, help="Rollouts you can afford: the rate that 0 events would rule out.")] = None,
) -> None:
    """Power planning for a protocol: how many rollouts a claim needs."""
    from crosslab.stats.power import (
        detectable_rate_upper_bound,
        rollouts_to_observe,
        samples_to_detect_difference,
    )

    said = False
    if rate is not None:
        n = rollouts_to_observe(rate, power)
        console.print(f"to see a behaviour with rate {rate:.3%} at least once with probability {power:.0%}: "
                      f"[bold]{n}[/] rollouts", soft_wrap=True)
        said = True
    if rate_a is not None or rate_b is not None:
        if rate_a is None or rate_b is None or rate_a == rate_b:
            fail("give two different rates: --rate-a and --rate-b")
        n = samples_to_detect_difference(rate_a, rate_b, alpha=alpha, power=power)
        console.print(f"to detect {rate_a:.1%} vs {rate_b:.1%} (two-sided alpha {alpha:g}, power {power:.0%}): "
                      f"[bold]{n}[/] samples per target", soft_wrap=True)
        said = True
    if rollouts is not None:
        bound = detectable_rate_upper_bound(rollouts)
        console.print(f"with {rollouts} rollouts and no event seen, the rate is ≤ {bound:.2%} (95 %)", soft_wrap=True)
        said = True
    if not said:
        fail("give --rate, --rate-a and --rate-b, or --rollouts")
