"""Benchmark the registry's transparency log: batched appends up to a million leaves, checkpoints, proofs.

For each backend (a fresh SQLite file; a fresh database on the PostgreSQL
server at --pg), the log is filled with --leaves entries of --entry-bytes
bytes in batches of --batch, each batch one transaction (``begin_write`` +
``append_many`` + commit) followed by ``publish_checkpoint``. Measured in the
same run and printed as ratios to the issue's goals:

- append rate, leaves/s over the whole fill (appends, commits and the
  checkpoint after each batch), against 10,000 leaves/s;
- time from a batch's commit to the stored, signed checkpoint that includes
  it (median / p99 / max), against 1 s;
- single-entry appends (one entry per transaction, then a checkpoint), as a
  registry taking one submission at a time does;
- at full size: inclusion and consistency proof latency (random pairs, every
  proof verified), a full tile read, and the start-up check's time.

Usage: .venv/bin/python bench/registry_log.py [--leaves 1000000] [--batch 1000]
       [--backends sqlite,postgresql] [--entry-bytes 256] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
Ends with one ``RESULT key=value …`` line.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy import text

from crosslab.attest import merkle
from crosslab.registry import db
from crosslab.registry.tlog import Checkpoint, LogKey, TransparencyLog, verify_consistency, verify_inclusion
from crosslab.transparency.tiles import encode_index

GOAL_LEAVES_PER_S = 10_000
GOAL_CHECKPOINT_S = 1.0
ORIGIN = "bench.example/log"


def _ms(xs: list[float]) -> str:
    xs = sorted(xs)
    p99 = xs[min(len(xs) - 1, int(0.99 * len(xs)))]
    return f"{1000 * statistics.median(xs):.2f} / {1000 * p99:.2f} / {1000 * xs[-1]:.2f}"


def _entry(i: int, size: int) -> bytes:
    head = f"submission {i:012d} ".encode()
    return head + bytes((i * 31 + k) & 0xFF for k in range(max(0, size - len(head))))


def bench_backend(url: str, args: argparse.Namespace, out: dict[str, float]) -> None:
    name = "pg" if url.startswith("postgresql") else "sqlite"
    db.migrate(url)
    engine = db.make_engine(url)
    key = LogKey.generate(ORIGIN)
    log = TransparencyLog(engine, key, ORIGIN)
    rng = random.Random(7)

    # batched fill
    latencies: list[float] = []
    t0 = time.perf_counter()
    mark, mark_t = 0, t0
    done = 0
    while done < args.leaves:
        n = min(args.batch, args.leaves - done)
        batch = [_entry(done + k, args.entry_bytes) for k in range(n)]
        with db.begin_write(engine) as conn:
            log.append_many(conn, batch)
        committed = time.perf_counter()
        log.publish_checkpoint()
        latencies.append(time.perf_counter() - committed)
        done += n
        if done - mark >= args.leaves // 10 or done == args.leaves:
            now = time.perf_counter()
            print(f"  {name}: {done:>9,} leaves, last {done - mark:,} at {(done - mark) / (now - mark_t):,.0f}/s",
                  file=sys.stderr, flush=True)
            mark, mark_t = done, now
    fill_s = time.perf_counter() - t0
    rate = args.leaves / fill_s
    out[f"{name}_leaves_per_s"] = rate
    out[f"{name}_rate_ratio"] = rate / GOAL_LEAVES_PER_S
    out[f"{name}_checkpoint_max_s"] = max(latencies)
    out[f"{name}_checkpoint_ratio"] = max(latencies) / GOAL_CHECKPOINT_S

    # single-entry appends, a checkpoint after each
    singles: list[float] = []
    single_cp: list[float] = []
    t1 = time.perf_counter()
    for k in range(args.singles):
        s = time.perf_counter()
        with db.begin_write(engine) as conn:
            log.append(conn, _entry(args.leaves + k, args.entry_bytes))
        committed = time.perf_counter()
        log.publish_checkpoint()
        singles.append(committed - s)
        single_cp.append(time.perf_counter() - committed)
    single_rate = args.singles / (time.perf_counter() - t1)
    out[f"{name}_single_per_s"] = single_rate
    size = log.size()

    # proofs at full size, each verified
    checkpoint = Checkpoint.parse(log.latest_checkpoint(), key.verifier, ORIGIN)
    assert checkpoint.size == size
    incl: list[float] = []
    for _ in range(args.proofs):
        i = rng.randrange(size)
        s = time.perf_counter()
        proof = log.inclusion_proof(i, size)
        incl.append(time.perf_counter() - s)
        assert verify_inclusion(_entry(i, args.entry_bytes), i, size, proof, checkpoint.root)
    cons: list[float] = []
    for _ in range(args.proofs):
        old = rng.randrange(1, size)
        s = time.perf_counter()
        proof = log.consistency_proof(old, size)
        cons.append(time.perf_counter() - s)
        assert verify_consistency(old, size, log.root(old), checkpoint.root, proof)
    tiles: list[float] = []
    for _ in range(50):
        n = rng.randrange(size // 256)
        s = time.perf_counter()
        tile = log.tile(f"tile/0/{encode_index(n)}")
        tiles.append(time.perf_counter() - s)
        assert tile[:32] == merkle.leaf_hash(_entry(n * 256, args.entry_bytes))
    out[f"{name}_inclusion_median_ms"] = 1000 * statistics.median(incl)

    # start-up check over the whole log
    s = time.perf_counter()
    log.check_on_start()
    check_s = time.perf_counter() - s
    out[f"{name}_startup_check_s"] = check_s

    with engine.connect() as conn:
        if name == "pg":
            stored = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
        else:
            stored = sum(p.stat().st_size for p in Path(url.removeprefix("sqlite:///")).parent.glob("registry.sqlite3*"))
    engine.dispose()

    print(f"\n### {name}: {args.leaves:,} leaves of {args.entry_bytes} bytes, batches of {args.batch}\n")
    print("| measure | value | goal | ratio |")
    print("|---|---|---|---|")
    print(f"| batched append, leaves/s (incl. a checkpoint per batch) | {rate:,.0f} | {GOAL_LEAVES_PER_S:,} | "
          f"{rate / GOAL_LEAVES_PER_S:.2f} |")
    print(f"| commit → signed checkpoint, ms median / p99 / max (batched) | {_ms(latencies)} | ≤ 1000 | "
          f"{max(latencies) / GOAL_CHECKPOINT_S:.4f} |")
    print(f"| single-entry append: commit ms median / p99 / max | {_ms(singles)} | | |")
    print(f"| single-entry append, entries/s (with checkpoint each) | {single_rate:,.0f} | | |")
    print(f"| commit → signed checkpoint, ms (single entries) | {_ms(single_cp)} | ≤ 1000 | "
          f"{max(single_cp) / GOAL_CHECKPOINT_S:.4f} |")
    print(f"| inclusion proof at size {size:,}, ms median / p99 / max | {_ms(incl)} | | |")
    print(f"| consistency proof, ms median / p99 / max | {_ms(cons)} | | |")
    print(f"| full level-0 tile read, ms median / p99 / max | {_ms(tiles)} | | |")
    print(f"| start-up check (recompute the whole tree), s | {check_s:.1f} | | |")
    print(f"| database size, MB | {stored / 1e6:,.0f} | | |")




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--entry-bytes", type=int, default=256)
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--proofs", type=int, default=500)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="an admin connection that may CREATE DATABASE")
    args = parser.parse_args()
    if args.leaves < 512:
        parser.error("--leaves must be at least 512")
    out: dict[str, float] = {}
    print(f"registry log benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, Python "
          f"{sys.version.split()[0]}", flush=True)
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="crosslab-bench-") as tmp:
                bench_backend(db.default_url(tmp), args, out)
        elif backend == "postgresql":
            name = f"crosslab_bench_{os.getpid()}"
            with psycopg.connect(args.pg, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            try:
                base = args.pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
                bench_backend(f"{base}/{name}", args, out)
            finally:
                with psycopg.connect(args.pg, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            parser.error(f"unknown backend {backend!r}")
    print("\nRESULT " + " ".join(f"{k}={v:.4g}" for k, v in out.items()) + f" leaves={args.leaves}")


if __name__ == "__main__":
    main()
