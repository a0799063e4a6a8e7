"""Paired cluster bootstrap at protocol scale: is it fast enough to run on every compare?

Workload: 10,000 items × 10 epochs = 100,000 paired samples, outcomes correlated within
an item (item pass rate ~ Beta(2, 3) for A, 0.9 × that for B), 10,000 resamples.
Timed: one ``paired_cluster_bootstrap`` call, best of 3 after a warm-up (imports and data
generation excluded). Also reported: peak memory traced by ``tracemalloc`` during one call
(numpy reports its buffers to it). Target: < 5 s on the 2-core reference machine.

    .venv/bin/python bench/stats_bootstrap.py [--items 10000] [--epochs 10] [--resamples 10000]

Last line: ``RESULT paired_bootstrap_s=… limit_s=5 ratio=…``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc

import numpy as np

from crosslab.stats.bootstrap import paired_cluster_bootstrap

LIMIT_S = 5.0


def workload(items: int, epochs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    clusters = np.repeat(np.arange(items), epochs)
    rate = rng.beta(2, 3, items)[clusters]
    u = rng.random(clusters.size)  # shared between A and B on one sample: paired outcomes correlate too
    a = (u < rate).astype(float)
    b = (np.where(rng.random(clusters.size) < 0.5, u, rng.random(clusters.size)) < 0.9 * rate).astype(float)
    return a, b, clusters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--resamples", type=int, default=10_000)
    args = parser.parse_args()

    a, b, clusters = workload(args.items, args.epochs)
    paired_cluster_bootstrap(a, b, clusters, resamples=200, seed=99)  # warm-up
    times = []
    for seed in range(3):
        start = time.perf_counter()
        diff = paired_cluster_bootstrap(a, b, clusters, resamples=args.resamples, seed=seed)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    paired_cluster_bootstrap(a, b, clusters, resamples=args.resamples, seed=0)
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    best = min(times)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}")
    print("| samples | clusters | B | runs (s) | best (s) | peak memory |")
    print("|---|---|---|---|---|---|")
    print(f"| {a.size:,} | {args.items:,} | {args.resamples:,} | {', '.join(f'{t:.3f}' for t in times)} "
          f"| {best:.3f} | {peak_mb:.0f} MB |")
    print(f"difference A - B = {diff.estimate:+.4f} [{diff.low:+.4f}, {diff.high:+.4f}], p = {diff.p_value:.3g}; "
          f"{diff.method}")
    print(f"target < {LIMIT_S:g} s: {'met' if best < LIMIT_S else 'MISSED'} ({best / LIMIT_S:.1%} of the limit)")
    print(f"RESULT paired_bootstrap_s={best:.3f} limit_s={LIMIT_S:g} ratio={best / LIMIT_S:.3f}")


if __name__ == "__main__":
    main()
