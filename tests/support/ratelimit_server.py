"""The loopback model API behind a provider-style rate limit.

Providers enforce a per-minute limit over short windows. This server does
the same, in front of tests/support/loopback_server.py's scripted answers:

* ``--policy bucket``: a token bucket of ``--rate`` requests/s with a burst
  of ``--burst`` (how OpenAI and Anthropic apply per-minute limits);
* ``--policy window``: at most ``--rate × --window`` requests per fixed
  window of ``--window`` seconds, counted from the server's start;
* ``--halve-after S``: the rate halves S seconds after the first request;
* ``--headers openai|anthropic|none``: rate-limit headers on every answer
  and refusal, in that provider's documented names and formats;
* ``--retry-after``: ``int`` (whole seconds, as real servers send; at least
  1), ``none``, or a fixed number of seconds.

A refused request is answered at once with 429 (providers refuse before any
work). ``GET /_limits`` returns the arrival time of every request and
whether it was accepted, on the server's monotonic clock.

Run it in the foreground (it prints ``PORT <n>``)::

    python -m tests.support.ratelimit_server --rate 200 --burst 20 --latency 0.02 --headers none
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from aiohttp import web

from tests.support.loopback_server import (
    HOST,
    LoopbackServer,
    Options,
    RunningServer,
    Turn,
    WireFormat,
    _json,
    server_process,
)


@dataclass(slots=True)
class Policy:
    kind: str = "bucket"  # bucket | window
    rate: float = 200.0  # requests per second (a window allows rate × window per window)
    burst: float = 20.0
    window: float = 60.0
    halve_after: float | None = None
    headers: str = "none"  # none | openai | anthropic
    retry_after: str = "int"  # int | none | <seconds>


class Limiter:
    """The policy's state: admits or refuses each arriving request."""

    def __init__(self, policy: Policy) -> None:
        self.p = policy
        self.start = time.monotonic()
        self.first: float | None = None
        self.level = policy.burst
        self.stamp = self.start
        self.window_index = 0
        self.window_used = 0
        self.arrivals: list[tuple[float, bool]] = []

    def rate(self, now: float) -> float:
        if self.p.halve_after is not None and self.first is not None and now - self.first >= self.p.halve_after:
            return self.p.rate / 2
        return self.p.rate

    def admit(self, now: float) -> tuple[bool, float, float, float]:
        """(accepted, remaining, seconds to reset, seconds until one more fits)."""
        if self.first is None:
            self.first = now
        rate = self.rate(now)
        if self.p.kind == "window":
            index = int((now - self.start) // self.p.window)
            if index != self.window_index:
                self.window_index, self.window_used = index, 0
            limit = rate * self.p.window
            until_reset = self.start + (index + 1) * self.p.window - now
            ok = self.window_used + 1 <= limit
            if ok:
                self.window_used += 1
            return ok, max(0.0, limit - self.window_used), until_reset, 0.0 if ok else until_reset
        self.level = min(self.p.burst, self.level + (now - self.stamp) * rate)
        self.stamp = now
        ok = self.level >= 1.0
        if ok:
            self.level -= 1.0
        wait = 0.0 if self.level >= 1.0 else (1.0 - self.level) / rate
        return ok, math.floor(self.level), (self.p.burst - self.level) / rate, wait

    def headers(self, now: float, ok: bool, remaining: float, reset: float, wait: float) -> dict[str, str]:
        out: dict[str, str] = {}
        per_minute = round(self.rate(now) * 60)
        if self.p.headers == "openai":
            out = {"x-ratelimit-limit-requests": str(per_minute),
                   "x-ratelimit-remaining-requests": str(int(remaining)),
                   "x-ratelimit-reset-requests": f"{reset * 1000:.0f}ms" if reset < 1 else f"{reset:.3f}s",
                   "x-ratelimit-limit-tokens": str(per_minute * 1000),
                   "x-ratelimit-remaining-tokens": str(per_minute * 1000),
                   "x-ratelimit-reset-tokens": "0s"}
        elif self.p.headers == "anthropic":
            at = datetime.now(timezone.utc) + timedelta(seconds=reset)
            out = {"anthropic-ratelimit-requests-limit": str(per_minute),
                   "anthropic-ratelimit-requests-remaining": str(int(remaining)),
                   "anthropic-ratelimit-requests-reset": at.isoformat().replace("+00:00", "Z")}
        if not ok and self.p.retry_after != "none":
            if self.p.retry_after == "int":
                out["retry-after"] = str(max(1, math.ceil(wait)))
            else:
                out["retry-after"] = self.p.retry_after
        return out


class LimitedServer(LoopbackServer):
    def __init__(self, options: Options, policy: Policy) -> None:
        super().__init__(options)
        self.limiter = Limiter(policy)

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_get("/_limits", self.get_limits)
        return app

    async def get_limits(self, request: web.Request) -> web.Response:
        lim = self.limiter
        return web.Response(body=orjson.dumps({"start": lim.start, "first": lim.first,
                                               "arrivals": lim.arrivals}), content_type="application/json")

    async def _answer(self, request: web.Request, fmt: WireFormat, turn: Turn) -> web.StreamResponse:
        now = time.monotonic()
        ok, remaining, reset, wait = self.limiter.admit(now)
        self.limiter.arrivals.append((now, ok))
        headers = self.limiter.headers(now, ok, remaining, reset, wait)
        if not ok:
            self.stats.requests += 1
            self.stats.faults["rate_limit"] = self.stats.faults.get("rate_limit", 0) + 1
            return _json(fmt.error("rate_limit", 429, "loopback: rate limit exceeded"), 429, headers)
        response = await super()._answer(request, fmt, turn)
        response.headers.update(headers)
        return response


async def serve(options: Options, policy: Policy, port: int) -> None:
    server = LimitedServer(options, policy)
    runner = web.AppRunner(server.app(), access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, HOST, port, backlog=4096)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write(f"PORT {runner.addresses[0][1]}\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m tests.support.ratelimit_server", description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--policy", choices=("bucket", "window"), default="bucket")
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--burst", type=float, default=20.0)
    p.add_argument("--window", type=float, default=60.0)
    p.add_argument("--halve-after", type=float, default=None)
    p.add_argument("--headers", choices=("none", "openai", "anthropic"), default="none")
    p.add_argument("--retry-after", default="int")
    a = p.parse_args(argv)
    policy = Policy(a.policy, a.rate, a.burst, a.window, a.halve_after, a.headers, a.retry_after)
    asyncio.run(serve(Options(latency=a.latency), policy, a.port))


class LimitedRunning(RunningServer):
    def limits(self) -> dict[str, Any]:
        import urllib.request

        with urllib.request.urlopen(self.url + "/_limits", timeout=30) as r:
            return orjson.loads(r.read())


@contextlib.contextmanager
def running_limited_server(*, startup_timeout: float = 20.0, **options: Any) -> Iterator[LimitedRunning]:
    """Run the server in a subprocess for the block; options are main()'s flags (halve_after=…)."""
    args: list[str] = []
    for key, value in options.items():
        if value is not None:
            args += ["--" + key.replace("_", "-"), str(value)]
    with server_process("tests.support.ratelimit_server", args, startup_timeout) as (port, proc):
        yield LimitedRunning(port, proc)


if __name__ == "__main__":
    main()
