"""`crosslab run`: run a suite or an items file against one target."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from crosslab.cli.executor import ray_options
from crosslab.cli.common import console, err_console, fail
from crosslab.cli.metric_table import print_suite_metrics
from crosslab.cli.plain_progress import PlainProgress
from crosslab.core.errors import CrosslabError
from crosslab.engine.cache import ResponseCache, default_cache_dir
from crosslab.engine.caller import SampleError
from crosslab.engine.breaker import CircuitOpen
from crosslab.engine.journal import Journal, JournalError
from crosslab.engine.pacers import pacer_for
from crosslab.run.session import (
    RunConfig,
    config_from_journal,
    create_journal,
    execute_run,
    preflight,
)
from crosslab.results.costs import load_prices
from crosslab.results.outcomes import outcomes_from_journal, suite_metrics
from crosslab.results.summary import RunSummary, summarize
from crosslab.items.loader import ItemsError, load_items_file
from crosslab.suites.registry import all_environments, get_suite
from crosslab.targets.base import TargetError
from crosslab.targets.deployment import DeploymentError
from crosslab.targets.registry import CredentialsError, create_target, parse_target

Opt = typer.Option


def run(
    suite: Annotated[str | None, Opt("--suite", "-s", help="Suite name (e.g. smoke).")] = None,
    items: Annotated[Path | None, Opt("--items", help="JSONL items file: {\"id\", \"input\", \"target\"?} per line.")] = None,
    target: Annotated[str | None, Opt("--target", "-t", help="provider:model or a target YAML file.")] = None,
    base_url: Annotated[str | None, Opt(help="API base URL (OpenAI-compatible servers, proxies).")] = None,
    system_prefix: Annotated[str | None, Opt(help="Deployment system prompt prefix.")] = None,
    temperature: Annotated[float | None, Opt(help="Sampling temperature (default 0).")] = None,
    max_tokens: Annotated[int | None, Opt(help="Max output tokens per call (default 512).")] = None,
    seed: Annotated[int | None, Opt(help="Sampling seed where the provider supports one.")] = None,
    concurrency: Annotated[int | None, Opt("--concurrency", "-c", help="Max calls in flight.")] = None,
    rpm: Annotated[float | None, Opt(help="Requests-per-minute limit.")] = None,
    tpm: Annotated[float | None, Opt(help="Tokens-per-minute limit.")] = None,
    timeout: Annotated[float | None, Opt(help="Seconds before a call times out (default 120).")] = None,
    max_retries: Annotated[int | None, Opt(help="Retries per call on 429/5xx/timeouts (default 6).")] = None,
    epochs: Annotated[int, Opt("--epochs", "-e", min=1, help="Repeats of every item.")] = 1,
    no_cache: Annotated[bool, Opt("--no-cache", help="Don't read or write the response cache.")] = False,
    cache_dir: Annotated[Path | None, Opt(help="Response cache directory (default ~/.cache/crosslab).")] = None,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress bar (for CI).")] = False,
    resume: Annotated[str | None, Opt(help="Run id (under --out) or run directory to resume.")] = None,
    out: Annotated[Path, Opt(help="Directory that holds run directories.")] = Path("runs"),
    prices: Annotated[Path | None, Opt(help="YAML price overrides (USD per million tokens).")] = None,
    limit: Annotated[int | None, Opt(min=1, help="Only the first N items.")] = None,
    no_preflight: Annotated[bool, Opt("--no-preflight", help="Skip the one-call reachability check.")] = False,
    judge: Annotated[str | None, Opt("--judge", help="Judge model grading beside the rules: provider:model or "
                                     "a target YAML file (docs/graders/judges.md).")] = None,
    judge_base_url: Annotated[str | None, Opt("--judge-base-url", help="Judge API base URL (an OpenAI-"
                                              "compatible llama.cpp or vLLM server).")] = None,
    judge_mode: Annotated[str, Opt("--judge-mode", help="both (judge decides, disagreements flagged), judge, "
                                   "or judge_when_unsure.")] = "both",
    judge_max_tokens: Annotated[int, Opt("--judge-max-tokens", min=1, help="Max judge output tokens.")] = 512,
    attack: Annotated[str | None, Opt("--attack", help="Adaptive attack on the harmful behaviours: pair, tap or "
                                      "crescendo (needs --attacker and --judge; docs/attacks.md).")] = None,
    attacker: Annotated[str | None, Opt("--attacker", help="Attacker model for --attack: provider:model or a "
                                        "target YAML file.")] = None,
    attacker_base_url: Annotated[str | None, Opt("--attacker-base-url", help="Attacker API base URL.")] = None,
    attack_param: Annotated[list[str] | None, Opt("--attack-param", help="KEY=VALUE for --attack: a parameter "
                                                  "(streams=3), seed=N or budget.target|attacker|judge=N.")] = None,
    executor: Annotated[str, Opt("--executor", help="local (this process) or ray (shards on Ray workers, one "
                                 "shared rate limit; docs/scale-out.md).")] = "local",
    ray_address: Annotated[str | None, Opt("--ray-address", help="A Ray cluster to join (default: start a "
                                           "local one).")] = None,
    workers: Annotated[int, Opt("--workers", min=1, help="Ray workers (a local cluster gets one CPU each).")] = 2,
) -> None:
    """Run a suite or items file against a target; journal, grade and summarise it."""
    limits = {"concurrency": concurrency, "requests_per_minute": rpm, "tokens_per_minute": tpm,
              "timeout_s": timeout, "max_retries": max_retries}
    ray = ray_options(executor, ray_address, workers)
    attack_run = _attack_resume_dir(resume, out)
    if attack is not None or attack_run is not None:
        _attack(attack, attack_run, suite=suite, items=items, limit=limit, out=out, quiet=quiet,
                params=attack_param or [], no_cache=no_cache, cache_dir=cache_dir, prices=prices,
                check_first=not no_preflight, concurrency=concurrency or 1,
                specs={"target": target, "attacker": attacker, "judge": judge},
                settings={"target": {"base_url": base_url, "system_prefix": system_prefix, "temperature": temperature,
                                     "max_tokens": max_tokens, "seed": seed, **limits},
                          "attacker": {"base_url": attacker_base_url, **limits},
                          "judge": {"base_url": judge_base_url, "temperature": 0.0,
                                    "max_tokens": judge_max_tokens, **limits}})
        return
    if attacker or attacker_base_url or attack_param:
        fail("--attacker, --attacker-base-url and --attack-param need --attack pair|tap|crescendo")
    if resume:
        if judge or judge_base_url:
            fail("--resume grades with the run's own judge (if any); drop --judge")
        config, journal = _resume_config(resume, out, suite, items, target, limits)
    else:
        config = _new_config(suite, items, target, limit, epochs, limits,
                             {"base_url": base_url, "system_prefix": system_prefix,
                              "temperature": temperature, "max_tokens": max_tokens, "seed": seed})
        config = _with_judge(config, judge, judge_base_url, judge_mode, judge_max_tokens)
        journal = None
    try:
        price_table = load_prices(prices)
    except (OSError, ValueError) as exc:
        fail(f"cannot load prices: {exc}")
    try:
        model = create_target(config.deployment)
        judge_model = create_target(config.judge.deployment) if config.judge is not None else None
    except (CredentialsError, TargetError) as exc:
        fail(str(exc))
    cache = None if no_cache else ResponseCache(cache_dir or default_cache_dir())
    environments = all_environments()
    if "suite" in config.source:
        environments.update(get_suite(config.source["suite"]).environments)
    started = time.perf_counter()
    opened: list[Journal] = [journal] if journal else []
    try:
        journal, summary = asyncio.run(_session(config, model, opened, out, cache, environments,
                                                quiet=quiet, check_first=not no_preflight, judge=judge_model,
                                                ray=ray))
    except SampleError as exc:
        fail(f"{config.deployment.label} did not answer a test call ({exc.kind}): {exc}", code=1)
    except CircuitOpen as exc:
        fail(f"{config.deployment.label}: {exc}. Finished samples are saved; when it is back, resume with: "
             f"crosslab run --resume {opened[0].path.parent}", code=1)
    except KeyboardInterrupt:
        if opened:
            err_console.print("interrupted; finished samples are saved. Resume with: "
                              f"crosslab run --resume {opened[0].path.parent}", soft_wrap=True)
        raise typer.Exit(130) from None
    run_dir = journal.path.parent
    elapsed = time.perf_counter() - started
    try:  # a re-grade can invalidate a human adjudication of this run (ReviewError): say so in one line
        result = summarize(journal, config.deployment.label, price_table)
        extra_metrics = suite_metrics(outcomes_from_journal(journal))
    except CrosslabError as exc:
        journal.close()
        fail(f"{run_dir}: {exc}", code=1)
    judge_summary = journal.meta().get("judge_summary") if config.judge is not None else None
    journal.set_meta("finished_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    journal.close()
    print_suite_metrics(console, extra_metrics)
    _print_summary(config, result, summary.skipped, elapsed, run_dir)
    if judge_summary is not None:
        _print_judge(judge_summary, price_table)
    if result.total.errors:
        err_console.print(f"{result.total.errors} samples ended in an error and are counted as errors; to retry "
                          f"them: crosslab run --resume {run_dir}", soft_wrap=True, highlight=False)
        raise typer.Exit(1)


def _attack_resume_dir(resume: str | None, out: Path) -> Path | None:
    """The run directory to resume when it holds an attack run (crosslab.run.attack), else None."""
    from crosslab.run.attack import is_attack_run

    if not resume:
        return None
    run_dir = Path(resume) if Path(resume).is_dir() else out / resume
    return run_dir if is_attack_run(run_dir) else None


def _attack(attack: str | None, run_dir: Path | None, *, suite: str | None, items: Path | None, limit: int | None,
            out: Path, quiet: bool, params: list[str], no_cache: bool, cache_dir: Path | None, prices: Path | None,
            check_first: bool, concurrency: int, specs: dict[str, str | None],
            settings: dict[str, dict[str, Any]]) -> None:
    """An adaptive attack (cli/run_attack.py): a new one from the options, or --resume of an attack run."""
    from crosslab.cli import run_attack as cmd

    if run_dir is not None:
        given = [f"--{k}" for k, v in (("attack", attack), ("suite", suite), ("items", items), ("target", specs["target"]),
                                       ("attacker", specs["attacker"]), ("judge", specs["judge"])) if v] + \
            (["--attack-param"] if params else [])
        if given:
            fail(f"--resume continues the attack run with its own spec, roles and behaviours; drop {', '.join(given)}")
        config = cmd.resume_config(run_dir)
    else:
        assert attack is not None
        config = cmd.new_config(attack, params, suite, items, limit, specs, settings)
    try:
        price_table = load_prices(prices)
    except (OSError, ValueError) as exc:
        fail(f"cannot load prices: {exc}")
    cache = None if no_cache else ResponseCache(cache_dir or default_cache_dir())
    cmd.run_attack_command(config, run_dir, out, cache=cache, prices=price_table, concurrency=concurrency,
                           quiet=quiet, check_first=check_first)


def _new_config(suite: str | None, items_path: Path | None, target: str | None, limit: int | None,
                epochs: int, limits: dict[str, Any], settings: dict[str, Any]) -> RunConfig:
    if (suite is None) == (items_path is None):
        fail("give exactly one of --suite NAME or --items FILE.jsonl")
    if target is None:
        fail("--target is required (e.g. --target local:smollm2; see `crosslab targets`)")
    try:
        deployment = parse_target(target, {**settings, **limits})
    except DeploymentError as exc:
        fail(str(exc))
    try:
        if suite is not None:
            loaded = get_suite(suite).items()
            source: dict[str, Any] = {"suite": suite}
        else:
            loaded = load_items_file(items_path)
            source = {"items_file": str(items_path)}
    except ItemsError as exc:
        fail(str(exc))
    if limit is not None:
        loaded = loaded[:limit]
    return RunConfig(deployment, loaded, source, epochs)


def _with_judge(config: RunConfig, spec: str | None, base_url: str | None, mode: str,
                max_tokens: int) -> RunConfig:
    """The run's config with its judge (temperature 0), or unchanged without --judge."""
    from dataclasses import replace

    from crosslab.run.judged import JudgeConfig

    if spec is None:
        if base_url:
            fail("--judge-base-url needs --judge")
        return config
    try:
        deployment = parse_target(spec, {"base_url": base_url, "temperature": 0.0, "max_tokens": max_tokens})
        return replace(config, judge=JudgeConfig(deployment, mode))  # type: ignore[arg-type]
    except DeploymentError as exc:
        fail(f"--judge: {exc}")


def _resume_config(resume: str, out: Path, suite: str | None, items: Path | None, target: str | None,
                   limits: dict[str, Any]) -> tuple[RunConfig, Journal]:
    if suite or items or target:
        fail("--resume continues a run with its own target and items; drop --suite/--items/--target")
    run_dir = Path(resume) if Path(resume).is_dir() else out / resume
    try:
        journal = Journal.open(run_dir)
        config = config_from_journal(journal, {k: v for k, v in limits.items() if v is not None})
    except (JournalError, ValueError) as exc:
        fail(f"cannot resume {resume}: {exc}")
    return config, journal


async def _session(config: RunConfig, model: Any, opened: list[Journal], out: Path,
                   cache: ResponseCache | None, environments: dict[str, Any], *, quiet: bool,
                   check_first: bool, judge: Any = None, ray: Any = None) -> tuple[Journal, Any]:
    """Preflight, then journal and execute, all on one event loop (HTTP sessions bind to it).

    ``opened`` holds the journal (given, or created after the preflight) so an
    interrupted caller can say where to resume.
    """
    try:
        if check_first:
            await preflight(model)  # raises SampleError before any journal exists
            if judge is not None:
                await preflight(judge)
        if not opened:
            opened.append(create_journal(out, config))
        journal = opened[0]
        return journal, await _execute_with_progress(config, model, journal, cache, environments, quiet, judge,
                                                     ray)
    finally:
        await model.aclose()
        if judge is not None:
            await judge.aclose()


async def _execute_with_progress(config: RunConfig, model: Any, journal: Journal, cache: ResponseCache | None,
                                 environments: dict[str, Any], quiet: bool, judge: Any = None,
                                 ray: Any = None) -> Any:
    total = len(config.items) * config.epochs
    if quiet:
        return await execute_run(config, model, journal, cache=cache, environments=environments, judge=judge,
                                 ray=ray)
    if not err_console.is_terminal:  # CI, nohup: plain lines now and then instead of a bar nobody sees
        ticker = PlainProgress(config.deployment.label, total, done=len(journal.completed_ids()))
        return await execute_run(config, model, journal, cache=cache, environments=environments,
                                 on_record=ticker.record, judge=judge, ray=ray)
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TextColumn("[red]{task.fields[errors]} errors"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err_console,
    )
    with progress:
        task = progress.add_task(config.deployment.label, total=total, rate="", errors=0)
        done_before = len(journal.completed_ids())
        progress.update(task, completed=done_before)
        counts = {"errors": 0, "n": 0}
        started = time.perf_counter()
        pacer = pacer_for(model)  # the account's pacer, shared with the engine's caller

        def on_record(record: dict[str, Any]) -> None:
            counts["n"] += 1
            counts["errors"] += record["status"] == "error"
            rate = counts["n"] / max(1e-9, time.perf_counter() - started)
            progress.update(task, advance=1, errors=counts["errors"], rate=f"{rate:.1f}/s{_pace_text(pacer)}")

        return await execute_run(config, model, journal, cache=cache, environments=environments,
                                 on_record=on_record, judge=judge, ray=ray)


def _print_judge(s: dict[str, Any], prices: Any) -> None:
    """One line: what the judge decided, what it could not, and what it cost."""
    from crosslab.results.costs import cost_usd

    cost = cost_usd(s["judge"], s["tokens_in"], s["tokens_out"], prices)
    calls = s["calls"]
    failed = f" ({s['failed']} failed calls)" if s["failed"] else ""
    spent = "no price known" if cost is None else f"${cost:.4f}"
    console.print(f"judge {s['judge']} ({s['mode']}): {s['asked']} samples asked, {s['decided']} decided, "
                  f"{s['disagreements']} disagree with the rules, {s['unscored']} unscored{failed} · "
                  f"calls {calls.get('sent', 0)} sent, {calls.get('cached', 0)} cached, "
                  f"{calls.get('resumed', 0)} from the judge journal · tokens in {s['tokens_in']:,} "
                  f"out {s['tokens_out']:,} · cost {spent}", markup=False, highlight=False, soft_wrap=True)


def _pace_text(pacer: Any) -> str:
    """The pace calls start at, and the share refused with 429, for the progress bar."""
    if not pacer.sent:
        return ""
    return f" · pace {pacer.pace():.0f}/s · {pacer.refused / pacer.sent:.1%} refused"


def _fmt_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


def _print_summary(config: RunConfig, result: RunSummary, skipped: int, elapsed: float, run_dir: Path) -> None:
    table = Table(title=f"{config.deployment.label} · {config.deployment.digest[:12]}")
    for col in ("category", "slice", "samples", "errors", "graded", "passed", "pass rate"):
        table.add_column(col, justify="left" if col in ("category", "slice") else "right")
    for row in [*result.rows, result.total]:
        table.add_row(row.category, row.slice or "", str(row.samples), str(row.errors), str(row.graded),
                      str(row.passed), _fmt_rate(row.pass_rate))
    console.print(table)
    cost = "n/a (no price)" if result.cost_usd is None else f"${result.cost_usd:.4f}"
    console.print(f"calls {result.calls} ({result.cached_calls} cached) · tokens in {result.input_tokens} "
                  f"out {result.output_tokens} · cost {cost} · {elapsed:.1f}s"
                  + (f" · resumed, {skipped} already done" if skipped else ""), soft_wrap=True)
    if result.error_kinds:
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(result.error_kinds.items()))
        console.print(f"[red]errors by kind: {kinds}[/]", soft_wrap=True)
    pacing = result.pacing
    if pacing and pacing.get("sent"):
        caps = ", ".join(f"--{k} {pacing[k]:g}" for k in ("rpm", "tpm") if pacing.get(k))
        console.print(f"API calls: {pacing['sent']} requests, {pacing['refused']} refused with 429 "
                      f"({pacing['refused_share']:.1%}) · pace {pacing['pace_per_s'] or 0:.1f}/s"
                      + (f" · within {caps}" if caps else ""), soft_wrap=True, highlight=False)
    console.print(f"journal: {run_dir / 'journal.sqlite'}", soft_wrap=True, highlight=False)

