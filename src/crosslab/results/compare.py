"""Compare two runs of the same items: per category and slice, A, B, and the
paired difference with an interval and a multiplicity-adjusted p-value.

Samples are paired by (item, variant, epoch), so each item is compared with
itself; error samples and samples graded in only one run are left out of the
pairing (and counted). Method choice, per row:

- one binary outcome per item: Wilson intervals, exact McNemar p, Newcombe's
  paired interval for the difference;
- anything else (several epochs or variants per item, or non-binary scores):
  cluster bootstrap with clusters = items, and the paired cluster bootstrap.

The same comparison serves "model A vs model B" and "this generation vs its
predecessor"; ``min_effect`` sets the smallest difference worth calling one.
Scores are read as adjudicated (docs/review.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from crosslab.engine.journal import Journal
from crosslab.review.apply import reviewed_verdicts
from crosslab.stats.bootstrap import (
    Difference,
    cluster_bootstrap_mean,
    paired_cluster_bootstrap,
)
from crosslab.stats.intervals import Interval, RareEventBound, rare_event_bound, wilson
from crosslab.stats.multiplicity import adjust
from crosslab.stats.paired import paired_binary

UnitKey = tuple[str, str, int]  # (item id, variant, epoch)
#: Resampling one item can't show variation between items: such rows get no interval.
MIN_ITEMS_FOR_BOOTSTRAP = 2
#: At or below this many events, a rate is also reported as an exact upper bound ("0/300, ≤ 1.0 %").
FEW_EVENTS = 5
ALL = "all"


@dataclass
class RunOutcomes:
    """One run's graded scores, keyed by sample unit, with each item's category and slice."""

    label: str
    digest: str
    scores: dict[UnitKey, float] = field(default_factory=dict)
    groups: dict[str, tuple[str, str]] = field(default_factory=dict)  # item id -> (category, slice)
    errors: int = 0


def load_outcomes(journal: Journal, grader: str | None = None) -> RunOutcomes:
    """Read a graded journal. ``grader`` picks a verdict when samples have several."""
    meta = journal.meta()
    dep = meta["deployment"]
    out = RunOutcomes(f"{dep['provider']}:{dep['model']}", meta["target_digest"])
    verdicts = reviewed_verdicts(journal)
    for record in journal.records():
        out.groups[record["item_id"]] = (record["category"], record["slice"] or ALL)
        if record["status"] == "error":
            out.errors += 1
            continue
        by_grader = verdicts.get(record["sample_id"], {})
        if not by_grader:
            continue
        if grader is None:
            if len(by_grader) > 1:
                raise ValueError(f"samples carry several verdicts ({', '.join(sorted(by_grader))}); pick one")
            verdict = next(iter(by_grader.values()))
        elif grader in by_grader:
            verdict = by_grader[grader]
        else:
            continue
        if verdict.get("score") is not None:  # an unscored judge reply has no score to compare
            out.scores[(record["item_id"], record["variant"], record["epoch"])] = float(verdict["score"])
    return out


@dataclass
class Row:
    category: str
    slice: str
    a: Interval | None
    b: Interval | None
    n_a: int
    n_b: int
    n_pairs: int
    difference: Difference | None
    p_adjusted: float | None = None
    verdict: str = "no data"
    rare_a: RareEventBound | None = None
    rare_b: RareEventBound | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category, "slice": self.slice, "n_a": self.n_a, "n_b": self.n_b,
            "n_pairs": self.n_pairs,
            "a": self.a.to_dict() if self.a else None, "b": self.b.to_dict() if self.b else None,
            "difference": self.difference.to_dict() if self.difference else None,
            "p_adjusted": self.p_adjusted, "verdict": self.verdict,
            "rare_event_bound_a": self.rare_a.to_dict() if self.rare_a else None,
            "rare_event_bound_b": self.rare_b.to_dict() if self.rare_b else None,
        }


@dataclass
class Comparison:
    a: RunOutcomes
    b: RunOutcomes
    rows: list[Row]
    alpha: float
    correction: str
    min_effect: float
    unpaired: int  # graded units present in only one run

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": {"target": self.a.label, "digest": self.a.digest, "errors": self.a.errors},
            "b": {"target": self.b.label, "digest": self.b.digest, "errors": self.b.errors},
            "alpha": self.alpha, "correction": self.correction, "min_effect": self.min_effect,
            "unpaired_samples": self.unpaired, "metric": "mean verdict score (pass rate for pass/fail graders)",
            "rows": [r.to_dict() for r in self.rows],
        }


def _rare(scores: dict[UnitKey, float], level: float) -> RareEventBound | None:
    """The exact bound for few events; only for independent samples (one per item)."""
    if not scores or not _is_simple_binary(scores):
        return None
    k = int(sum(scores.values()))
    return rare_event_bound(k, len(scores), level) if k <= FEW_EVENTS else None


def _is_simple_binary(scores: dict[UnitKey, float]) -> bool:
    """One 0/1 outcome per item: the exact, closed-form methods apply."""
    items = [k[0] for k in scores]
    return len(items) == len(set(items)) and all(v in (0.0, 1.0) for v in scores.values())


def _rate(scores: dict[UnitKey, float], level: float, resamples: int, seed: int) -> Interval | None:
    if not scores:
        return None
    if _is_simple_binary(scores):
        return wilson(int(sum(scores.values())), len(scores), level)
    values, clusters = _arrays(list(scores), scores)
    if len(set(clusters.tolist())) < MIN_ITEMS_FOR_BOOTSTRAP:
        return None
    return cluster_bootstrap_mean(values, clusters, resamples=resamples, level=level, seed=seed)


def _arrays(keys: list[UnitKey], scores: dict[UnitKey, float]) -> tuple[np.ndarray, np.ndarray]:
    index: dict[str, int] = {}
    clusters = np.fromiter((index.setdefault(k[0], len(index)) for k in keys), dtype=np.int64, count=len(keys))
    return np.fromiter((scores[k] for k in keys), dtype=float, count=len(keys)), clusters


def _difference(keys: list[UnitKey], a: dict[UnitKey, float], b: dict[UnitKey, float], level: float,
                resamples: int, seed: int) -> Difference | None:
    if not keys:
        return None
    pa = {k: a[k] for k in keys}
    pb = {k: b[k] for k in keys}
    if _is_simple_binary(pa) and _is_simple_binary(pb):
        return paired_binary([pa[k] == 1.0 for k in keys], [pb[k] == 1.0 for k in keys], level)
    va, clusters = _arrays(keys, pa)
    vb, _ = _arrays(keys, pb)
    if len(set(clusters.tolist())) < MIN_ITEMS_FOR_BOOTSTRAP:
        return None
    return paired_cluster_bootstrap(va, vb, clusters, resamples=resamples, level=level, seed=seed)


def _verdict(row: Row, alpha: float, min_effect: float) -> str:
    diff, p_adj = row.difference, row.p_adjusted
    if row.n_pairs == 0:
        return "no data"
    if diff is None or p_adj is None:
        return "too few items"
    if p_adj >= alpha:
        return "no detectable difference"
    if abs(diff.estimate) < min_effect:
        return "below minimum effect"
    return "better" if diff.estimate > 0 else "worse"


def compare_runs(a: RunOutcomes, b: RunOutcomes, *, alpha: float = 0.05,
                 correction: Literal["holm", "bh"] = "holm", min_effect: float = 0.0,
                 level: float = 0.95, resamples: int = 10_000, seed: int = 0) -> Comparison:
    """A vs B for every (category, slice), every category, and overall."""
    groups = {**b.groups, **a.groups}
    members: dict[tuple[str, str], set[str]] = defaultdict(set)
    for item_id, (category, slice_) in groups.items():
        for key in {(category, slice_), (category, ALL), (ALL, ALL)}:
            members[key].add(item_id)
    # a category with one slice, or a run with one category, would repeat a row: keep the most specific
    distinct: dict[frozenset[str], tuple[str, str]] = {}
    for key, item_ids in sorted(members.items(), key=lambda kv: _specificity(kv[0])):
        distinct.setdefault(frozenset(item_ids), key)
    rows: list[Row] = []
    for (category, slice_) in sorted(distinct.values(), key=_row_order):
        item_ids = members[(category, slice_)]
        sa = {k: v for k, v in a.scores.items() if k[0] in item_ids}
        sb = {k: v for k, v in b.scores.items() if k[0] in item_ids}
        keys = sorted(sa.keys() & sb.keys())
        rows.append(Row(category, slice_, _rate(sa, level, resamples, seed), _rate(sb, level, resamples, seed),
                        len(sa), len(sb), len(keys), _difference(keys, sa, sb, level, resamples, seed),
                        rare_a=_rare(sa, level), rare_b=_rare(sb, level)))
    with_p = [r for r in rows if r.difference is not None]
    for row, p_adj in zip(with_p, adjust([r.difference.p_value for r in with_p], correction), strict=True):
        row.p_adjusted = p_adj
    for row in rows:
        row.verdict = _verdict(row, alpha, min_effect)
    unpaired = len(a.scores.keys() ^ b.scores.keys())
    return Comparison(a, b, rows, alpha, correction, min_effect, unpaired)


def _row_order(key: tuple[str, str]) -> tuple[int, str, int, str]:
    category, slice_ = key
    return (category == ALL, category, slice_ != ALL, slice_)


def _specificity(key: tuple[str, str]) -> int:
    """0 for a category's slice, 1 for a whole category, 2 for everything."""
    return (key[0] == ALL) + (key[1] == ALL)
