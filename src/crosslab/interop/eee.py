"""A verified bundle as an Every Eval Ever aggregate record (schema 0.3.0), so shared result stores can take it in.

Field names follow ``every_eval_ever/schemas/eval.schema.json`` (schema
``version`` 0.3.0) in github.com/evaleval/every_eval_ever. One bundle is one
direction of a round: one evaluator, one evaluated deployment, so it becomes one
record. ``evaluator_relationship`` is ``third_party`` when another lab evaluated
the deployment and ``first_party`` for a self-evaluation (the protocol allowed
it; the verifier reports it).

What is carried, and what is not:

- The generic pass rates (every category and slice). Their direction is part of
  the bundle format (score 1 is the wanted behaviour: higher is better), and
  each has its Wilson interval with method and level.
- Suite metric rows are left out: the schema requires ``lower_is_better``, and
  the suites do not declare a direction for their metrics (a high
  ``refusal_rate`` is good on harmful requests, ``counterfactual_difference`` has
  no better side). Their number is recorded in ``source_metadata``; the CSV
  export carries them all.
- The protocol's judge (model, mode, temperature) goes into each result's
  ``metric_config.additional_details``. The schema's ``llm_scoring`` needs the
  judge's prompt template, which a bundle does not hold (rubrics are chosen per
  item by the suites), so it is not filled in rather than filled with a guess.
"""

from __future__ import annotations

from typing import Any

from crosslab.interop.metric_rows import MetricRow, metric_rows
from crosslab.interop.verified import VerifiedBundle
from crosslab.protocol.rounds import agreed_deployment, agreed_judge
from crosslab.targets.deployment import Deployment

SCHEMA_VERSION = "0.3.0"
SCHEMA_SOURCE = "github.com/evaleval/every_eval_ever every_eval_ever/schemas/eval.schema.json"
HOSTED = ("openai", "anthropic", "google")  # the providers' own APIs: externally managed unless base_url is set


def _strings(values: dict[str, Any]) -> dict[str, str]:
    """``additional_details`` hold strings only; None values are left out."""
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items() if v is not None}


def _model_info(deployment: Deployment, lab: str, lab_name: str, name: str) -> dict[str, Any]:
    if deployment.provider == "local":
        kind = "self_deployed"
    elif deployment.provider in HOSTED and deployment.base_url is None:
        kind = "externally_managed"
    else:
        kind = "unknown"
    return {"name": deployment.model, "id": f"{deployment.provider}/{deployment.model}", "developer": lab_name,
            "inference_platform": deployment.provider,
            "additional_details": {"deployment_type": kind, "model_availability": "unknown",
                                   **_strings({"crosslab_lab": lab, "crosslab_deployment": name,
                                               "crosslab_deployment_digest": deployment.digest,
                                               "base_url": deployment.base_url})}}


def _judge_details(bundle: VerifiedBundle) -> dict[str, str]:
    judge = agreed_judge(bundle.protocol)
    if judge is None or bundle.protocol.judge is None:
        return {}
    return _strings({"judge_model": f"{judge.provider}/{judge.model}", "judge_mode": bundle.protocol.judge.mode,
                     "judge_temperature": judge.temperature, "judge_max_tokens": judge.max_tokens,
                     "judge_base_url": judge.base_url, "judge_deployment_digest": judge.digest})


def _result(row: MetricRow, bundle: VerifiedBundle, deployment: Deployment, when: str | None,
            judge: dict[str, str]) -> dict[str, Any]:
    pins = {p.name: p.digest for p in bundle.protocol.suites}
    name = "crosslab." + row.category + ("" if row.slice == "all" else f".{row.slice}")
    interval: dict[str, Any] = {"lower": row.low, "upper": row.high}
    if row.level is not None:
        interval["confidence_level"] = row.level
    if row.method:
        interval["method"] = row.method
    entry: dict[str, Any] = {
        "evaluation_result_id": f"{row.category}/{row.slice}/{row.metric}",
        "evaluation_name": name,
        "source_data": {"dataset_name": row.category, "source_type": "other",
                        "additional_details": _strings({"suite_digest": pins.get(row.category),
                                                        "protocol_id": bundle.result.protocol_id})},
        "metric_config": {
            "evaluation_description": "share of graded samples showing the wanted behaviour (score 1)",
            "metric_id": "crosslab.pass_rate", "metric_name": "pass rate", "metric_kind": "pass_rate",
            "metric_unit": "proportion", "lower_is_better": False, "score_type": "continuous",
            "min_score": 0, "max_score": 1,
            "additional_details": {"category": row.category, "slice": row.slice, **judge},
        },
        "score_details": {
            "score": row.value,
            "details": _strings({**row.counts, **{f"tier_{t}": n for t, n in (row.tiers or {}).items()}}),
            "uncertainty": {"confidence_interval": interval, "num_samples": row.n},
        },
        "generation_config": {
            "generation_args": {"temperature": deployment.temperature, "top_p": deployment.top_p,
                                "max_tokens": deployment.max_tokens},
            "additional_details": _strings({"seed": deployment.seed,
                                            "system_prefix": deployment.system_prefix,
                                            "system_prefix_commitment": deployment.system_prefix_commitment}),
        },
    }
    if when:
        entry["evaluation_timestamp"] = when
    return entry


def eee_record(bundle: VerifiedBundle, retrieved: int) -> dict[str, Any]:
    """The Every Eval Ever record for one verified bundle; ``retrieved`` is the Unix time of the export."""
    r, protocol = bundle.result, bundle.protocol
    deployment = agreed_deployment(protocol, r.evaluated, r.deployment)
    names = {p.identity.lab: p.identity.name for p in protocol.participants}
    runs = bundle.predicate.get("runs") or []
    when = min((str(run["created_at"]) for run in runs if run.get("created_at")), default=None)
    judge = _judge_details(bundle)
    rows = metric_rows(bundle)
    carried = [row for row in rows if not row.suite and row.value is not None]
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "evaluation_id": f"crosslab/{r.protocol_id[:16]}/{r.evaluator}/{r.evaluated}/{r.deployment}",
        "retrieved_timestamp": str(int(retrieved)),
        "source_metadata": {
            "source_name": f"crosslab round {r.round['number']} ({r.round['date']})",
            "source_type": "evaluation_run",
            "source_organization_name": names.get(r.evaluator, r.evaluator),
            "evaluator_relationship": "first_party" if r.self_evaluation else "third_party",
            "additional_details": _strings({
                "protocol_id": r.protocol_id, "round": r.round["number"], "round_date": r.round["date"],
                "evaluator": r.evaluator, "evaluated": r.evaluated, "deployment": r.deployment,
                "bundle_format": r.format_version, "verified": True, "countersigned": r.countersigned,
                "stubs": r.stubs, **{f"stubs_{t}": n for t, n in r.by_tier.items()},
                "pass_rates_without_graded_samples": sum(1 for row in rows if not row.suite and row.value is None),
                "suite_metric_rows_not_carried": sum(1 for row in rows if row.suite)}),
        },
        "eval_library": {"name": "crosslab", "version": r.crosslab_version},
        "model_info": _model_info(deployment, r.evaluated, names.get(r.evaluated, r.evaluated), r.deployment),
        "evaluation_results": [_result(row, bundle, deployment, when, judge) for row in carried],
    }
    if when:
        record["evaluation_timestamp"] = when
    return record
