"""crosslab.stats against reference implementations (scipy, statsmodels) and published values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint, proportion_effectsize

from crosslab.stats import bootstrap
from crosslab.stats.bootstrap import (
    Difference,
    cluster_bootstrap_mean,
    paired_cluster_bootstrap,
)
from crosslab.stats.intervals import Interval, clopper_pearson, rare_event_bound, wilson
from crosslab.stats.multiplicity import adjust, benjamini_hochberg, holm
from crosslab.stats.paired import mcnemar_exact, paired_binary
from crosslab.stats.power import (
    detectable_rate_upper_bound,
    rollouts_to_observe,
    samples_to_detect_difference,
)

COUNTS = [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (0, 300), (1, 300), (150, 300), (299, 300),
          (7, 1000), (500, 1000), (1, 100_000)]
LEVELS = [0.8, 0.9, 0.95, 0.99]


# --- intervals ---------------------------------------------------------------------------------

@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("k,n", COUNTS)
def test_wilson_matches_statsmodels(k, n, level):
    iv = wilson(k, n, level)
    low, high = proportion_confint(k, n, alpha=1 - level, method="wilson")
    assert iv.low == pytest.approx(low, abs=1e-12) and iv.high == pytest.approx(high, abs=1e-12)
    assert iv.estimate == k / n and iv.level == level and iv.method == "Wilson score"
    assert 0.0 <= iv.low <= iv.estimate <= iv.high <= 1.0


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("k,n", COUNTS)
def test_clopper_pearson_matches_statsmodels(k, n, level):
    iv = clopper_pearson(k, n, level)
    low, high = proportion_confint(k, n, alpha=1 - level, method="beta")
    low, high = (0.0 if math.isnan(low) else low), (1.0 if math.isnan(high) else high)
    assert iv.low == pytest.approx(low, abs=1e-12) and iv.high == pytest.approx(high, abs=1e-12)
    assert iv.method == "Clopper-Pearson exact"


def test_interval_to_dict():
    d = wilson(3, 10).to_dict()
    assert d == {"estimate": 0.3, "low": d["low"], "high": d["high"], "level": 0.95, "method": "Wilson score"}
    assert isinstance(wilson(3, 10), Interval)


def test_rare_event_bound_text_and_value():
    bound = rare_event_bound(0, 300)
    assert str(bound) == "0/300, ≤ 1.0 % (95 %)"
    assert bound.upper == pytest.approx(1 - 0.05 ** (1 / 300), rel=1e-14)
    assert bound.upper == pytest.approx(0.009936, abs=1e-6)
    assert str(rare_event_bound(0, 30, 0.99)) == "0/30, ≤ 14.2 % (99 %)"
    assert str(rare_event_bound(0, 3000, 0.999)) == "0/3000, ≤ 0.2 % (99.9 %)"
    # k > 0: the exact one-sided Clopper-Pearson bound, i.e. the upper end of a two-sided 90 % interval
    assert rare_event_bound(2, 300).upper == pytest.approx(clopper_pearson(2, 300, 0.90).high, rel=1e-12)
    assert rare_event_bound(300, 300).upper == 1.0
    assert detectable_rate_upper_bound(300) == bound.upper


@pytest.mark.parametrize("call", [
    lambda: wilson(0, 0), lambda: wilson(-1, 10), lambda: wilson(11, 10), lambda: wilson(1, 10, 1.0),
    lambda: wilson(1, 10, 0.0), lambda: wilson(1, 10, 95), lambda: wilson(1.5, 10),
    lambda: wilson(1, 10, float("nan")), lambda: clopper_pearson(5, 4), lambda: clopper_pearson(1, -3),
    lambda: rare_event_bound(0, 0), lambda: rare_event_bound(0, 10, 1.5), lambda: rare_event_bound(True, 10),
])
def test_interval_bad_input(call):
    with pytest.raises(ValueError):
        call()


def test_error_messages_say_what_is_wrong():
    with pytest.raises(ValueError, match="n must be positive"):
        wilson(0, 0)
    with pytest.raises(ValueError, match=r"0 <= k <= n"):
        clopper_pearson(11, 10)
    with pytest.raises(ValueError, match="level"):
        rare_event_bound(0, 10, 1.0)


# --- McNemar and the paired binary interval ----------------------------------------------------

@pytest.mark.parametrize("b,c", [(0, 0), (0, 1), (1, 0), (5, 5), (6, 16), (16, 6), (0, 12), (30, 12),
                                 (100, 80), (1, 400)])
def test_mcnemar_matches_statsmodels_and_binomtest(b, c):
    p = mcnemar_exact(b, c)
    assert p == pytest.approx(mcnemar([[10, b], [c, 10]], exact=True).pvalue, rel=1e-10, abs=1e-300)
    if b + c:
        assert p == pytest.approx(binomtest(b, b + c, 0.5).pvalue, rel=1e-10, abs=1e-300)
    else:
        assert p == 1.0


def test_mcnemar_bad_input():
    for b, c in [(-1, 3), (1.5, 2), (True, 2)]:
        with pytest.raises(ValueError):
            mcnemar_exact(b, c)


def _pairs(both: int, only_a: int, only_b: int, neither: int) -> tuple[list[bool], list[bool]]:
    a = [True] * both + [True] * only_a + [False] * only_b + [False] * neither
    b = [True] * both + [False] * only_a + [True] * only_b + [False] * neither
    return a, b


def test_newcombe_paired_interval_published_example():
    """Cavo et al. (2012) as worked in Fagerland, Lydersen & Laake, *Statistical Analysis of
    Contingency Tables* (2017), ch. 8: Newcombe square-and-add -0.0621 (-0.1186 to -0.0046)."""
    d = paired_binary(*_pairs(59, 6, 16, 80))
    assert isinstance(d, Difference)
    assert d.estimate == pytest.approx(-10 / 161)
    assert round(d.low, 4) == -0.1186 and round(d.high, 4) == -0.0046
    assert d.p_value == pytest.approx(mcnemar([[59, 6], [16, 80]], exact=True).pvalue)
    assert d.n_pairs == 161 and "Newcombe" in d.method and "McNemar" in d.method


def test_paired_binary_edge_cases():
    same = paired_binary(*_pairs(3, 0, 0, 7))
    assert same.estimate == 0.0 and same.p_value == 1.0 and same.low < 0 < same.high
    all_a = paired_binary(*_pairs(0, 40, 0, 0))  # A always passes, B never
    assert all_a.estimate == 1.0 and all_a.high == 1.0 and all_a.low > 0.8 and all_a.p_value < 1e-11
    swapped = paired_binary(*_pairs(5, 2, 9, 20)[::-1])
    forward = paired_binary(*_pairs(5, 2, 9, 20))
    assert swapped.estimate == -forward.estimate
    assert swapped.low == pytest.approx(-forward.high) and swapped.high == pytest.approx(-forward.low)
    assert paired_binary([1, 0, 1], [0.0, 0.0, 1.0]).estimate == pytest.approx(1 / 3)
    for a, b in [([True], [True, False]), ([], []), ([0.5], [1]), (["yes"], [True])]:
        with pytest.raises(ValueError):
            paired_binary(a, b)


# --- multiplicity ------------------------------------------------------------------------------

P_SETS = [
    [0.01, 0.04, 0.03, 0.5],
    [0.2, 0.001, 0.049, 0.049, 0.9, 0.0],
    [1.0],
    [0.04, 0.04, 0.04],
    list(np.random.default_rng(7).uniform(0, 0.2, 25)),
]


@pytest.mark.parametrize("ps", P_SETS)
def test_holm_and_bh_match_statsmodels(ps):
    assert holm(ps) == pytest.approx(list(multipletests(ps, method="holm")[1]), abs=1e-15)
    assert benjamini_hochberg(ps) == pytest.approx(list(multipletests(ps, method="fdr_bh")[1]), abs=1e-15)
    assert adjust(ps, "holm") == holm(ps) and adjust(ps, "bh") == benjamini_hochberg(ps)
    for adjusted in (holm(ps), benjamini_hochberg(ps)):
        assert all(raw <= adj <= 1.0 for raw, adj in zip(ps, adjusted, strict=True))
        order = np.argsort(ps, kind="stable")
        assert all(np.diff(np.asarray(adjusted)[order]) >= 0)  # monotone in the raw p


def test_multiplicity_edge_and_bad_input():
    assert holm([]) == [] and benjamini_hochberg([]) == []
    with pytest.raises(ValueError, match="'holm' or 'bh'"):
        adjust([0.1], "bonferroni")  # type: ignore[arg-type]
    for bad in ([1.2], [-0.1], [float("nan")]):
        with pytest.raises(ValueError):
            holm(bad)


# --- power ------------------------------------------------------------------------------------

def test_rollouts_to_observe():
    assert rollouts_to_observe(0.01, 0.8) == 161
    for rate in (0.5, 0.1, 0.01, 0.003, 1e-4):
        for power in (0.5, 0.8, 0.95):
            n = rollouts_to_observe(rate, power)
            assert 1 - (1 - rate) ** n >= power > 1 - (1 - rate) ** (n - 1)
    assert rollouts_to_observe(1.0) == 1
    for bad in [(0.0, 0.8), (1.5, 0.8), (0.1, 1.0), (0.1, 0.0)]:
        with pytest.raises(ValueError):
            rollouts_to_observe(*bad)


PA_PB = [(0.3, 0.2), (0.2, 0.3), (0.05, 0.01), (0.5, 0.45), (0.9, 0.6), (0.02, 0.0), (0.99, 0.95)]


def statsmodels_n(pa: float, pb: float, alpha: float, power: float) -> float:
    return NormalIndPower().solve_power(effect_size=proportion_effectsize(pa, pb), alpha=alpha, power=power,
                                        ratio=1.0, alternative="two-sided")


@pytest.mark.parametrize("pa,pb", PA_PB)
@pytest.mark.parametrize("alpha,power", [(0.05, 0.8), (0.01, 0.9), (0.1, 0.9), (0.05, 0.95)])
def test_samples_to_detect_difference_matches_statsmodels(pa, pb, alpha, power):
    expected = math.ceil(statsmodels_n(pa, pb, alpha, power))
    assert samples_to_detect_difference(pa, pb, alpha=alpha, power=power) == expected


@pytest.mark.parametrize("pa,pb", PA_PB)
def test_samples_to_detect_difference_at_low_power(pa, pb):
    """statsmodels also counts rejections in the wrong direction as power; that only matters
    when power is low (here 0.5), and there our closed form asks for slightly more, never fewer."""
    ours = samples_to_detect_difference(pa, pb, alpha=0.1, power=0.5)
    assert math.ceil(statsmodels_n(pa, pb, 0.1, 0.5)) <= ours <= 1.01 * statsmodels_n(pa, pb, 0.1, 0.5) + 1


def test_samples_to_detect_difference_worked_example():
    assert samples_to_detect_difference(0.30, 0.20) == 292


def test_power_bad_input():
    for call in (lambda: samples_to_detect_difference(0.2, 0.2),
                 lambda: samples_to_detect_difference(1.2, 0.2),
                 lambda: samples_to_detect_difference(0.3, 0.2, alpha=0.0),
                 lambda: samples_to_detect_difference(0.3, 0.2, power=1.0),
                 lambda: detectable_rate_upper_bound(0)):
        with pytest.raises(ValueError):
            call()


# --- bootstrap --------------------------------------------------------------------------------

def clustered(seed: int, items: int = 60, epochs: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rates = rng.beta(2, 5, items)
    clusters = np.repeat(np.arange(items), epochs)
    a = (rng.random(clusters.size) < rates[clusters]).astype(float)
    b = (rng.random(clusters.size) < 0.5 * rates[clusters]).astype(float)
    return a, b, clusters


def naive_cluster_bootstrap(values, clusters, resamples, seed):
    """Sample-level reference: concatenate the drawn clusters' samples, take their mean."""
    rng = np.random.default_rng(seed)
    ids = np.unique(clusters)
    members = [values[clusters == c] for c in ids]
    out = np.empty(resamples)
    for r in range(resamples):
        drawn = rng.integers(0, ids.size, ids.size)
        out[r] = np.concatenate([members[i] for i in drawn]).mean()
    return np.quantile(out, [0.025, 0.975]), out


def test_bootstrap_is_deterministic_given_a_seed():
    rng = np.random.default_rng(1)
    cl = np.repeat(np.arange(60), 4)
    a = rng.normal(size=cl.size) + np.repeat(rng.normal(size=60), 4)  # continuous scores: no ties
    b = a - 0.1 + rng.normal(scale=0.5, size=cl.size)

    def mean(seed: int) -> Interval:
        return cluster_bootstrap_mean(a, cl, resamples=2000, seed=seed)

    def diff(seed: int) -> Difference:
        return paired_cluster_bootstrap(a, b, cl, resamples=2000, seed=seed)

    assert mean(5) == mean(5) and diff(5) == diff(5)
    assert mean(5).low != mean(6).low and mean(5).high != mean(6).high
    assert diff(5).low != diff(6).low and diff(5).p_value != diff(6).p_value
    assert mean(5).estimate == mean(6).estimate == pytest.approx(a.mean())


def test_bootstrap_agrees_with_a_sample_level_reference():
    """Unequal cluster sizes and non-binary scores: the ratio estimator over drawn clusters."""
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 8, 80)
    cl = np.repeat(rng.permutation(1000)[:80], sizes)  # arbitrary, non-contiguous labels
    values = rng.beta(1, 3, cl.size) + 0.3 * np.repeat(rng.normal(size=80), sizes)
    (ref_low, ref_high), ref = naive_cluster_bootstrap(values, cl, 4000, 11)
    iv = cluster_bootstrap_mean(values, cl, resamples=4000, seed=12)
    tol = 0.15 * ref.std()
    assert iv.estimate == pytest.approx(values.mean())
    assert iv.low == pytest.approx(ref_low, abs=tol) and iv.high == pytest.approx(ref_high, abs=tol)
    assert iv.method == "cluster bootstrap, percentile, B=4000, 80 clusters"


def test_bootstrap_is_wider_than_an_iid_interval_when_items_are_correlated():
    rng = np.random.default_rng(4)
    cl = np.repeat(np.arange(50), 10)
    values = (rng.random(cl.size) < rng.beta(0.5, 0.5, 50)[cl]).astype(float)
    iv = cluster_bootstrap_mean(values, cl, resamples=4000)
    iid = wilson(int(values.sum()), values.size)
    assert iv.high - iv.low > 2 * (iid.high - iid.low)


def test_chunked_draws_cover_every_resample(monkeypatch):
    a, _, cl = clustered(2)
    whole = cluster_bootstrap_mean(a, cl, resamples=3001, seed=1)
    monkeypatch.setattr(bootstrap, "CHUNK_ELEMENTS", 7 * 60)  # 7 resamples per chunk, last one short
    chunked = cluster_bootstrap_mean(a, cl, resamples=3001, seed=1)
    spread = whole.high - whole.low
    assert chunked.low == pytest.approx(whole.low, abs=0.1 * spread)
    assert chunked.high == pytest.approx(whole.high, abs=0.1 * spread)
    replicates = bootstrap._resampled_means(bootstrap._totals(a, cl), 3001, 1)
    assert replicates.shape == (3001,) and np.all((replicates >= 0) & (replicates <= 1))


def test_bootstrap_without_variance_gives_a_zero_width_interval():
    cl = np.repeat(np.arange(20), 3)
    for value in (0.0, 1.0, 0.3):
        iv = cluster_bootstrap_mean(np.full(cl.size, value), cl)
        assert iv.low == iv.estimate == iv.high == pytest.approx(value)
    d = paired_cluster_bootstrap(np.ones(cl.size), np.zeros(cl.size), cl, resamples=999)
    assert d.estimate == d.low == d.high == 1.0 and d.p_value == 1 / 1000


def test_paired_bootstrap_p_values():
    a, b, cl = clustered(5, items=100)
    same = paired_cluster_bootstrap(a, a.copy(), cl)
    assert same.estimate == 0.0 and same.p_value == 1.0 and same.low == same.high == 0.0
    d = paired_cluster_bootstrap(a, b, cl)
    assert d.estimate == pytest.approx(a.mean() - b.mean())
    assert d.p_value < 0.001 and d.low > 0 and d.n_pairs == a.size
    assert d.method == "paired cluster bootstrap, percentile, B=10000, 100 clusters"
    # noise only: b is a with outcomes shuffled within each item, so the true difference is 0
    rng = np.random.default_rng(8)
    shuffled = a.copy()
    for c in range(100):
        shuffled[cl == c] = rng.permutation(a[cl == c])
    b_noise = np.where(rng.random(a.size) < 0.5, a, shuffled)
    noise = paired_cluster_bootstrap(a, b_noise, cl)
    assert noise.p_value > 0.05 or noise.estimate == 0.0
    assert d.to_dict()["p_value"] == d.p_value and set(d.to_dict()) == {
        "estimate", "low", "high", "level", "p_value", "method", "n_pairs"}


def test_paired_bootstrap_is_narrower_than_the_unpaired_difference():
    """Pairing removes the item-to-item variation both targets share."""
    a, b, cl = clustered(6, items=100)
    d = paired_cluster_bootstrap(a, b, cl, resamples=4000)
    ia = cluster_bootstrap_mean(a, cl, resamples=4000)
    ib = cluster_bootstrap_mean(b, cl, resamples=4000)
    unpaired_half = math.hypot((ia.high - ia.low) / 2, (ib.high - ib.low) / 2)
    assert (d.high - d.low) / 2 < unpaired_half


@pytest.mark.parametrize("call", [
    lambda: cluster_bootstrap_mean([], []),
    lambda: cluster_bootstrap_mean([1.0, 0.0], [0]),
    lambda: cluster_bootstrap_mean([[1.0, 0.0]], [[0, 1]]),
    lambda: cluster_bootstrap_mean([1.0, float("nan")], [0, 1]),
    lambda: cluster_bootstrap_mean([1.0, 0.0], [0, 0]),  # one cluster: nothing to resample
    lambda: cluster_bootstrap_mean([1.0, 0.0], [0, 1], resamples=0),
    lambda: cluster_bootstrap_mean([1.0, 0.0], [0, 1], level=1.0),
    lambda: paired_cluster_bootstrap([1.0, 0.0], [1.0], [0, 1]),
])
def test_bootstrap_bad_input(call):
    with pytest.raises(ValueError):
        call()
