"""Cluster bootstrap for means of correlated samples, alone and paired.

Samples of one item (its epochs and variants) are not independent: a model that
fails an item tends to fail it every time. Treating them as independent would make
intervals too narrow, so we resample whole items (clusters) with replacement and
recompute the overall mean (sum of values / number of samples over the drawn items).

Speed: values are first reduced to per-cluster sums and counts, so a resample costs
one gather over clusters, not over samples. Cluster indices are drawn in chunks of
at most ``CHUNK_ELEMENTS`` so memory stays bounded (~100 MB) whatever B and the
number of clusters are. Results depend only on the data, B and the seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from crosslab.stats.intervals import Interval, check_level

CHUNK_ELEMENTS = 4_000_000  # cluster draws per chunk: 32 MB of indices + 32 MB of gathered values


@dataclass(frozen=True)
class Difference:
    """A paired difference A - B with its interval and a two-sided p-value for "no difference"."""

    estimate: float
    low: float
    high: float
    level: float
    p_value: float
    method: str
    n_pairs: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Clusters:
    """Per-cluster totals: all a resample needs."""

    sums: NDArray[np.float64]  # per-cluster sum of values
    counts: NDArray[np.float64]  # per-cluster number of samples

    @property
    def balanced(self) -> bool:
        return bool(np.all(self.counts == self.counts[0]))


def _prepare(values: ArrayLike, clusters: ArrayLike, *,
             name: str = "values") -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    v = np.asarray(values, dtype=np.float64)
    c = np.asarray(clusters)
    if v.ndim != 1 or c.ndim != 1:
        raise ValueError(f"{name} and clusters must be 1-D arrays")
    if v.shape != c.shape:
        raise ValueError(f"{name} and clusters must have the same length, got {v.size} and {c.size}")
    if v.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    _, codes = np.unique(c, return_inverse=True)
    return v, codes.reshape(-1)


def _check_resamples(resamples: int) -> int:
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) or resamples < 1:
        raise ValueError(f"resamples must be a positive integer, got {resamples!r}")
    return int(resamples)


def _totals(values: NDArray[np.float64], codes: NDArray[np.intp]) -> _Clusters:
    n_clusters = int(codes.max()) + 1
    if n_clusters < 2:
        raise ValueError("the cluster bootstrap needs at least 2 clusters (items); got 1, "
                         "so nothing can be said about variation between items")
    sums = np.bincount(codes, weights=values, minlength=n_clusters)
    counts = np.bincount(codes, minlength=n_clusters).astype(np.float64)
    return _Clusters(sums, counts)


def _resampled_means(totals: _Clusters, resamples: int, seed: int) -> NDArray[np.float64]:
    """B bootstrap replicates of sum(values) / n(samples) over clusters drawn with replacement."""
    rng = np.random.default_rng(seed)
    g = totals.sums.size
    out = np.empty(resamples, dtype=np.float64)
    chunk = max(1, CHUNK_ELEMENTS // g)
    fixed_n = float(totals.counts[0] * g) if totals.balanced else None
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        idx = rng.integers(0, g, size=(stop - start, g))
        num = np.take(totals.sums, idx).sum(axis=1)
        den = fixed_n if fixed_n is not None else np.take(totals.counts, idx).sum(axis=1)
        out[start:stop] = num / den
    return out


def _percentile(replicates: NDArray[np.float64], level: float) -> tuple[float, float]:
    tail = (1 - level) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail])
    return float(low), float(high)


def _describe(kind: str, resamples: int, n_clusters: int) -> str:
    return f"{kind}, percentile, B={resamples}, {n_clusters} clusters"


def cluster_bootstrap_mean(values: ArrayLike, clusters: ArrayLike, *, resamples: int = 10_000,
                           level: float = 0.95, seed: int = 0) -> Interval:
    """Mean of all samples with a percentile interval from resampling clusters."""
    v, codes = _prepare(values, clusters)
    level, resamples = check_level(level), _check_resamples(resamples)
    totals = _totals(v, codes)
    estimate = float(v.mean())
    method = _describe("cluster bootstrap", resamples, totals.sums.size)
    if np.all(v == v[0]):  # no variation at all: every replicate equals the estimate
        return Interval(estimate, estimate, estimate, level, method)
    low, high = _percentile(_resampled_means(totals, resamples, seed), level)
    return Interval(estimate, low, high, level, method)


def paired_cluster_bootstrap(a: ArrayLike, b: ArrayLike, clusters: ArrayLike, *, resamples: int = 10_000,
                             level: float = 0.95, seed: int = 0) -> Difference:
    """mean(a) - mean(b) over aligned samples, resampling clusters jointly for both.

    Resampling the pair together keeps the item-level correlation between A and B,
    which is what makes a paired comparison sharper than two separate intervals.
    The p-value shifts the bootstrap distribution to the null (difference 0):
    p = (1 + #{|d* - d| >= |d|}) / (1 + B), and p = 1 when d = 0.
    """
    va, codes = _prepare(a, clusters, name="a")
    vb, _ = _prepare(b, clusters, name="b")
    level, resamples = check_level(level), _check_resamples(resamples)
    diff = va - vb
    totals = _totals(diff, codes)
    estimate = float(diff.sum() / diff.size)
    method = _describe("paired cluster bootstrap", resamples, totals.sums.size)
    if np.all(diff == diff[0]):  # every replicate equals the estimate
        p = 1.0 if estimate == 0 else 1 / (1 + resamples)
        return Difference(estimate, estimate, estimate, level, p, method, int(diff.size))
    replicates = _resampled_means(totals, resamples, seed)
    low, high = _percentile(replicates, level)
    if estimate == 0:
        p = 1.0
    else:
        extreme = int(np.count_nonzero(np.abs(replicates - estimate) >= abs(estimate)))
        p = (1 + extreme) / (1 + resamples)
    return Difference(estimate, low, high, level, p, method, int(diff.size))
