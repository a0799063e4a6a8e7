"""`crosslab judge …`: judge rubrics, validating a grader against human labels, and grader cards."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from crosslab.cli.common import console, fail, jsonl_objects
from crosslab.core.errors import CrosslabError

app = typer.Typer(help="Judge models: rubrics, validation against human labels, grader cards.",
                  no_args_is_help=True)
Opt = typer.Option


@app.command("rubrics")
def list_rubrics() -> None:
    """List the built-in judge rubrics: id, version, labels, inputs."""
    from crosslab.grading.judge_rubric import rubrics

    for r in rubrics().values():
        inputs = ", ".join(i.name + ("" if i.required else "?") for i in r.inputs)
        console.print(f"{r.id} v{r.version}  labels: {' | '.join(r.labels)}  inputs: {inputs}  "
                      f"digest {r.digest[:12]}", markup=False, highlight=False, soft_wrap=True)


@app.command("card")
def show_card(path: Annotated[Path, typer.Argument(help="Grader card JSON file.")]) -> None:
    """Check a grader card (strictly, as untrusted input) and print its digest and figures."""
    from crosslab.grading.card import CardError, read_card

    try:
        card = read_card(path)
    except CardError as exc:
        fail(str(exc))
    f = card.figures
    judge = f"{card.judge.label} ({card.judge.digest[:12]})" if card.judge else "none (rules)"
    _echo(f"card {card.digest}")
    _echo(f"grader {card.grader.id} {card.grader.version} · judge {judge} · mode {card.mode} · n {card.n}")
    _echo(f"accuracy {_rate(f.accuracy.estimate, f.accuracy.low, f.accuracy.high)} · "
          f"kappa {_kappa(f.kappa)} · unscored {f.unscored} · created {card.created}")


@app.command("validate")
def validate(
    labels: Annotated[Path, typer.Argument(help="JSONL: the grader's inputs plus the human 'label' on each line.")],
    grader: Annotated[str, Opt("--grader", "-g", help="Grader name: an offline grader, or with --judge a rubric.")],
    judge: Annotated[str | None, Opt("--judge", help="Judge target: provider:model or a target YAML file.")] = None,
    judge_base_url: Annotated[str | None, Opt("--judge-base-url", help="Judge API base URL "
                                              "(an OpenAI-compatible llama.cpp or vLLM server).")] = None,
    mode: Annotated[str | None, Opt("--mode", help="judge (default with --judge), judge_when_unsure, both; "
                                    "rules without --judge.")] = None,
    card: Annotated[Path | None, Opt("--card", help="Write the grader card here (JSON).")] = None,
    journal: Annotated[Path | None, Opt("--journal", help="Judge journal directory: created, or resumed.")] = None,
    max_tokens: Annotated[int, Opt("--judge-max-tokens", min=1, help="Max judge output tokens.")] = 512,
    concurrency: Annotated[int | None, Opt("--concurrency", "-c", min=1, help="Judge calls in flight.")] = None,
    no_cache: Annotated[bool, Opt("--no-cache", help="Don't read or write the response cache.")] = False,
    cache_dir: Annotated[Path | None, Opt(help="Response cache directory (default ~/.cache/crosslab).")] = None,
    prices: Annotated[Path | None, Opt(help="YAML price overrides (USD per million tokens).")] = None,
) -> None:
    """Compare a grader's labels with human labels: accuracy, per-class precision/recall, kappa, confusion.

    Without --judge the offline grader NAME (`crosslab grade NAME`) labels each
    line; with --judge the judge model labels it with the rubric NAME
    (`crosslab judge rubrics`). Figures carry 95 % Wilson intervals; judge
    replies that do not parse count as `unscored`.
    """
    from crosslab.grading.judge_combine import MODES
    from crosslab.grading.judge_rubric import rubrics
    from crosslab.grading.standalone import STANDALONE

    chosen = mode or ("judge" if judge else "rules")
    if chosen not in MODES:
        fail(f"--mode must be one of {', '.join(MODES)}, not {chosen!r}")
    if (chosen == "rules") != (judge is None):
        fail("--mode rules takes no --judge" if judge else f"--mode {chosen} needs --judge TARGET")
    if judge_base_url and not judge:
        fail("--judge-base-url needs --judge")
    rubric = None
    if judge is not None:
        if grader not in rubrics():
            fail(f"no judge rubric {grader!r} (available: {', '.join(rubrics())})")
        rubric = rubrics()[grader]
    if chosen != "judge" and grader not in STANDALONE:
        fail(f"unknown offline grader {grader!r} (available: {', '.join(STANDALONE)})")
    data, rows = _read_labels(labels)
    if rubric is not None:
        for number, _, obj in rows:
            try:
                rubric.check_inputs(obj)
            except CrosslabError as exc:
                fail(f"{labels}:{number}: {exc}")
    rule_out = _rule_outputs(grader, labels, rows) if chosen != "judge" else None
    classes = _classes(grader, rubric, rows, rule_out)
    for number, _, obj in rows:
        if obj["label"] not in classes:
            fail(f"{labels}:{number}: label {obj['label']!r} is not one of {', '.join(classes)}")
    verdicts: dict[int, Any] = {}
    judge_ref = None
    if rubric is not None:
        assert judge is not None
        need = [i for i in range(len(rows)) if chosen != "judge_when_unsure" or _unsure(grader, rule_out, i)]
        verdicts, judge_ref, costs = _run_judge(judge, judge_base_url, rubric, [rows[i] for i in need], need,
                                                journal, max_tokens, concurrency, no_cache, cache_dir, prices)
    predicted = _combine(chosen, grader, rows, rule_out, verdicts)
    from crosslab.stats.agreement import agreement

    figures = agreement([obj["label"] for _, _, obj in rows], predicted, classes)
    grader_id, grader_version = _grader_ref(chosen, grader, rubric, rule_out)
    _print_figures(grader_id, grader_version, chosen, judge_ref, rubric, figures)
    if rubric is not None:
        _echo(costs)
    if card is not None:
        from crosslab.grading.card import build_card, write_card

        try:
            built = build_card(grader_id=grader_id, grader_version=grader_version, judge=judge_ref,
                               rubric=rubric.ref() if rubric is not None else None, mode=chosen,
                               label_bytes=data, label_name=labels.name, figures=figures)
            write_card(card, built)
        except (CrosslabError, OSError) as exc:
            fail(f"cannot write card {card}: {exc}", code=1)
        _echo(f"card: {card} (digest {built.digest})")


# -- reading the labelled set ----------------------------------------------------
def _read_labels(path: Path) -> tuple[bytes, list[tuple[int, str, dict[str, Any]]]]:
    """The file's bytes (their SHA-256 goes into the card) and (line number, row id, object) per line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    rows: list[tuple[int, str, dict[str, Any]]] = []
    seen: set[str] = set()
    for number, obj in jsonl_objects(data, str(path)):
        if not isinstance(obj.get("label"), str) or not obj["label"]:
            fail(f"{path}:{number}: needs the human label as a string field 'label'")
        row_id = obj["id"] if isinstance(obj.get("id"), str) and obj["id"] else f"line-{number}"
        if row_id in seen:
            fail(f"{path}:{number}: id {row_id!r} appears twice")
        seen.add(row_id)
        rows.append((number, row_id, obj))
    if not rows:
        fail(f"{path}: no labelled lines")
    return data, rows


def _rule_outputs(grader: str, path: Path, rows: list[tuple[int, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    from crosslab.grading.standalone import STANDALONE

    spec = STANDALONE[grader]
    fn = spec.function()
    out = []
    for number, _, obj in rows:
        missing = [f for f in spec.required if not isinstance(obj.get(f), str)]
        if missing:
            fail(f"{path}:{number}: {grader} needs string field(s) {', '.join(missing)}")
        line = {k: v for k, v in obj.items() if k != "label"}  # the grader must not see the answer
        try:
            result = fn(line)
        except ValueError as exc:
            fail(f"{path}:{number}: {exc}")
        if not isinstance(result, dict) or not isinstance(result.get("label"), str):
            fail(f"grader {grader} returned no label for {path}:{number}", code=1)
        out.append(result)
    return out


def _classes(grader: str, rubric: Any, rows: list[tuple[int, str, dict[str, Any]]],
             rule_out: list[dict[str, Any]] | None) -> list[str]:
    """The labels figures are kept for.

    With a judge: the rubric's. Rules alone: the labels of the rubric of the
    same name when the grader's own labels are among them (so a mistyped human
    label is an error); otherwise every label the grader or the humans used.
    """
    from crosslab.grading.judge_rubric import rubrics

    if rubric is not None:
        return list(rubric.labels)
    produced = {o["label"] for o in rule_out or []}
    known = rubrics().get(grader)
    if known is not None and produced <= set(known.labels):
        return list(known.labels)
    return sorted(produced | {obj["label"] for _, _, obj in rows})


def _unsure(grader: str, rule_out: list[dict[str, Any]] | None, i: int) -> bool:
    from crosslab.grading.judge_combine import UNSURE

    assert rule_out is not None
    return UNSURE.get(grader, lambda _: False)(rule_out[i])


# -- the judge -------------------------------------------------------------------------
def _run_judge(spec: str, base_url: str | None, rubric: Any, rows: list[tuple[int, str, dict[str, Any]]],
               index: list[int], journal_dir: Path | None, max_tokens: int, concurrency: int | None,
               no_cache: bool, cache_dir: Path | None, prices: Path | None
               ) -> tuple[dict[int, Any], dict[str, str], str]:
    """Judge the rows; returns verdicts by row index, the judge reference for the card, and a cost line."""
    from crosslab.engine.cache import ResponseCache, default_cache_dir
    from crosslab.engine.journal import JournalError
    from crosslab.judges.runner import JudgeRunner, open_judge_journal
    from crosslab.results.costs import cost_usd, load_prices
    from crosslab.targets.base import TargetError
    from crosslab.targets.deployment import DeploymentError
    from crosslab.targets.registry import CredentialsError, create_target, parse_target

    try:
        deployment = parse_target(spec, {"base_url": base_url, "temperature": 0.0, "max_tokens": max_tokens,
                                         "concurrency": concurrency})
        target = create_target(deployment)
    except (DeploymentError, CredentialsError, TargetError) as exc:
        fail(str(exc))
    try:
        price_table = load_prices(prices)
    except (OSError, ValueError) as exc:
        fail(f"cannot load prices: {exc}")
    journal = None
    if journal_dir is not None:
        try:
            journal = open_judge_journal(journal_dir, target, rubric)
        except (JournalError, OSError) as exc:
            fail(f"judge journal: {exc}")
    cache = None if no_cache else ResponseCache(cache_dir or default_cache_dir())
    runner = JudgeRunner(target, rubric, cache=cache, journal=journal)

    async def go() -> list[Any]:
        try:
            return await runner.judge_all([(row_id, obj) for _, row_id, obj in rows])
        finally:
            await runner.aclose()

    try:
        calls = asyncio.run(go())
    finally:
        if journal is not None:
            journal.close()
        if cache is not None:
            cache.close()
    failed = [c for c in calls if c.verdict is None]
    if failed:
        first = failed[0].error or {}
        again = f"; rerun with --journal {journal_dir} to retry only those" if journal_dir else ""
        fail(f"{len(failed)} of {len(calls)} judge calls failed (first, row {failed[0].row_id}: "
             f"{first.get('kind')}: {first.get('message')}){again}", code=1)
    tokens_in = sum(c.stats["usage"]["input_tokens"] for c in calls)
    tokens_out = sum(c.stats["usage"]["output_tokens"] for c in calls)
    cost = cost_usd(deployment.label, tokens_in, tokens_out, price_table)
    spent = "no price known" if cost is None else f"${cost:.4f}"
    count = Counter("resumed" if c.resumed else "cached" if c.stats["cached_calls"] else "called" for c in calls)
    line = (f"judge calls: {len(calls)} ({count['called']} sent, {count['cached']} cached, "
            f"{count['resumed']} from the journal) · tokens in {tokens_in:,} out {tokens_out:,} · cost {spent}")
    verdicts = {i: c.verdict for i, c in zip(index, calls, strict=True)}
    return verdicts, {"digest": deployment.digest, "label": deployment.label}, line


def _combine(mode: str, grader: str, rows: list[Any], rule_out: list[dict[str, Any]] | None,
             verdicts: dict[int, Any]) -> list[str]:
    from crosslab.grading.judge_combine import combine

    labels = []
    for i in range(len(rows)):
        rules = (lambda i=i: rule_out[i]) if rule_out is not None else None
        judge = (lambda i=i: verdicts[i]) if mode != "rules" else None
        labels.append(combine(mode, grader, rules, judge).label)  # type: ignore[arg-type]
    return labels


def _grader_ref(mode: str, grader: str, rubric: Any, rule_out: list[dict[str, Any]] | None) -> tuple[str, str]:
    """The grader's id and version as a card names them."""
    from crosslab.grading.judge_parse import judge_grader_ref

    parts_id, parts_version = [], []
    if rule_out is not None:
        versions = {o.get("version") for o in rule_out}
        if len(versions) != 1 or not isinstance(next(iter(versions)), str):
            fail(f"grader {grader} reported no single version ({sorted(map(str, versions))})", code=1)
        parts_id.append(grader)
        parts_version.append(next(iter(versions)))
    if rubric is not None:
        jid, jversion = judge_grader_ref(rubric)
        parts_id.append(jid)
        parts_version.append(jversion)
    return "+".join(parts_id), "+".join(parts_version)


# -- printing ------------------------------------------------------------------------------
def _echo(line: str) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def _rate(est: float, low: float, high: float) -> str:
    return f"{est:.3f} [{low:.3f}, {high:.3f}]"


def _kappa(kappa: float | None) -> str:
    return "undefined (one class only)" if kappa is None else f"{kappa:.3f}"


def _print_figures(grader_id: str, version: str, mode: str, judge_ref: dict[str, str] | None, rubric: Any,
                   figures: Any) -> None:
    judge = f"{judge_ref['label']} ({judge_ref['digest'][:12]})" if judge_ref else "none"
    rub = f"{rubric.id} v{rubric.version}" if rubric is not None else "none"
    _echo(f"grader {grader_id} {version} · mode {mode} · judge {judge} · rubric {rub}")
    a = figures.accuracy
    _echo(f"n {figures.n} · accuracy {_rate(a.estimate, a.low, a.high)} · Cohen's kappa {_kappa(figures.kappa)} · "
          f"unscored {figures.unscored}  (95 % Wilson intervals)")
    width = max(len(c) for c in figures.classes) + 2
    _echo(f"{'class':<{width}}{'support':>8}{'predicted':>10}  {'precision':<24}recall")
    for c in figures.per_class:
        p = _rate(c.precision.estimate, c.precision.low, c.precision.high) if c.precision else "-"
        r = _rate(c.recall.estimate, c.recall.low, c.recall.high) if c.recall else "-"
        _echo(f"{c.label:<{width}}{c.support:>8}{c.predicted:>10}  {p:<24}{r}")
    columns = list(figures.classes) + sorted({g for row in figures.confusion.values() for g in row}
                                             - set(figures.classes))
    cw = max(len(c) for c in columns) + 2
    _echo("confusion (rows: human, columns: grader)")
    _echo(" " * width + "".join(f"{c:>{cw}}" for c in columns))
    for h in figures.classes:
        _echo(f"{h:<{width}}" + "".join(f"{figures.confusion[h].get(g, 0):>{cw}}" for g in columns))
