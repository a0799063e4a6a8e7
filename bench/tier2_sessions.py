"""Tier-2 MCP server under load: 200 concurrent sessions, tool-call latency p50/p99.

The server is `crosslab env serve`'s own app (EnvironmentServer over uvicorn)
in a separate process, with one extra tool, ``echo``, that answers its
argument without touching a rollout: the bare MCP cost on the same stack
(transport, bearer auth, session manager). Each of the N sessions opens its
own rollout (its own token), then makes CALLS calls of the scenario's
``bash`` tool, then the same number of ``echo`` calls, all sessions at once.
Printed: p50/p99 of each, and the ratio ours/echo measured in the same run.

    python bench/tier2_sessions.py [--sessions 200] [--calls 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def serve(directory: str, port: int) -> None:
    """The server process: EnvironmentServer plus a bare ``echo`` tool on the same app."""
    import mcp.types as types
    import uvicorn

    from crosslab.suites.registry import all_environments
    from crosslab.tier2.book import RolloutBook
    from crosslab.tier2.server import EnvironmentServer

    echo = types.Tool(name="echo", description="Echo the arguments.", input_schema={"type": "object"})

    class WithEcho(EnvironmentServer):
        async def _list_tools(self, ctx, params):  # noqa: ANN001, ANN202
            listed = await super()._list_tools(ctx, params)
            return types.ListToolsResult(tools=[*listed.tools, echo])

        async def _call_tool(self, ctx, params):  # noqa: ANN001, ANN202
            if params.name == "echo":
                return types.CallToolResult(content=[types.TextContent(type="text", text=str(params.arguments))])
            return await super()._call_tool(ctx, params)

    book = RolloutBook(Path(directory), all_environments())
    uvicorn.run(WithEcho(book).http_app(), host="127.0.0.1", port=port, log_level="warning")


def percentile(values: list[float], q: float) -> float:
    xs = sorted(values)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


async def load(url: str, tokens: list[str], calls: int) -> dict[str, list[float]]:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    timings: dict[str, list[float]] = {"bash": [], "echo": []}
    opened = asyncio.Event()
    ready = [0]
    phase = {"bash": asyncio.Event(), "echo": asyncio.Event()}
    finished = {"bash": [0], "echo": [0]}

    async def session(token: str) -> None:
        limits = httpx2.Limits(max_connections=4)
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                      timeout=httpx2.Timeout(120.0)) as http, \
                streamable_http_client(url, http_client=http) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            await s.list_tools()
            ready[0] += 1
            if ready[0] == len(tokens):
                opened.set()
            await opened.wait()  # every session is open before anyone measures
            for tool, args in (("bash", {"command": "ls -la"}), ("echo", {"text": "ls -la"})):
                for _ in range(calls):
                    started = time.perf_counter()
                    result = await s.call_tool(tool, args)
                    timings[tool].append(time.perf_counter() - started)
                    assert not result.is_error, result
                finished[tool][0] += 1
                if finished[tool][0] == len(tokens):
                    phase[tool].set()
                await phase[tool].wait()  # the echo phase starts when every session is done with bash

    await asyncio.gather(*(session(t) for t in tokens))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--serve", nargs=2, metavar=("DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "serve"
        rollouts = -(-args.sessions // 48)  # 48 scheming items: enough rollouts for one token per session
        subprocess.run([sys.executable, "-m", "crosslab", "env", "serve", str(directory), "--suite", "scheming",
                        "--lab", "bench", "--rollouts", str(rollouts), "--max-tool-calls", "1000", "--plan-only"],
                       check=True, capture_output=True)
        tokens = list(json.loads((Path(tmp) / "tokens-bench.json").read_text())["tokens"].values())[:args.sessions]
        port = 8300 + os.getpid() % 500
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(directory), str(port)])
        url = f"http://127.0.0.1:{port}/mcp"
        try:
            for _ in range(120):
                try:
                    urllib.request.urlopen(url, timeout=2)
                except urllib.error.HTTPError:
                    break
                except OSError:
                    time.sleep(0.5)
            started = time.perf_counter()
            timings = asyncio.run(load(url, tokens, args.calls))
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(10)
    ours, echo = timings["bash"], timings["echo"]
    print(f"{args.sessions} concurrent sessions, {args.calls} calls each per tool, {os.cpu_count()} cores, "
          f"wall {wall:.1f} s")
    for name, values in (("scenario bash", ours), ("bare echo", echo)):
        print(f"  {name:14s} p50 {percentile(values, 0.5) * 1000:7.1f} ms   p99 {percentile(values, 0.99) * 1000:7.1f} ms"
              f"   mean {statistics.mean(values) * 1000:7.1f} ms   ({len(values)} calls)")
    print(f"ratio ours/echo: p50 {percentile(ours, 0.5) / percentile(echo, 0.5):.2f}, "
          f"p99 {percentile(ours, 0.99) / percentile(echo, 0.99):.2f}")


if __name__ == "__main__":
    main()
