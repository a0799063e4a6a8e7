"""What an export reads: one run journal, or one verified bundle cut to the tiers its reader may see.

Both give the same shape (``Source``): the samples whose transcripts may be
written, each with its verdicts, and the metrics over every sample. A run
directory belongs to the lab that ran it, so all of its samples are written. A
bundle is verified first with the reader's pinned keys (an export never
launders an unverified bundle into a trusted-looking log); then only public
disclosures are written, plus restricted ones when the reader is a partner
who can decrypt them. Withheld samples appear only in the counts and metrics,
which the evaluator signed over every stub.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from crosslab.bundle import layout
from crosslab.bundle.installed import installed_contents, installed_definitions
from crosslab.bundle.metrics import pass_rate_rows
from crosslab.bundle.verify import verify_bundle
from crosslab.disclosure.commitments import open_disclosure
from crosslab.disclosure.encryption import decrypt_with
from crosslab.engine.journal import JOURNAL_FILE, Journal
from crosslab.interop.errors import InteropError
from crosslab.items.item import Item
from crosslab.results.outcomes import outcomes_from_journal, reviewed_verdicts, suite_metrics


@dataclass
class SourceSample:
    record: dict[str, Any]
    verdicts: dict[str, dict[str, Any]]  # grader -> verdict (as adjudicated, for runs)
    expected: str | None = None  # the item's expected answer, when the run holds its items


@dataclass
class Source:
    kind: str  # "run" or "bundle"
    task: str
    run_id: str
    created: str
    deployment: dict[str, Any]
    target_digest: str
    epochs: int
    samples: list[SourceSample]
    metrics: dict[str, Any]  # {"rows": generic pass-rate rows, "suites": {category: suite rows}}
    total: int  # every sample of the run or bundle, written or not
    origin: dict[str, Any] = field(default_factory=dict)
    judge: dict[str, Any] | None = None
    started: str | None = None
    finished: str | None = None

    @property
    def model(self) -> str:
        """The model in Inspect's ``provider/model`` form."""
        return f"{self.deployment.get('provider', 'unknown')}/{self.deployment.get('model', 'unknown')}"

    @property
    def left_out(self) -> int:
        return self.total - len(self.samples)


def expected_answer(item: Item) -> str | None:
    spec = item.grading
    for key in ("expected", "target", "gold"):
        if isinstance(spec.get(key), str):
            return spec[key]
    return None


def is_run(path: Path) -> bool:
    return (path / JOURNAL_FILE).is_file()


def from_run(run_dir: Path) -> Source:
    journal = Journal.open(run_dir)
    try:
        meta = journal.meta()
        items = {i.id: i for i in journal.items()}
        verdicts = reviewed_verdicts(journal)
        samples = [SourceSample(r, verdicts.get(r["sample_id"], {}) if r["status"] == "ok" else {},
                                expected_answer(items[r["item_id"]]) if r["item_id"] in items else None)
                   for r in journal.records()]
        outcomes = outcomes_from_journal(journal)
    finally:
        journal.close()
    source = meta.get("source") or {}
    task = source.get("suite") or Path(str(source.get("items_file") or source.get("inspect_log") or "items")).stem
    deployment = dict(meta["deployment"])
    if deployment.get("system_prefix_commitment"):  # a confidential prompt stays in the evaluator's journal
        deployment.pop("system_prefix", None)
    return Source("run", f"crosslab/{task}", meta["run_id"], meta["created_at"], deployment,
                  meta["target_digest"], int(meta["epochs"]), samples,
                  {"rows": pass_rate_rows(outcomes), "suites": suite_metrics(outcomes)}, len(samples),
                  origin={"run": meta["run_id"], "source": source, **({"imported": meta["imported"]}
                                                                     if "imported" in meta else {})},
                  judge=meta.get("judge"), started=meta["created_at"], finished=meta.get("finished_at"))


def _opened(data: bytes) -> dict[int, dict[str, Any]]:
    out = {}
    for line in data.splitlines():
        entry = orjson.loads(line)
        _salt, value = open_disclosure(entry["d"])
        out[int(entry["i"])] = value if isinstance(value, dict) else {}
    return out


def from_bundle(bundle: Path, pinned: dict[str, Any], partner_identity: Any = None) -> Source:
    """Verify the bundle, then read the disclosures this reader may open (raises VerificationError)."""
    report = verify_bundle(bundle, pinned, partner_identity=partner_identity,
                           metric_definitions=installed_definitions(), pinned_contents=installed_contents)
    envelope = orjson.loads((bundle / layout.STATEMENT).read_bytes())
    predicate = orjson.loads(base64.b64decode(envelope["payload"]))["predicate"]
    protocol = orjson.loads((bundle / layout.PROTOCOL).read_bytes())
    stubs = [orjson.loads(line) for line in (bundle / layout.ITEMS).read_bytes().splitlines()]
    disclosed = _opened((bundle / layout.PUBLIC).read_bytes())
    if partner_identity is not None:
        disclosed.update(_opened(decrypt_with(partner_identity, (bundle / layout.RESTRICTED).read_bytes())))
    samples = []
    for i in sorted(disclosed):
        record, verdict = disclosed[i].get("record"), disclosed[i].get("verdict")
        if not isinstance(record, dict):
            raise InteropError(f"{bundle}: disclosure of stub {i} holds no record")
        samples.append(SourceSample(record, {verdict["grader"]: verdict} if isinstance(verdict, dict) else {}))
    evaluated = predicate.get("evaluated", {})
    deployment = _deployment(protocol, evaluated)
    runs = predicate.get("runs") or []
    epochs = max((int(r.get("epochs", 1)) for r in runs), default=1)
    suites = "+".join(str(r.get("suite")) for r in runs) or "bundle"
    created = min((str(r["created_at"]) for r in runs if r.get("created_at")), default=str(report.round.get("date")))
    return Source("bundle", f"crosslab/{suites}",
                  f"{report.evaluator}-on-{evaluated.get('lab')}-{evaluated.get('deployment')}", created,
                  deployment, evaluated.get("target_digest", ""), epochs, samples,
                  predicate.get("metrics") or {"rows": pass_rate_rows(stubs), "suites": {}}, len(stubs),
                  origin={"bundle": str(bundle), "protocol_id": report.protocol_id, "evaluator": report.evaluator,
                          "evaluated": report.evaluated, "deployment": report.deployment,
                          "verified": True, "countersigned": report.countersigned, "by_tier": report.by_tier,
                          "tiers_written": ["public", "restricted"] if partner_identity is not None else ["public"],
                          "round": report.round},
                  judge=_judge(protocol))


def _deployment(protocol: dict[str, Any], evaluated: dict[str, Any]) -> dict[str, Any]:
    from crosslab.protocol.rounds import agreed_deployment
    from crosslab.protocol.schema import Protocol

    try:
        return agreed_deployment(Protocol.model_validate(protocol), evaluated["lab"],
                                 evaluated["deployment"]).model_dump(mode="json")
    except Exception:  # noqa: BLE001 - verified already; a name is enough when the settings cannot be rebuilt
        return {"provider": str(evaluated.get("lab")), "model": str(evaluated.get("deployment"))}


def _judge(protocol: dict[str, Any]) -> dict[str, Any] | None:
    judge = protocol.get("judge")
    return judge if isinstance(judge, dict) else None
