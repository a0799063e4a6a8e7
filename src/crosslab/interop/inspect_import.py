"""An Inspect eval log as a crosslab run journal: transcripts kept, ready for our graders.

The log is read with Inspect's own reader (``read_eval_log``), so every log
format Inspect reads (``.eval`` and ``.json``) is accepted. Each Inspect sample
becomes an item (id = Inspect's sample id; its input as messages; its target,
when it is text, as an ``includes`` check) and, per epoch, a record holding the
whole transcript, token usage and status, with the sample id crosslab's plan
would give it. Inspect's own scores are kept in the record (``inspect_scores``)
beside, never instead of, the verdicts our graders write (the import grades by the
rules at once, as ``crosslab run`` does).

The run says it was imported: the journal's meta ``imported`` holds the source
file's SHA-256, Inspect's model, task, task id, run id and generate config. The
deployment is the one ``--target`` names (say which agreed deployment the log
evaluated, so a bundle can carry it) or, by default, a ``function`` deployment
named ``inspect:<model>``: a name for what the log ran, never a guess at
sampling settings the log does not state.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

from crosslab.core.version import __version__
from crosslab.disclosure.canary import canary_for, needs_canary
from crosslab.engine.journal import Journal
from crosslab.engine.plan import NO_VARIANT, sample_id
from crosslab.interop.errors import InteropError
from crosslab.interop.inspect_dep import require_inspect
from crosslab.interop.inspect_messages import from_inspect
from crosslab.items.item import Item, Tier
from crosslab.run.grade import grade_journal
from crosslab.suites.registry import items_digest
from crosslab.targets.deployment import Deployment, build_deployment

ITEM_ROLES = ("system", "user", "assistant")


def _plain(value: Any) -> Any:
    """JSON-safe copy of Inspect metadata (anything JSON cannot hold becomes its string)."""
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))


def read_log(path: Path) -> tuple[Any, str]:
    """The log and the SHA-256 of its bytes; one line when Inspect cannot read it."""
    require_inspect()
    from inspect_ai.log import read_eval_log

    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        raise InteropError(f"{path}: no such file") from None
    except OSError as exc:
        raise InteropError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        log = read_eval_log(str(path))
    except Exception as exc:  # noqa: BLE001 - Inspect raises many kinds; all mean "not a log it reads"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise InteropError(f"{path}: not an Inspect log Inspect can read ({first})") from None
    if not log.samples:
        raise InteropError(f"{path}: the log holds no samples (status {log.status}); nothing to import")
    return log, digest


def _item(sample: Any, category: str, tier: Tier, where: str) -> Item:
    if isinstance(sample.input, str):
        messages = [{"role": "user", "content": sample.input}]
    else:
        messages = [from_inspect(m) for m in sample.input]
        bad = next((m["role"] for m in messages if m["role"] not in ITEM_ROLES), None)
        if bad is not None or not messages or messages[-1]["role"] != "user":
            raise InteropError(f"{where}: sample {sample.id!r}: its input must be system/user/assistant turns "
                               "ending with a user turn to become an item")
        messages = [{"role": m["role"], "content": m["content"]} for m in messages]
    target = sample.target if isinstance(sample.target, str) else "\n".join(sample.target or [])
    grading = {"type": "includes", "expected": target} if isinstance(sample.target, str) and target.strip() else {}
    meta = {"inspect": {"id": sample.id, **({"target": target} if target and not grading else {}),
                        **({"metadata": _plain(sample.metadata)} if sample.metadata else {})}}
    return Item(id=str(sample.id), category=category, tier=tier, messages=messages, grading=grading, metadata=meta)


def _record(sample: Any, item: Item, digest: str) -> dict[str, Any]:
    messages = [from_inspect(m) for m in sample.messages]
    tokens_in = sum(u.input_tokens for u in (sample.model_usage or {}).values())
    tokens_out = sum(u.output_tokens for u in (sample.model_usage or {}).values())
    record: dict[str, Any] = {
        "sample_id": sample_id(item.id, NO_VARIANT, int(sample.epoch), digest),
        "item_id": item.id, "category": item.category, "slice": item.slice, "tier": item.tier,
        "variant": NO_VARIANT, "facets": item.facets, "epoch": int(sample.epoch), "target": digest,
        "interaction": item.interaction,
        "status": "error" if sample.error else "ok",
        "error": {"kind": "inspect", "message": sample.error.message.strip().splitlines()[0][:500] if
                  sample.error.message.strip() else "error", "attempts": 1} if sample.error else None,
        "messages": messages,
        "stats": {"calls": sum(m["role"] == "assistant" for m in messages), "cached_calls": 0, "retries": 0,
                  "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
                  "latency_s": round(float(sample.total_time or 0.0), 4)},
        "inspect_scores": {name: _plain({"value": s.value, "answer": s.answer, "explanation": s.explanation})
                           for name, s in (sample.scores or {}).items()},
    }
    if needs_canary(item.tier):
        record["canary"] = canary_for(item.id)
    return record


def default_deployment(model: str) -> Deployment:
    return build_deployment({"provider": "function", "model": f"inspect:{model}", "temperature": None,
                             "seed": None}, f"Inspect model {model!r}")


def import_log(path: Path, out: Path, *, deployment: Deployment | None = None, tier: Tier = "restricted",
               run_id: str | None = None) -> Path:
    """Write the log at ``path`` as a new run directory under ``out``; returns the run directory."""
    log, file_digest = read_log(path)
    spec = log.eval
    deployment = deployment or default_deployment(spec.model)
    digest = deployment.digest
    category = spec.task.split("/")[-1] or "inspect"
    items: dict[str, Item] = {}
    records = []
    for sample in log.samples:
        key = str(sample.id)
        if key not in items:
            items[key] = _item(sample, category, tier, str(path))
        records.append(_record(sample, items[key], digest))
    if len({r["sample_id"] for r in records}) != len(records):
        raise InteropError(f"{path}: two samples share an id and epoch")
    config = spec.model_generate_config.model_dump(exclude_none=True) if spec.model_generate_config else {}
    run_id = run_id or f"inspect-{file_digest[:12]}"
    meta = {
        "run_id": run_id, "created_at": spec.created, "crosslab_version": __version__,
        "deployment": deployment.model_dump(mode="json"), "target_digest": digest,
        "source": {"inspect_log": path.name}, "epochs": max(int(s.epoch) for s in log.samples),
        "items_digest": items_digest(list(items.values())),
        "imported": {"from": "inspect", "file": path.name, "sha256": file_digest, "model": spec.model,
                     "task": spec.task, "task_id": spec.task_id, "run_id": spec.run_id,
                     "status": log.status, "generate_config": _plain(config),
                     "inspect_version": getattr(spec.packages, "get", lambda *_: None)("inspect_ai")},
    }
    run_dir = out / run_id
    if run_dir.exists():
        raise InteropError(f"{run_dir} already exists (this log was imported there before)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        journal = Journal.create(run_dir, meta, list(items.values()))
    except OSError as exc:
        raise InteropError(f"{run_dir}: cannot be created ({exc.strerror})") from None
    try:
        journal.write_many(records)
        journal.set_meta("finished_at", log.stats.completed_at or spec.created)
        grade_journal(journal)  # by the rules, as `crosslab run` does; a judge can grade it again later
    finally:
        journal.close()
    return run_dir
