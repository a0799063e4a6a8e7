"""Inclusion proofs over HTTP: the registry against a static file server serving the same bytes.

Fills a registry's log with N leaves (batched appends, on SQLite and on
PostgreSQL), serves it with `crosslab registry serve` (uvicorn, one worker),
and asks for inclusion proofs of random leaves with C concurrent clients on
loopback. The ceiling is Python's threaded static file server
(``http.server``) answering with pre-rendered proof bytes for the same
requests: what plain HTTP on this machine can do. Also times one accepted
submission to the signed checkpoint that includes it.

    .venv/bin/python bench/registry.py [--leaves 100000] [--clients 100] [--requests 20000] [--db sqlite|postgresql]

Goals (docs/benchmarks.md): >= 2,000 proofs/s and p99 <= 50 ms on 2 cores; checkpoint <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


def static_server(bodies: dict[str, bytes]) -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = bodies[self.path]
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, port


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leaves", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = ap.parse_args()
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
            print(f"filled {args.leaves:,} leaves in {time.perf_counter() - t:.1f}s ({args.db})")
            port = free_port()
            proc = subprocess.Popen([sys.executable, "-m", "crosslab", "registry", "serve", "--db", url, "--dir",
                                     str(directory), "--port", str(port), "--origin", ORIGIN], stdout=subprocess.DEVNULL,
                                    env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
            base = f"http://127.0.0.1:{port}"
            try:
                for _ in range(600):
                    try:
                        asyncio.run(hammer(base, ["/checkpoint"], 1))
                        break
                    except (aiohttp.ClientError, OSError):
                        if proc.poll() is not None:
                            raise SystemExit("the registry did not start") from None
                        time.sleep(0.2)
                rng = random.Random(0)
                paths = [f"/api/v1/proofs/inclusion?index={rng.randrange(args.leaves)}&size={args.leaves}"
                         for _ in range(args.requests)]
                asyncio.run(hammer(base, paths[:500], args.clients))  # warm up
                elapsed, lat = asyncio.run(hammer(base, list(paths), args.clients))
                ours = len(paths) / elapsed
                bodies = {}

                async def fetch_all() -> None:
                    async with aiohttp.ClientSession() as http:
                        for p in set(paths):
                            async with http.get(base + p) as r:
                                bodies[p] = await r.read()

                asyncio.run(fetch_all())
                static, sport = static_server(bodies)
                s_elapsed, s_lat = asyncio.run(hammer(f"http://127.0.0.1:{sport}", list(paths), args.clients))
                static.shutdown()
                ceiling = len(paths) / s_elapsed
            finally:
                proc.terminate()
                proc.wait(20)
            print(f"inclusion proofs: {ours:,.0f}/s p99 {p99(lat):.1f} ms · static file server {ceiling:,.0f}/s "
                  f"p99 {p99(s_lat):.1f} ms · ratio to static {ours / ceiling:.2f} · goal {GOAL_RATE:,.0f}/s: "
                  f"{'MET' if ours >= GOAL_RATE else 'MISSED'} ({ours / GOAL_RATE:.2f}), p99 goal {GOAL_P99_MS} ms: "
                  f"{'MET' if p99(lat) <= GOAL_P99_MS else 'MISSED'}")
            print(f"RESULT db={args.db} leaves={args.leaves} proofs_per_s={ours:.0f} p99_ms={p99(lat):.1f} "
                  f"static_per_s={ceiling:.0f} ratio_static={ours / ceiling:.3f} ratio_goal={ours / GOAL_RATE:.3f}")
        finally:
            if admin is not None:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                admin.close()


if __name__ == "__main__":
    main()
