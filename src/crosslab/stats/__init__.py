"""Statistics for crosslab reports: intervals, paired comparisons, multiplicity, power.

Each module holds one idea; see docs/statistics.md for what they mean to a reader.
"""

from __future__ import annotations

from crosslab.stats.bootstrap import (
    Difference,
    cluster_bootstrap_mean,
    paired_cluster_bootstrap,
)
from crosslab.stats.intervals import (
    Interval,
    RareEventBound,
    clopper_pearson,
    rare_event_bound,
    wilson,
)
from crosslab.stats.multiplicity import adjust, benjamini_hochberg, holm
from crosslab.stats.paired import mcnemar_exact, paired_binary
from crosslab.stats.power import (
    detectable_rate_upper_bound,
    rollouts_to_observe,
    samples_to_detect_difference,
)

__all__ = [
    "Difference",
    "Interval",
    "RareEventBound",
    "adjust",
    "benjamini_hochberg",
    "clopper_pearson",
    "cluster_bootstrap_mean",
    "detectable_rate_upper_bound",
    "holm",
    "mcnemar_exact",
    "paired_binary",
    "paired_cluster_bootstrap",
    "rare_event_bound",
    "rollouts_to_observe",
    "samples_to_detect_difference",
    "wilson",
]
