"""Two targets under the same adaptive attack, paired by behaviour.

A paired comparison is only fair when everything but the target is the same:
the attack spec (algorithm, parameters, budgets, seed: one digest), the
attacker and judge deployments, and the attacker prompt set. ``load_attack``
reads what an attack journal recorded, and ``compare_attacks`` refuses two
runs that differ in any of those, naming what differs.

Each behaviour attacked in both runs (status ``ok`` in both) is one pair with
one binary outcome per target: did the attack succeed at budget. Rows are
every behaviour, then each harm category; per row, the two ASRs with Wilson
intervals, the paired difference A − B with Newcombe's interval and the exact
McNemar p. The overall row is the comparison's one primary test and its p
stands as it is; the harm rows are secondary and their p values are adjusted
among themselves (Holm or Benjamini–Hochberg), so a few small harm categories
cannot hide the headline. A lower ASR is the more robust target.
Queries to first success are compared on the behaviours both targets gave
way on (target queries; the other roles are in each run's own summary).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from crosslab.attacks.aggregate import ASR_MEANING
from crosslab.attacks.journal import JOURNAL_KIND
from crosslab.core.errors import CrosslabError
from crosslab.engine.journal import Journal, JournalError
from crosslab.stats.asr import median_interval
from crosslab.stats.bootstrap import Difference
from crosslab.stats.intervals import Interval, wilson
from crosslab.stats.multiplicity import adjust
from crosslab.stats.paired import paired_binary

ALL = "all"


@dataclass
class AttackOutcomes:
    """One attack run as the comparison needs it: what was held fixed, and one result per behaviour."""

    target: str  # the target's label
    target_digest: str
    fixed: dict[str, Any]  # spec digest, attacker, judge, prompts: must match between the two runs
    success: dict[str, bool] = field(default_factory=dict)  # behaviour id -> success at budget (status ok only)
    harm: dict[str, str] = field(default_factory=dict)
    target_queries: dict[str, int] = field(default_factory=dict)  # to first success, successful behaviours
    errors: int = 0


def load_attack(journal_dir: Path) -> AttackOutcomes:
    """Read an attack journal (``<run>/attack``); JournalError when it is not one."""
    journal = Journal.open(journal_dir)
    try:
        meta = journal.meta()
        if meta.get("kind") != JOURNAL_KIND:
            raise JournalError(f"{journal_dir} is not an attack journal")
        roles = meta["roles"]
        out = AttackOutcomes(
            roles["target"]["label"], roles["target"]["digest"],
            {"attack spec": meta["spec_digest"], "attacker": roles["attacker"]["digest"],
             "judge": roles["judge"]["digest"], "attacker prompts": meta["prompts"]})
        for record in journal.records():
            if record.get("kind") != "outcome":
                continue
            result = record["result"]
            if result["status"] != "ok":
                out.errors += 1
                continue
            bid = result["behaviour_id"]
            out.success[bid] = bool(result["success"])
            out.harm[bid] = result["harm"]
            if result["success"] and result.get("queries_to_success"):
                out.target_queries[bid] = int(result["queries_to_success"]["target"])
        return out
    except (KeyError, TypeError) as exc:
        raise JournalError(f"{journal_dir}: attack journal lacks {exc}") from None
    finally:
        journal.close()


class NotComparable(CrosslabError, ValueError):
    """Two attack runs that differ in more than the target; the message names what differs."""


@dataclass
class AttackRow:
    harm: str
    n_pairs: int
    a: Interval | None
    b: Interval | None
    difference: Difference | None
    p_adjusted: float | None = None
    verdict: str = "no data"

    def to_dict(self) -> dict[str, Any]:
        return {"harm": self.harm, "n_pairs": self.n_pairs,
                "asr_a": self.a.to_dict() if self.a else None, "asr_b": self.b.to_dict() if self.b else None,
                "difference": self.difference.to_dict() if self.difference else None,
                "p_adjusted": self.p_adjusted, "verdict": self.verdict}


@dataclass
class AttackComparison:
    a: AttackOutcomes
    b: AttackOutcomes
    rows: list[AttackRow]
    alpha: float
    correction: str
    unpaired: int  # behaviours attacked (ok) in only one run
    queries: dict[str, Any]  # target queries to first success where both gave way

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "attack", "metric": "ASR at budget (lower is more robust)", "meaning": ASR_MEANING,
                "a": {"target": self.a.target, "digest": self.a.target_digest, "errors": self.a.errors},
                "b": {"target": self.b.target, "digest": self.b.target_digest, "errors": self.b.errors},
                "held_fixed": self.a.fixed, "alpha": self.alpha, "correction": self.correction,
                "unpaired_behaviours": self.unpaired, "rows": [r.to_dict() for r in self.rows],
                "target_queries_to_first_success": self.queries}


def _check_comparable(a: AttackOutcomes, b: AttackOutcomes) -> None:
    differ = [name for name in a.fixed if a.fixed[name] != b.fixed.get(name)]
    if differ:
        raise NotComparable("the two attack runs differ in " + ", ".join(differ)
                            + "; a paired comparison needs the same spec, attacker, judge and prompts "
                              "with only the target changed")


def _verdict(row: AttackRow, alpha: float) -> str:
    if row.n_pairs == 0:
        return "no data"
    if row.difference is None or row.p_adjusted is None:
        return "too few behaviours"
    if row.p_adjusted >= alpha:
        return "no detectable difference"
    return "A more robust" if row.difference.estimate < 0 else "B more robust"


def _queries(a: AttackOutcomes, b: AttackOutcomes, level: float) -> dict[str, Any]:
    both = sorted(a.target_queries.keys() & b.target_queries.keys())
    out: dict[str, Any] = {"behaviours": len(both)}
    for name, run in (("a", a), ("b", b)):
        values = sorted(run.target_queries[k] for k in both)
        ci = median_interval(values, level)
        out[name] = {"median": statistics.median(values) if values else None, "interval": list(ci) if ci else None}
    diffs = [a.target_queries[k] - b.target_queries[k] for k in both]
    out["median_difference"] = statistics.median(diffs) if diffs else None
    return out


def compare_attacks(a: AttackOutcomes, b: AttackOutcomes, *, alpha: float = 0.05,
                    correction: Literal["holm", "bh"] = "holm", level: float = 0.95) -> AttackComparison:
    """A vs B over every behaviour both runs attacked, then per harm category."""
    _check_comparable(a, b)
    paired = sorted(a.success.keys() & b.success.keys())
    harms = sorted({a.harm[k] for k in paired})
    rows = []
    for harm in [ALL, *harms] if len(harms) > 1 else [ALL]:
        keys = [k for k in paired if harm == ALL or a.harm[k] == harm]
        xa, xb = [a.success[k] for k in keys], [b.success[k] for k in keys]
        rows.append(AttackRow(harm, len(keys), wilson(sum(xa), len(xa), level) if keys else None,
                              wilson(sum(xb), len(xb), level) if keys else None,
                              paired_binary(xa, xb, level) if keys else None))
    if rows[0].difference is not None:
        rows[0].p_adjusted = rows[0].difference.p_value  # the primary test
    secondary = [r for r in rows[1:] if r.difference is not None]
    for row, p_adj in zip(secondary, adjust([r.difference.p_value for r in secondary], correction), strict=True):
        row.p_adjusted = p_adj
    for row in rows:
        row.verdict = _verdict(row, alpha)
    unpaired = len(a.success.keys() ^ b.success.keys())
    return AttackComparison(a, b, rows, alpha, correction, unpaired, _queries(a, b, level))
