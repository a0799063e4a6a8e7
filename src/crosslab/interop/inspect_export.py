"""A crosslab run or bundle as an Inspect eval log, built with Inspect's own classes and writer.

Inspect's viewer (``inspect view``) and reader (``inspect_ai.log.read_eval_log``)
are what labs already use to browse transcripts, so an export uses their log
classes and ``write_eval_log`` rather than a hand-written copy of the format:
a change in Inspect's format is then Inspect's to keep readable.

Mapping: one Inspect sample per crosslab sample (id = item id, with its epoch);
``input`` is the conversation before the model's first reply, ``messages`` the
whole transcript, ``target`` the item's expected answer when it has one. Each
verdict is a score named by its grader (value = our score, or the label when
there is no score, e.g. ``unscored``; the label, grader version, values and
evidence in the score's metadata). Token usage is the sample's
``model_usage``. Results hold one score per category with the pass rate, its
Wilson interval and counts as metrics; the full metric rows, suite metrics
included, are in ``results.metadata.crosslab_metrics``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from crosslab.core.version import __version__
from crosslab.interop.errors import InteropError
from crosslab.interop.inspect_dep import require_inspect
from crosslab.interop.inspect_messages import to_inspect
from crosslab.interop.source import Source, SourceSample


def _usage(stats: dict[str, Any] | None) -> tuple[int, int]:
    usage = (stats or {}).get("usage") or {}
    return int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)


def _final_text(messages: list[dict[str, Any]]) -> str:
    answers = [m for m in messages if m.get("role") == "assistant"]
    return str(answers[-1].get("content") or "") if answers else ""


def _score(verdict: dict[str, Any], answer: str) -> Any:
    from inspect_ai.scorer import Score

    value = verdict.get("score") if verdict.get("score") is not None else verdict.get("label")
    return Score(value=value if value is not None else "ungraded", answer=answer, explanation=verdict.get("label"),
                 metadata={"label": verdict.get("label"), "grader_version": verdict.get("version"),
                           "values": verdict.get("values") or {}, "evidence": verdict.get("evidence")})


def _sample(s: SourceSample, model: str) -> Any:
    from inspect_ai.log import EvalError, EvalSample
    from inspect_ai.model import ModelOutput, ModelUsage

    r = s.record
    messages = [m for m in r.get("messages") or [] if isinstance(m, dict)]
    first_reply = next((i for i, m in enumerate(messages) if m.get("role") == "assistant"), len(messages))
    prompt = messages[:first_reply]
    answer = _final_text(messages)
    tokens_in, tokens_out = _usage(r.get("stats"))
    error = r.get("error") if r.get("status") == "error" else None
    return EvalSample(
        id=r["item_id"], epoch=int(r["epoch"]),
        input=[to_inspect(m) for m in prompt] if prompt else "",
        target=s.expected or "",
        messages=[to_inspect(m) for m in messages],
        output=ModelOutput.from_content(model=model, content=answer) if answer else ModelOutput(model=model),
        scores={grader: _score(v, answer) for grader, v in s.verdicts.items()},
        metadata={"crosslab": {k: r.get(k) for k in ("sample_id", "category", "slice", "tier", "facets", "status",
                                                      "variant", "interaction", "target", "stats", "agent")
                               if r.get(k) is not None}},
        model_usage={model: ModelUsage(input_tokens=tokens_in, output_tokens=tokens_out,
                                       total_tokens=tokens_in + tokens_out)},
        error=EvalError(message=f"{error.get('kind')}: {error.get('message')}", traceback="", traceback_ansi="")
        if isinstance(error, dict) else None,
    )


def _category_scores(src: Source, graders: list[str]) -> list[Any]:
    from inspect_ai.log import EvalMetric, EvalScore

    scores = []
    for row in src.metrics.get("rows") or []:
        if row.get("slice") != "all":
            continue
        metrics: dict[str, Any] = {k: EvalMetric(name=k, value=int(row[k]))
                                   for k in ("samples", "graded", "passed", "errors") if row.get(k) is not None}
        rate = row.get("pass_rate")
        if isinstance(rate, dict) and rate.get("estimate") is not None:
            for name, key in (("pass_rate", "estimate"), ("pass_rate_low", "low"), ("pass_rate_high", "high")):
                metrics[name] = EvalMetric(name=name, value=float(rate[key]),
                                           metadata={"method": rate.get("method"), "level": rate.get("level")})
        scores.append(EvalScore(name=row["category"], scorer="+".join(graders) or "crosslab",
                                scored_samples=int(row.get("graded") or 0),
                                unscored_samples=int(row.get("samples") or 0) - int(row.get("graded") or 0),
                                metrics=metrics))
    return scores


def build_log(src: Source) -> Any:
    """The Inspect EvalLog of ``src``: every sample the source may show, results over all of them."""
    require_inspect()
    from inspect_ai.log import EvalConfig, EvalDataset, EvalLog, EvalResults, EvalSpec, EvalStats
    from inspect_ai.model import GenerateConfig, ModelUsage

    model = src.model
    samples = [_sample(s, model) for s in src.samples]
    graders = sorted({g for s in src.samples for g in s.verdicts})
    tokens = Counter()
    for s in src.samples:
        i, o = _usage(s.record.get("stats"))
        tokens["in"] += i
        tokens["out"] += o
    dep = src.deployment
    ids = list(dict.fromkeys(s.record["item_id"] for s in src.samples))
    spec = EvalSpec(
        created=src.created, task=src.task, task_id=src.run_id, run_id=src.run_id,
        dataset=EvalDataset(name=src.task, samples=len(ids), sample_ids=ids),
        model=model, model_base_url=dep.get("base_url"),
        model_generate_config=GenerateConfig(temperature=dep.get("temperature"), top_p=dep.get("top_p"),
                                             max_tokens=dep.get("max_tokens"), seed=dep.get("seed"),
                                             system_message=dep.get("system_prefix")),
        config=EvalConfig(epochs=src.epochs),
        packages={"crosslab": __version__},
        metadata={"crosslab": {"from": src.kind, "origin": src.origin, "deployment": dep,
                               "target_digest": src.target_digest, "judge": src.judge,
                               "samples_total": src.total, "samples_left_out": src.left_out}},
    )
    results = EvalResults(total_samples=len(samples), completed_samples=sum(s.error is None for s in samples),
                          scores=_category_scores(src, graders), metadata={"crosslab_metrics": src.metrics})
    stats = EvalStats(started_at=src.started or src.created, completed_at=src.finished or src.created,
                      model_usage={model: ModelUsage(input_tokens=tokens["in"], output_tokens=tokens["out"],
                                                     total_tokens=tokens["in"] + tokens["out"])})
    return EvalLog(eval=spec, status="success", results=results, stats=stats, samples=samples)


def write_inspect(src: Source, out: Path) -> Path:
    """Write ``src`` as an Inspect ``.eval`` log at ``out``."""
    if out.suffix != ".eval":
        raise InteropError(f"{out}: an Inspect log file must end in .eval")
    log = build_log(src)
    from inspect_ai.log import write_eval_log

    try:
        write_eval_log(log, str(out), format="eval")
    except OSError as exc:
        raise InteropError(f"{out}: cannot be written ({exc.strerror or exc})") from None
    return out
