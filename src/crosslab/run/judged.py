"""Grading a run with a judge model beside the rules (``crosslab run --judge``, a protocol's ``judge:``).

Every sample is graded by its rules first (``run.grade``). Where its suite
declares a ``JudgeHook`` for the grading type (suites/judging.py), the mode
says whether the judge is asked:

* ``judge`` and ``both``: always; the judge decides, and the verdict's
  evidence keeps the rules' label and a ``disagree`` flag;
* ``judge_when_unsure``: only where the hook calls the rules' verdict unsure.

A judge reply that does not parse, or a judge call that fails for good, makes
the verdict ``unscored`` (no label, no score; counted in each suite's
``unscored`` row), never the rules' label. The next grading pass (a resumed
run) asks again only for failed calls.

Judge calls go through ``judges.JudgeRunner``: one journal per rubric under
``<run>/judge/<rubric>/`` (so a resumed run re-asks nothing it has), the
response cache, and token counts for the cost line.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crosslab.engine.cache import ResponseCache
from crosslab.engine.journal import Journal
from crosslab.grading.judge_combine import MODES, Mode
from crosslab.grading.judge_parse import PARSER_VERSION
from crosslab.grading.judge_rubric import get_rubric
from crosslab.grading.verdict import Verdict
from crosslab.items.item import Item
from crosslab.judges.runner import JudgeCall, JudgeRunner, open_judge_journal
from crosslab.run.grade import grade_record, graders
from crosslab.suites.judging import JudgeHook, JudgeRequest
from crosslab.suites.registry import all_judge_hooks
from crosslab.targets.base import Target
from crosslab.targets.deployment import Deployment, DeploymentError

#: Modes a run may grade in with a judge (``rules`` is a run without one).
RUN_MODES: tuple[Mode, ...] = tuple(m for m in MODES if m != "rules")
JUDGE_DIR = "judge"


@dataclass(frozen=True)
class JudgeConfig:
    """The judge of a run: a deployment at temperature 0 and a mode; stored in the run's journal."""
    deployment: Deployment
    mode: Mode = "both"

    def __post_init__(self) -> None:
        if self.mode not in RUN_MODES:
            raise DeploymentError(f"judge mode must be one of {', '.join(RUN_MODES)}, not {self.mode!r}")
        if self.deployment.temperature != 0.0:
            raise DeploymentError(f"judge {self.deployment.label} must run at temperature 0")

    def meta(self) -> dict[str, Any]:
        return {"deployment": self.deployment.model_dump(mode="json"), "digest": self.deployment.digest,
                "mode": self.mode}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> JudgeConfig:
        deployment = Deployment.model_validate(meta["deployment"])
        if deployment.digest != meta["digest"]:
            raise ValueError("journal's judge deployment does not match its recorded digest")
        return cls(deployment, meta["mode"])


@dataclass
class JudgeSummary:
    """What the judge did in one grading pass, for the run summary and the journal's meta."""
    judge: str  # the deployment's label
    mode: str
    asked: int = 0
    decided: int = 0
    unscored: int = 0
    failed: int = 0  # calls that failed for good (also unscored)
    disagreements: int = 0
    calls: Counter[str] = field(default_factory=Counter)  # sent / cached / resumed
    tokens_in: int = 0
    tokens_out: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["calls"] = dict(self.calls)
        return out


@dataclass(frozen=True)
class _Pending:
    sample_id: str
    item: Item
    rules: Verdict
    hook: JudgeHook
    request: JudgeRequest


def verdict_version(rules: Verdict, rubric_id: str, rubric_version: str, config: JudgeConfig) -> str:
    """Names everything that made a judged verdict: the rules, the rubric and parser, the mode, the judge."""
    return (f"{rules.version}+judge.{rubric_id}.{rubric_version}-p{PARSER_VERSION}.{config.mode}"
            f"@{config.deployment.digest[:12]}")


def _plan(journal: Journal, config: JudgeConfig) -> tuple[list[tuple[str, Verdict]], list[_Pending]]:
    """Rules verdicts that stand, and the samples a judge must see."""
    items = {i.id: i for i in journal.items()}
    table = graders()
    hooks = all_judge_hooks()
    final: list[tuple[str, Verdict]] = []
    pending: list[_Pending] = []
    for record in journal.records():
        if record["status"] != "ok":
            continue
        item = items[record["item_id"]]
        rules = grade_record(item, record, table)
        if rules is None:
            continue
        hook = hooks.get(item.grading.get("type", ""))
        request = hook.request(item, record) if hook is not None else None
        if hook is None or request is None or (config.mode == "judge_when_unsure" and not hook.unsure(item, rules)):
            final.append((record["sample_id"], rules))
        else:
            pending.append(_Pending(record["sample_id"], item, rules, hook, request))
    return final, pending


def _decide(p: _Pending, call: JudgeCall, config: JudgeConfig, summary: JudgeSummary) -> Verdict:
    rubric = get_rubric(p.request.rubric)
    version = verdict_version(p.rules, rubric.id, rubric.version, config)
    rules_part = {"label": p.rules.label, "score": p.rules.score, "evidence": p.rules.evidence}
    if call.verdict is None:
        summary.failed += 1
        summary.unscored += 1
        return Verdict.unscored(p.rules.grader, version, {"decided_by": "judge", "rules": rules_part,
                                                          "judge_error": call.error})
    if not call.verdict.scored:
        summary.unscored += 1
        return Verdict.unscored(p.rules.grader, version, {"decided_by": "judge", "rules": rules_part,
                                                          "judge": call.verdict.to_dict()})
    decided = p.hook.verdict(p.item, p.rules, call.verdict)
    summary.decided += 1
    summary.disagreements += decided.label != p.rules.label
    return dataclasses.replace(decided, version=version)


async def grade_with_judge(journal: Journal, target: Target, config: JudgeConfig, *,
                           cache: ResponseCache | None = None,
                           on_call: Callable[[JudgeCall], None] | None = None) -> JudgeSummary:
    """Grade every ok record, asking ``target`` where ``config.mode`` says; write one verdict per sample.

    The caller owns ``target`` and closes it.
    """
    if target.deployment.digest != config.deployment.digest:
        raise DeploymentError("the judge target is not the configured judge deployment")
    summary = JudgeSummary(config.deployment.label, config.mode)
    final, pending = _plan(journal, config)
    by_rubric: dict[str, list[_Pending]] = {}
    for p in pending:
        by_rubric.setdefault(p.request.rubric, []).append(p)
    directory = Path(journal.path).parent / JUDGE_DIR
    for rubric_id, group in sorted(by_rubric.items()):
        rubric = get_rubric(rubric_id)
        judge_journal = open_judge_journal(directory / rubric_id, target, rubric)
        try:
            runner = JudgeRunner(target, rubric, cache=cache, journal=judge_journal)
            calls = await runner.judge_all([(p.sample_id, p.request.inputs) for p in group], on_call)
        finally:
            judge_journal.close()
        for p, call in zip(group, calls, strict=True):
            summary.asked += 1
            summary.calls["resumed" if call.resumed else "cached" if call.stats["cached_calls"] else "sent"] += 1
            summary.tokens_in += call.stats["usage"]["input_tokens"]
            summary.tokens_out += call.stats["usage"]["output_tokens"]
            final.append((p.sample_id, _decide(p, call, config, summary)))
    journal.write_verdicts([(sid, v.grader, v.to_dict()) for sid, v in final])
    journal.set_meta("judge_summary", summary.to_dict())
    return summary
