"""Tier-2 test helpers: start `crosslab env serve` on 127.0.0.1, and talk to it with the official MCP client."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from crosslab.suites.scheming.build import build
from conftest import free_port


@contextlib.contextmanager
def env_server(directory: Path, *plan: str, startup_s: float = 60.0) -> Iterator[str]:
    """`crosslab env serve DIRECTORY PLAN...` on a free port; yields the /mcp URL, stops the server after."""
    port = free_port()
    log = directory.parent / f"{directory.name}-server.log"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "crosslab", "env", "serve", str(directory), *plan,
                                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
            except urllib.error.HTTPError:
                break  # 401 or 405: it answers
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"env server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def tokens(directory: Path, lab: str) -> list[str]:
    """Every rollout token of ``lab``, as the lab received them (tokens-<lab>.json beside the directory)."""
    data = json.loads((directory.parent / f"tokens-{lab}.json").read_text())
    return list(data["tokens"].values())


def item_of(directory: Path, token: str) -> tuple[str, int]:
    """Which item and epoch a token opens: what only the evaluator's plan knows."""
    plan = json.loads((directory / "tier2-serve.json").read_text())
    entry = plan["tokens"][hashlib.sha256(token.encode()).hexdigest()]
    return entry["item_id"], entry["epoch"]


@functools.cache
def plans() -> dict[str, dict[str, Any]]:
    """Each scheming item's scripted honest and covert plans (what baseline:schemer follows)."""
    return {item.id: item.metadata["plans"] for item in build()}


@contextlib.asynccontextmanager
async def mcp_session(url: str, token: str) -> AsyncIterator[ClientSession]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http, \
            streamable_http_client(url, http_client=http) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


async def follow(session: ClientSession, plan: list[dict[str, Any]]) -> list[Any]:
    """Run a scripted plan through the session: each step a tool call, ``say`` becomes the submit report."""
    results = []
    for step in plan:
        [(name, value)] = step.items()
        if name == "say":
            results.append(await session.call_tool("submit", {"report": value}))
            break
        args = {"command": value} if name == "bash" else dict(value or {})
        results.append(await session.call_tool(name, args))
    return results
