"""Concurrency and backoff for one endpoint.

``AdaptiveConcurrency`` caps the calls in flight; the ModelCaller no longer
shrinks it on a 429, because providers limit the rate at which requests
start, which the account's pacer (crosslab.engine.pacing) governs. Its AIMD
methods and ``TokenBucket`` (a minute's burst) remain for other callers.
Backoff is exponential with full jitter, never shorter than the server's
Retry-After.
"""

from __future__ import annotations

import asyncio
import collections
import random
import time


class AdaptiveConcurrency:
    """A semaphore whose size shrinks on throttling and recovers slowly."""

    def __init__(self, maximum: int, *, minimum: int = 1) -> None:
        self.maximum = maximum
        self.minimum = minimum
        self.limit = float(maximum)
        self.in_flight = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._last_cut = 0.0

    async def acquire(self) -> None:
        if self.in_flight < int(self.limit) and not self._waiters:
            self.in_flight += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # we were handed a slot but won't use it
            else:
                self._waiters.remove(fut)
            raise

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < int(self.limit):
            fut = self._waiters.popleft()
            if not fut.done():
                self.in_flight += 1
                fut.set_result(None)

    def on_throttle(self) -> None:
        """Halve the window, at most once per second (one burst of 429s is one signal)."""
        now = time.monotonic()
        if now - self._last_cut >= 1.0:
            self.limit = max(float(self.minimum), self.limit / 2)
            self._last_cut = now

    def on_success(self) -> None:
        if self.limit < self.maximum:
            self.limit = min(float(self.maximum), self.limit + 1.0 / self.limit)
            self._wake()


class TokenBucket:
    """At most ``per_minute`` units per minute, with a burst of one minute's worth.

    The balance may go negative (tokens are only known after a response);
    callers then wait until it has refilled.
    """

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = per_minute
        self.level = per_minute
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self, amount: float) -> None:
        amount = min(amount, self.capacity)
        async with self._lock:
            self._refill()
            while self.level < amount:
                await asyncio.sleep((amount - self.level) / self.rate)
                self._refill()
            self.level -= amount

    def debit(self, amount: float) -> None:
        self._refill()
        self.level -= amount


def backoff_delay(attempt: int, *, base: float, cap: float, retry_after: float | None,
                  rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based)."""
    delay = rng.uniform(0.5, 1.0) * min(cap, base * 2 ** (attempt - 1))
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap * 4))
    return delay
