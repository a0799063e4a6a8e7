"""`crosslab run --attack pair|tap|crescendo`: an adaptive attack on a suite's harmful behaviours.

Kept beside ``cli/run.py`` (which dispatches here) because an attack run is a
different thing from a suite run: three roles instead of one target, one
result per behaviour instead of per sample, and a summary of ASR at budget
instead of pass rates. Benign twins of the jailbreak suite stay with the
static run; only harmful items become behaviours (``behaviours_from_items``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crosslab.attacks import ASR_MEANING, AttackSpec, BehaviourResult, behaviours_from_items, summarise
from crosslab.attacks.budget import ROLES
from crosslab.cli.common import console, err_console, fail
from crosslab.core.errors import CrosslabError
from crosslab.engine.cache import ResponseCache
from crosslab.engine.caller import SampleError
from crosslab.engine.journal import JournalError
from crosslab.items.loader import ItemsError, load_items_file
from crosslab.results.costs import cost_usd
from crosslab.run.attack import (ATTACK_DIR, AttackRunConfig, create_attack_run, execute_attack, load_attack_run,
                                 preflight_roles, roles_from, spec_from_params)
from crosslab.suites.registry import get_suite
from crosslab.targets.base import Target, TargetError
from crosslab.targets.deployment import Deployment, DeploymentError
from crosslab.targets.registry import CredentialsError, create_target, parse_target


def new_config(attack: str, params: list[str], suite: str | None, items_path: Path | None, limit: int | None,
               specs: dict[str, str | None], settings: dict[str, dict[str, Any]]) -> AttackRunConfig:
    """Validate everything given on the command line; one clear line and exit 2 on the first problem."""
    if (suite is None) == (items_path is None):
        fail("give exactly one of --suite NAME or --items FILE.jsonl")
    try:
        spec = spec_from_params(attack, params)
    except (ValueError, TypeError) as exc:
        fail(f"--attack {attack}: {exc}")
    for role, what in (("target", "the model under attack"), ("attacker", "the model that writes attack prompts"),
                       ("judge", "the model that scores the target's replies")):
        if not specs[role]:
            fail(f"--attack {attack} needs --{role} TARGET ({what}; e.g. --{role} local:smollm2)")
    deployments: dict[str, Deployment] = {}
    for role in ROLES:
        try:
            deployments[role] = parse_target(str(specs[role]), settings[role])
        except DeploymentError as exc:
            fail(f"--{role}: {exc}")
    if deployments["judge"].temperature != 0.0:
        fail(f"--judge: an attack judge runs at temperature 0, not {deployments['judge'].temperature}")
    try:
        if suite is not None:
            items = get_suite(suite).items()
            source: dict[str, Any] = {"suite": suite}
        else:
            items = load_items_file(items_path)
            source = {"items_file": str(items_path)}
        behaviours = behaviours_from_items(items)
    except (ItemsError, ValueError) as exc:
        fail(str(exc))
    if limit is not None:
        behaviours = behaviours[:limit]
    if not behaviours:
        fail(f"{suite or items_path}: no harmful items to attack (adaptive attacks need behaviours)")
    return AttackRunConfig(spec, deployments, behaviours, source)


def resume_config(run_dir: Path) -> AttackRunConfig:
    try:
        return load_attack_run(run_dir)
    except CrosslabError as exc:
        fail(f"cannot resume {run_dir}: {exc}")


def run_attack_command(config: AttackRunConfig, run_dir: Path | None, out: Path, *, cache: ResponseCache | None,
                       prices: dict[str, Any], concurrency: int, quiet: bool, check_first: bool) -> None:
    """Build the roles (one target per distinct deployment), run or resume, print the summary."""
    print_spec(config.spec)
    try:
        targets = _targets(config.deployments)
    except (CredentialsError, TargetError) as exc:
        fail(str(exc))
    started = time.perf_counter()
    holder: list[Path] = [run_dir] if run_dir else []
    try:
        results = asyncio.run(_session(config, targets, holder, out, cache, prices, concurrency, quiet, check_first))
    except SampleError as exc:
        fail(f"a role did not answer a test call ({exc.kind}): {exc}", code=1)
    except (CrosslabError, JournalError) as exc:
        fail(str(exc), code=1)
    except KeyboardInterrupt:
        if holder:
            err_console.print(f"interrupted; finished calls are saved. Resume with: crosslab run --resume "
                              f"{holder[0]}", soft_wrap=True, highlight=False)
        raise typer.Exit(130) from None
    print_summary(results, config, prices, time.perf_counter() - started, holder[0])


def _targets(deployments: dict[str, Deployment]) -> dict[str, Target]:
    made: dict[str, Target] = {}
    by_role = {}
    for role, deployment in deployments.items():
        if deployment.digest not in made:
            made[deployment.digest] = create_target(deployment)
        by_role[role] = made[deployment.digest]
    return by_role


async def _session(config: AttackRunConfig, targets: dict[str, Target], holder: list[Path], out: Path,
                   cache: ResponseCache | None, prices: dict[str, Any], concurrency: int, quiet: bool,
                   check_first: bool) -> list[BehaviourResult]:
    roles = roles_from(targets)
    try:
        if check_first:
            await preflight_roles(roles)  # SampleError before anything is written
        if not holder:
            holder.append(create_attack_run(out, config))
        price = (lambda label, tin, tout: cost_usd(label, tin, tout, prices))  # noqa: E731
        if quiet:
            return await execute_attack(config, holder[0], roles, cache=cache, price=price, concurrency=concurrency)
        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[wins]} successes · [red]{task.fields[errors]} errors"),
                            TimeElapsedColumn(), console=err_console)
        with progress:
            task = progress.add_task(f"{config.spec.attack} on {config.deployments['target'].label}",
                                     total=len(config.behaviours), wins=0, errors=0)
            counts = {"wins": 0, "errors": 0}

            def on_result(result: BehaviourResult) -> None:
                counts["wins"] += result.success
                counts["errors"] += result.status == "error"
                progress.update(task, advance=1, **counts)

            return await execute_attack(config, holder[0], roles, cache=cache, price=price,
                                        concurrency=concurrency, on_result=on_result)
    finally:
        for target in {id(t): t for t in targets.values()}.values():
            await target.aclose()


def print_spec(spec: AttackSpec) -> None:
    """The pinned spec, defaults included, so what ran is never a guess."""
    params = ", ".join(f"{k}={v}" for k, v in spec.to_dict()["params"].items())
    budget = ", ".join(f"{k} {v}" for k, v in spec.budget.to_dict().items())
    console.print(f"attack {spec.attack} ({params}) · budget per behaviour: {budget} · seed {spec.seed} · "
                  f"attacker prompts v{spec.prompts_version} · spec {spec.digest[:12]}",
                  soft_wrap=True, highlight=False, markup=False)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def print_summary(results: list[BehaviourResult], config: AttackRunConfig, prices: dict[str, Any],
                  elapsed: float, run_dir: Path) -> None:
    s = summarise(results)
    line = lambda text: console.print(text, soft_wrap=True, highlight=False, markup=False)  # noqa: E731
    asr = s["asr_at_budget"]
    if asr is None:
        line(f"ASR at budget: no behaviour finished without an error ({s['errors']} errors)")
    else:
        line(f"ASR at budget: {s['successes']}/{s['n']} = {_pct(asr['estimate'])} "
             f"[95% CI {_pct(asr['low'])}, {_pct(asr['high'])}] · {s['errors']} errors (left out)")
    for harm, row in s["by_harm"].items():
        line(f"  {harm}: {row['successes']}/{row['n']} = {_pct(row['asr']['estimate'])} "
             f"[{_pct(row['asr']['low'])}, {_pct(row['asr']['high'])}]")
    parts = []
    for role in ROLES:
        q = s["queries_to_first_success"][role]
        ci = f" [{q['interval'][0]:g}, {q['interval'][1]:g}]" if q["interval"] else ""
        parts.append(f"{role} {'-' if q['median'] is None else format(q['median'], 'g')}{ci}")
    line("queries to first success (median [95% CI]): " + ", ".join(parts))
    for role in ROLES:
        acc = [r.accounting[role] for r in results]
        tin, tout = sum(a["input_tokens"] for a in acc), sum(a["output_tokens"] for a in acc)
        label = config.deployments[role].label
        cost = cost_usd(label, tin, tout, prices)
        total = lambda key: sum(a[key] for a in acc)  # noqa: E731
        line(f"{role} {label}: {total('queries')} queries ({total('sent')} sent, {total('cached')} cached, "
             f"{total('resumed')} resumed, {total('errors')} errors, {total('unscored')} unscored) · tokens in "
             f"{tin:,} out {tout:,} · cost {'no price known' if cost is None else f'${cost:.4f}'}")
    line(ASR_MEANING)
    line(f"{len(results)} behaviours in {elapsed:.1f}s · journal: {run_dir / ATTACK_DIR}")
