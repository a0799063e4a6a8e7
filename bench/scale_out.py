"""Scale-out: one local worker against two Ray workers, on the loopback server at L = 50 ms.

The workload is made CPU-bound on the client on purpose: the server appends
``--answer-kb`` of text to every answer (long answers, as agent transcripts
have), so each sample costs the client real CPU (parsing the answer, then
canonicalising, hashing, journaling and grading the record) well beyond what
50 ms of latency hides, while the server's own cost stays small. One process
then tops out on one core; two Ray workers can use two.

Both runs go through ``crosslab.run.session.execute_run`` exactly as
``crosslab run`` does (journal, every record committed, grading in the
driver), against the same server, with the same items. The Ray cluster is
started before the clock (a real cluster is long-lived); its start-up is
printed apart. The loopback server runs in its own process.

Usage (from the repo root)::

    .venv/bin/python bench/scale_out.py              # N=600, answers of 256 KB, C=16 per worker
    .venv/bin/python bench/scale_out.py --quick      # a smaller N

The last line is ``RESULT key=value ...`` with ``speedup`` = Ray samples/s ÷ local samples/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from crosslab.engine.pacers import SHARED  # noqa: E402
from crosslab.items.item import Item  # noqa: E402
from crosslab.run.ray_executor import RayOptions, require_ray  # noqa: E402
from crosslab.run.session import RunConfig, create_journal, execute_run  # noqa: E402
from crosslab.suites.registry import all_environments  # noqa: E402
from crosslab.targets.registry import create_target, parse_target  # noqa: E402
from tests.support.loopback_server import running_server  # noqa: E402


def make_items(n: int) -> list[Item]:
    return [Item.model_validate({"id": f"s{i:05d}", "input": f"question {i}", "target": f"question {i}"})
            for i in range(n)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_run(url: str, items: list[Item], out: Path, concurrency: int, ray: RayOptions | None) -> float:
    SHARED.forget()
    deployment = parse_target("openai:loopback", {"base_url": url + "/v1", "concurrency": concurrency})
    config = RunConfig(deployment, items, {"items_file": "bench"})
    journal = create_journal(out, config)
    target = create_target(deployment)

    async def go() -> None:
        try:
            await execute_run(config, target, journal, cache=None, environments=all_environments(), ray=ray)
        finally:
            await target.aclose()

    started = time.perf_counter()
    asyncio.run(go())
    seconds = time.perf_counter() - started
    assert journal.counts()["ok"] == len(items), journal.counts()
    journal.close()
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=600)
    p.add_argument("--answer-kb", type=int, default=256, help="filler the server appends to every answer")
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--concurrency", type=int, default=16, help="calls in flight per worker")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    n = 200 if a.quick else a.n
    os.environ["OPENAI_API_KEY"] = "loopback-key"
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    items = make_items(n)
    ray = require_ray()
    started = time.perf_counter()
    ray.init(num_cpus=a.workers, include_dashboard=False, log_to_driver=False, object_store_memory=128 * 1024 * 1024)
    print(f"ray cluster start: {time.perf_counter() - started:.1f} s (not in the timings below)")
    tmp = Path(tempfile.mkdtemp(prefix="scale-out-"))
    try:
        with running_server(latency=a.latency, answer_kb=a.answer_kb) as srv:
            timed_run(srv.url, items[:20], tmp / "warm", a.concurrency, RayOptions(a.workers))  # workers imported
            server_cpu = cpu_seconds(srv.process.pid)
            local_s = timed_run(srv.url, items, tmp / "local", a.concurrency, None)
            local_server = cpu_seconds(srv.process.pid) - server_cpu
            server_cpu = cpu_seconds(srv.process.pid)
            ray_s = timed_run(srv.url, items, tmp / "ray", a.concurrency, RayOptions(a.workers))
            ray_server = cpu_seconds(srv.process.pid) - server_cpu
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    local_rate, ray_rate = n / local_s, n / ray_s
    ideal = a.concurrency / a.latency
    print(f"N={n} answers +{a.answer_kb} KB L={a.latency * 1000:.0f} ms C={a.concurrency} per worker "
          f"(latency-bound ideal per worker: {ideal:.0f}/s)")
    cores = os.cpu_count() or 1
    print(f"local, 1 worker:  {local_s:6.1f} s  {local_rate:7.1f} samples/s · the server used "
          f"{local_server / local_s:.2f} of {cores} cores")
    print(f"ray, {a.workers} workers:   {ray_s:6.1f} s  {ray_rate:7.1f} samples/s ({ray_rate / a.workers:.1f} per worker) · "
          f"the server used {ray_server / ray_s:.2f} of {cores} cores")
    print(f"RESULT n={n} answer_kb={a.answer_kb} latency_ms={a.latency * 1000:.0f} concurrency={a.concurrency} "
          f"workers={a.workers} local_per_s={local_rate:.1f} ray_per_s={ray_rate:.1f} "
          f"speedup={ray_rate / local_rate:.2f} server_cores_local={local_server / local_s:.2f} "
          f"server_cores_ray={ray_server / ray_s:.2f}")


if __name__ == "__main__":
    main()
