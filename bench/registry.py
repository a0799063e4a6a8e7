"""Inclusion proofs over HTTP: the registry against a server answering the same bytes pre-rendered.

Fills a registry's log with N leaves (batched appends, on SQLite and on
PostgreSQL), serves it with `crosslab registry serve` (uvicorn, one process),
and asks for inclusion proofs of random leaves with C concurrent clients on
loopback. The load comes from wrk (a C load generator, Debian's ``wrk``)
when it is installed, else from an aiohttp client in this process, which
then takes most of a core from the servers it measures. The ceiling is the
same HTTP stack (uvicorn, one process) answering the same requests from a
dict of the proofs' exact bytes: what serving these bytes costs before any
log work. (The time from a submission to its signed checkpoint is measured
by bench/registry_log.py.)

    .venv/bin/python bench/registry.py [--leaves 100000] [--clients 100] [--requests 20000] [--db sqlite|postgresql]

Goals (docs/benchmarks.md): >= 2,000 proofs/s and p99 <= 50 ms on 2 cores; checkpoint <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from crosslab.registry.db import begin_write, make_engine, migrate  # noqa: E402
from crosslab.registry.service import log_key  # noqa: E402
from crosslab.registry.tlog import TransparencyLog  # noqa: E402

GOAL_RATE, GOAL_P99_MS = 2000.0, 50.0
ORIGIN = "bench.registry/log"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill(url: str, directory: Path, leaves: int) -> None:
    engine = make_engine(url)
    migrate(engine)
    log = TransparencyLog(engine, log_key(directory / "log.key", ORIGIN), ORIGIN)
    done = log.size()
    while done < leaves:
        batch = [json.dumps({"bench": i}).encode() for i in range(done, min(leaves, done + 10_000))]
        with begin_write(engine) as conn:
            log.append_many(conn, batch)
        done += len(batch)
    log.publish_checkpoint()
    engine.dispose()


async def hammer(base: str, paths: list[str], clients: int) -> tuple[float, list[float]]:
    """The aiohttp load generator: (seconds, latencies) for ``paths`` over ``clients`` connections."""
    latencies: list[float] = []
    queue = list(paths)
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def client() -> None:
            while queue:
                path = queue.pop()
                t = time.perf_counter()
                async with http.get(base + path) as r:
                    await r.read()
                    assert r.status == 200, (path, r.status)
                latencies.append(time.perf_counter() - t)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - started, latencies


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.99 * (len(ordered) - 1))] * 1000


WRK_SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
response = function(status, headers, body)
  if status ~= 200 then error("HTTP " .. status) end
end
"""


def wrk(base: str, paths: list[str], clients: int, seconds: float, directory: Path) -> tuple[float, float]:
    """(requests/s, p99 ms) from wrk cycling through ``paths`` over ``clients`` connections, one thread: one core for the load, one for the server (a second wrk thread would preempt the one-process server and measure the scheduler)."""
    script = directory / "paths.lua"
    script.write_text(WRK_SCRIPT % ",".join(json.dumps(p) for p in paths))
    out = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "--latency", "-s", str(script), base],
                         capture_output=True, text=True, timeout=seconds + 60)
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", out.stdout)
    tail = re.search(r"\s99%\s+([0-9.]+)(us|ms|s)\b", out.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", out.stdout)
    if out.returncode != 0 or not rate or not tail or errors:
        raise SystemExit(f"bench: wrk failed or saw errors:\n{out.stdout}\n{out.stderr}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[tail.group(2)]
    return float(rate.group(1)), float(tail.group(1)) * scale


def static_app(bodies_file: str):  # noqa: ANN201 - an ASGI callable
    """The ceiling: an ASGI app that answers each known path with its pre-rendered bytes, nothing else."""
    bodies = {k.encode(): v.encode() for k, v in json.loads(Path(bodies_file).read_text()).items()}
    headers = [(b"content-type", b"application/json")]

    async def app(scope, receive, send):  # noqa: ANN001, ANN202
        if scope["type"] != "http":
            return
        key = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
        body = bodies.get(key)
        await send({"type": "http.response.start", "status": 200 if body else 404,
                    "headers": headers + [(b"content-length", str(len(body or b"")).encode())]})
        await send({"type": "http.response.body", "body": body or b""})

    return app


def start(args: list[str], base: str, what: str) -> subprocess.Popen:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    for _ in range(600):
        try:
            asyncio.run(hammer(base, ["/checkpoint" if what == "registry" else "/ready"], 1))
            return proc
        except (aiohttp.ClientError, OSError, AssertionError):
            if proc.poll() is not None:
                raise SystemExit(f"bench: the {what} did not start") from None
            time.sleep(0.2)
    raise SystemExit(f"bench: the {what} did not answer within 2 minutes")


def measure(base: str, paths: list[str], args: argparse.Namespace, directory: Path) -> tuple[float, float]:
    """(proofs/s, p99 ms) for ``paths`` against ``base``, with wrk or the aiohttp client."""
    asyncio.run(hammer(base, paths[:500], args.clients))  # warm up (connections, the registry's memory)
    if args.load == "wrk":
        return wrk(base, paths, args.clients, args.seconds, directory)
    elapsed, lat = asyncio.run(hammer(base, list(paths), args.clients))
    return len(paths) / elapsed, p99(lat)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leaves", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--requests", type=int, default=20_000, help="distinct proof requests (cycled by wrk)")
    ap.add_argument("--seconds", type=float, default=10.0, help="wrk's run length")
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--load", choices=("wrk", "aiohttp"), default="wrk" if shutil.which("wrk") else "aiohttp")
    ap.add_argument("--static-server", nargs=2, metavar=("BODIES", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.static_server:
        import uvicorn

        uvicorn.run(static_app(args.static_server[0]), host="127.0.0.1", port=int(args.static_server[1]),
                    log_level="warning", access_log=False)
        return
    with tempfile.TemporaryDirectory(prefix="crosslab-bench-registry-") as tmp:
        directory = Path(tmp)
        admin = None
        if args.db == "sqlite":
            url = f"sqlite:///{directory / 'bench.sqlite3'}"
        else:
            import psycopg

            name = f"crosslab_bench_{uuid.uuid4().hex[:10]}"
            admin = psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True)
            admin.execute(f'CREATE DATABASE "{name}"')
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        try:
            t = time.perf_counter()
            fill(url, directory, args.leaves)
            print(f"filled {args.leaves:,} leaves in {time.perf_counter() - t:.1f}s ({args.db}); load: {args.load}, "
                  f"{args.clients} connections")
            rng = random.Random(0)
            paths = [f"/api/v1/proofs/inclusion?index={rng.randrange(args.leaves)}&size={args.leaves}"
                     for _ in range(args.requests)]
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            proc = start([sys.executable, "-m", "crosslab", "registry", "serve", "--db", url, "--dir",
                          str(directory), "--port", str(port), "--origin", ORIGIN], base, "registry")
            try:
                ours, ours_p99 = measure(base, paths, args, directory)
                bodies: dict[str, str] = {"/ready": "{}"}

                async def fetch_all() -> None:
                    async with aiohttp.ClientSession() as http:
                        for path in set(paths):
                            async with http.get(base + path) as r:
                                bodies[path] = (await r.read()).decode()

                asyncio.run(fetch_all())
            finally:
                proc.terminate()
                proc.wait(20)
            (directory / "bodies.json").write_text(json.dumps(bodies))
            sport = free_port()
            sbase = f"http://127.0.0.1:{sport}"
            static = start([sys.executable, __file__, "--static-server", str(directory / "bodies.json"), str(sport)],
                           sbase, "static server")
            try:
                ceiling, ceiling_p99 = measure(sbase, paths, args, directory)
            finally:
                static.terminate()
                static.wait(20)
            met = ours >= GOAL_RATE and ours_p99 <= GOAL_P99_MS
            print(f"inclusion proofs: {ours:,.0f}/s p99 {ours_p99:.1f} ms · same bytes pre-rendered {ceiling:,.0f}/s "
                  f"p99 {ceiling_p99:.1f} ms · ratio to it {ours / ceiling:.2f} · goal {GOAL_RATE:,.0f}/s "
                  f"({ours / GOAL_RATE:.2f}) and p99 <= {GOAL_P99_MS:g} ms: {'MET' if met else 'MISSED'}")
            print(f"RESULT db={args.db} leaves={args.leaves} load={args.load} proofs_per_s={ours:.0f} "
                  f"p99_ms={ours_p99:.1f} static_per_s={ceiling:.0f} ratio_static={ours / ceiling:.3f} "
                  f"ratio_goal={ours / GOAL_RATE:.3f}")
        finally:
            if admin is not None:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                admin.close()


if __name__ == "__main__":
    main()
