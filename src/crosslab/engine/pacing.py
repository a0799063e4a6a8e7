"""When may the next request start: pacing that learns a provider's real rate.

Providers enforce a per-minute limit as a token bucket refilled every few
milliseconds (or as a fixed window), so what matters is the rate at which
requests *start*, not how many are in flight. A ``Pacer`` releases requests
one by one on a schedule (GCRA, the virtual-clock form of a token bucket
with a burst of one request), at a rate it learns:

- **Headers first.** A requests limit (per minute, as OpenAI and Anthropic
  define it) sets the rate and caps it; token limits pace tokens the same
  way. ``remaining: 0`` holds the pool until the reset.
- **429s otherwise.** Before any limit is known nothing is paced. The first
  refusal sets the rate to what was served (or half of what was sent) and
  starts a slow start, doubling every 0.1 s of answers; the next refusal
  drops it straight to what the server served. After that the rule is
  AIMD on the rate: refusals cut it to the rate the server actually served
  since the last cut (at most by half, at most twice a second), and answers
  that had to wait for the pacer grow it by 4 % a second. Refusals under
  1 % of the last second's answers are noise: they hold, but do not cut.
- **Retry-After delays only its own request.** The pool holds after a fresh
  refusal but sends one probe at a time, at growing gaps; the first probe
  answered ends the hold. A bucket that refills in milliseconds stalls the
  pool for a few milliseconds; a fixed window that is spent holds it until
  it reopens, with a dozen probes.
- **The user's --rpm / --tpm are hard caps** (crosslab.engine.window_cap):
  never more in any sliding second, whatever was learned.

One pacer serves everything that shares a limit (crosslab.engine.pacers):
every ModelCaller for one account and model, the preflight included.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import math
import time
from typing import Any

from crosslab.engine.window_cap import GUARD_S, Entry, WindowCap
from crosslab.targets.base import Usage
from crosslab.targets.ratelimit import RateLimitHint

MIN_RATE = 0.2  # requests/s: the slowest the pacer ever goes on its own
SLOW_START_DOUBLING_S = 0.1  # slow start doubles the rate every this many seconds of answers
GROWTH_PER_S = 0.04  # congestion avoidance: +4 % a second while the pacer is the bottleneck
CUT_MAX = 0.9  # a refusal cuts the rate to at most this share of it ...
CUT_MIN = 0.5  # ... and to at least this share
CUT_INTERVAL_S = 0.5  # at most one cut per this many seconds outside slow start
MEASURE_S = 1.0  # answers and refusals are counted over this trailing window ...
MEASURE_MIN_S = 0.1  # ... or since the first send, but never less than this
NOISE_SHARE = 0.01  # refusals below this share of the last second's answers do not cut the rate
HOLD_WITHOUT_RETRY_AFTER_S = 1.0
PROBE_GAP_MIN_S = 0.002
PROBE_GAP_MAX_S = 0.25
PACE_WINDOW_S = 10.0  # the pace shown to people: sends over this trailing window


class Ticket:
    """One released request: what the pacer needs to learn from its answer."""

    __slots__ = ("sent_at", "paced", "probe", "input_est", "output_est", "entries")

    def __init__(self, sent_at: float, paced: bool, probe: bool, input_est: float, output_est: float) -> None:
        self.sent_at = sent_at
        self.paced = paced  # it waited for the pacer: the rate was the bottleneck
        self.probe = probe  # sent during a hold to test whether the server accepts again
        self.input_est = input_est
        self.output_est = output_est
        self.entries: list[tuple[WindowCap, Entry]] = []


class Lane:
    """A GCRA schedule: ``rate`` units a second, a burst of ``tau_s`` seconds' worth."""

    __slots__ = ("rate", "tat", "tau_s")

    def __init__(self, rate: float, tau_s: float = 0.0) -> None:
        self.rate = rate
        self.tat = 0.0
        self.tau_s = tau_s

    def next_time(self, weight: float) -> float:
        return self.tat - self.tau_s

    def take(self, now: float, weight: float) -> None:
        self.tat = max(self.tat, now) + weight / self.rate

    def refund(self, weight: float) -> None:
        """Correct an estimate afterwards (negative: the request cost more than estimated)."""
        self.tat -= weight / self.rate


class Pacer:
    def __init__(self, *, rpm: float | None = None, tpm: float | None = None, max_tokens: int = 512,
                 guard_s: float = GUARD_S) -> None:
        """``guard_s``: the caps' jitter allowance (wider when sends leave from other processes)."""
        self.rpm, self.tpm = rpm, tpm
        self.max_tokens = max_tokens
        self.user_requests = WindowCap(rpm / 60.0, guard_s) if rpm else None
        self.user_tokens = WindowCap(tpm / 60.0, guard_s) if tpm else None
        # the user's caps also set the schedule, just under the cap so the cap rarely has to act
        self.user_ceiling = (self.user_requests.capacity / self.user_requests.window
                             if self.user_requests else None)
        self.header_ceiling: float | None = None
        self.requests: Lane | None = Lane(self.user_ceiling) if self.user_ceiling else None
        self.token_lanes: dict[str, Lane] = {}
        self.header_token_rates: dict[str, float] = {}
        if self.user_tokens:
            self.token_lanes["tokens"] = Lane(self.user_tokens.capacity / self.user_tokens.window, 0.05)
        self.slow_start = self.requests is None
        self.output_mean = max_tokens / 4
        # counters for people (progress bar, run summary)
        self.sent = 0
        self.answered = 0
        self.refused = 0
        self.started_at: float | None = None
        self._sends: collections.deque[float] = collections.deque()
        self._accepts: collections.deque[float] = collections.deque()
        self._refusals: collections.deque[float] = collections.deque()
        # adaptation state
        self._news_since = 0.0  # answers to requests sent before this teach nothing new
        self._last_cut = -math.inf
        self._last_growth = 0.0
        self._hold_until = 0.0
        self._probe_at = 0.0
        self._probe_gap = PROBE_GAP_MIN_S
        self._probe_out = False
        # the release queue
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: collections.deque[tuple[asyncio.Future[Ticket], float, float]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ release

    @property
    def rate(self) -> float | None:
        """Requests per second the pacer currently allows (None: not paced)."""
        return self.requests.rate if self.requests else None

    def unpaced(self) -> bool:
        """Nothing paces sends now: no cap, no rate learned or announced, no hold, nobody waiting."""
        return (self.requests is None and not self.token_lanes and self.user_requests is None
                and self.user_tokens is None and self._hold_until <= time.monotonic() and not self._waiters)

    def ticket_for_unpaced_send(self, input_est: float = 0.0) -> Ticket:
        """A ticket for a send made without asking (``unpaced()`` held when it started), so its answer teaches."""
        return self._take(time.monotonic(), input_est, paced=False)

    def _next_time(self, now: float, input_est: float) -> float:
        t = now
        if self.requests is not None:
            t = max(t, self.requests.next_time(1))
        if self.token_lanes:
            weights = self._weights(input_est, self.output_mean)
            for name, lane in self.token_lanes.items():
                t = max(t, lane.next_time(weights[name]))
        if self.user_requests is not None:
            t = max(t, self.user_requests.next_time(now, 1))
        if self.user_tokens is not None:
            t = max(t, self.user_tokens.next_time(now, input_est + self.max_tokens))
        if self._hold_until > now:
            t = max(t, self._hold_until if self._probe_out else min(self._hold_until, self._probe_at))
        return t

    @staticmethod
    def _weights(input_est: float, output_est: float) -> dict[str, float]:
        return {"tokens": input_est + output_est, "input_tokens": input_est, "output_tokens": output_est}

    def _take(self, now: float, input_est: float, paced: bool) -> Ticket:
        probe = now < self._hold_until
        ticket = Ticket(now, paced, probe, input_est, self.output_mean)
        if probe:
            self._probe_out = True
        if self.requests is not None:
            self.requests.take(now, 1)
        if self.token_lanes:
            weights = self._weights(input_est, ticket.output_est)
            for name, lane in self.token_lanes.items():
                lane.take(now, weights[name])
        if self.user_requests is not None:
            ticket.entries.append((self.user_requests, self.user_requests.record(now, 1)))
        if self.user_tokens is not None:
            ticket.entries.append((self.user_tokens, self.user_tokens.record(now, input_est + self.max_tokens)))
        self.sent += 1
        if self.started_at is None:
            self.started_at = now
        self._sends.append(now)
        return ticket

    async def acquire(self, input_est: float = 0.0) -> Ticket:
        """Wait until this request may start; the answer must come back through on_answer/on_refused/on_failed."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (a later run in this process): old waiters are gone
            self._loop, self._timer, self._probe_out = loop, None, False
            self._waiters.clear()
        now = time.monotonic()
        if not self._waiters and self._next_time(now, input_est) <= now:
            return self._take(now, input_est, paced=False)
        fut: asyncio.Future[Ticket] = loop.create_future()
        self._waiters.append((fut, input_est, now))
        if self._timer is None:
            self._dispatch()
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.on_failed(fut.result())  # released to us, never sent
            raise

    def _dispatch(self) -> None:
        """Release every waiter whose time has come, then sleep until the next one's."""
        self._timer = None
        while self._waiters:
            fut, input_est, queued_at = self._waiters[0]
            if fut.done():  # cancelled while queued
                self._waiters.popleft()
                continue
            now = time.monotonic()
            at = self._next_time(now, input_est)
            if at > now:
                assert self._loop is not None
                self._timer = self._loop.call_at(at, self._dispatch)  # the loop's clock is time.monotonic
                return
            self._waiters.popleft()
            fut.set_result(self._take(now, input_est, paced=True))

    def _kick(self) -> None:
        """The schedule changed: re-plan the next release."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._waiters and self._loop is not None and not self._loop.is_closed():
            self._dispatch()

    # ------------------------------------------------------------------ feedback

    def on_answer(self, ticket: Ticket, hint: RateLimitHint | None = None, usage: Usage | None = None) -> None:
        now = time.monotonic()
        self.answered += 1
        self._accepts.append(now)
        kick = False
        if ticket.probe:
            self._probe_out = False
            if self._hold_until > now:
                self._hold_until = 0.0  # the server accepts again: end the hold
                self._news_since = now
            self._probe_gap = PROBE_GAP_MIN_S
            kick = True
        if usage is not None:
            self._correct_tokens(ticket, usage)
        if hint is not None:
            kick |= self._apply_hint(hint, ticket, now)
        if self.requests is not None and ticket.paced and ticket.sent_at >= self._news_since:
            self._grow(now)
        if kick:
            self._kick()

    def on_refused(self, ticket: Ticket, hint: RateLimitHint | None = None,
                   retry_after: float | None = None) -> None:
        """A 429: slow down (once per burst of refusals) and hold the pool until a probe gets through."""
        now = time.monotonic()
        self.refused += 1
        self._refusals.append(now)
        if hint is not None:
            self._apply_hint(hint, ticket, now)
            if retry_after is None:
                retry_after = hint.retry_after_s
        if ticket.probe:
            self._probe_out = False
            self._probe_gap = min(PROBE_GAP_MAX_S, self._probe_gap * 2)
            self._probe_at = now + self._probe_gap
            self._hold_until = max(self._hold_until, self._probe_at)
        elif ticket.sent_at >= self._news_since:
            self._cut(now)
            if retry_after is None:
                self._start_hold(now, HOLD_WITHOUT_RETRY_AFTER_S)
            else:
                self._start_hold(now, retry_after, whole_seconds=True)
        self._kick()

    def on_failed(self, ticket: Ticket, hint: RateLimitHint | None = None) -> None:
        """Any other failure (timeout, 5xx, never sent): not a refusal, so it counts as served."""
        self._accepts.append(time.monotonic())
        for cap, entry in ticket.entries:
            if cap is self.user_tokens:
                cap.correct(entry, ticket.input_est)  # no output was produced
        if ticket.probe:
            self._probe_out = False
            self._probe_at = time.monotonic() + self._probe_gap
            self._kick()

    # ------------------------------------------------------------------ learning

    def _measure(self, now: float) -> tuple[float, float, float]:
        """(requests sent, and served, a second; share of 429s among answers) since the last cut.

        Served is anything but a 429: a 5xx or a timeout was not refused by a
        limiter. The window starts at the last cut (what came before was
        sent at another rate) but spans at most a second and at least 0.1 s
        (a first burst is not a rate).
        """
        cutoff = now - MEASURE_S
        for times in (self._accepts, self._refusals, self._sends):
            while times and times[0] <= cutoff - PACE_WINDOW_S * (times is self._sends):
                times.popleft()
        start = max(cutoff, self._last_cut, self.started_at or cutoff)
        span = max(MEASURE_MIN_S, now - start)

        def count(times: collections.deque[float]) -> int:
            return len(times) - bisect.bisect_right(times, start)

        served, refused = count(self._accepts), count(self._refusals)
        return count(self._sends) / span, served / span, refused / max(1, served + refused)

    def _set_rate(self, rate: float) -> None:
        ceilings = [c for c in (self.user_ceiling, self.header_ceiling) if c]
        rate = max(MIN_RATE, min([rate, *ceilings]))
        if self.requests is None:
            self.requests = Lane(rate)
        else:
            self.requests.rate = rate
        self.requests.tau_s = 1.0 / rate  # a late wake-up may catch up by one request, no more

    def _cut(self, now: float) -> None:
        """Slow down to what the server accepted, if the refusals are more than noise."""
        sent, served, share = self._measure(now)
        if self.requests is None:
            # First contact: half of what we sent, or what got through if more. The
            # first answers back may all be refusals, so what got through may be nothing yet.
            self._set_rate(max(1.0, served, sent * CUT_MIN))
            self.slow_start = True
        elif share < NOISE_SHARE:
            return  # a stray 429 among many answers: not a limit we are over (the hold still applies)
        elif self.slow_start:  # overshot while searching: straight down to what was served
            self._set_rate(min(self.requests.rate * CUT_MAX, served))
            self.slow_start = False
        elif now - self._last_cut >= CUT_INTERVAL_S:
            rate = self.requests.rate
            self._set_rate(max(rate * CUT_MIN, min(rate, served)))
        else:
            return
        self._last_cut = now
        self._last_growth = now
        self._news_since = now

    def _grow(self, now: float) -> None:
        assert self.requests is not None
        rate = self.requests.rate
        if self.slow_start:
            dt = min(now - self._last_growth, SLOW_START_DOUBLING_S)
            rate *= 2.0 ** (dt / SLOW_START_DOUBLING_S)
        else:
            rate += GROWTH_PER_S  # once per answer, so about GROWTH_PER_S · rate per second
        self._last_growth = now
        if rate != self.requests.rate:
            self._set_rate(rate)

    def _start_hold(self, now: float, seconds: float, *, whole_seconds: bool = False) -> None:
        """Hold the pool for ``seconds``, probing at gaps that double up to 0.25 s.

        A Retry-After (``whole_seconds``) may round the wait up by almost a
        second, so probes start a second before it ends; a quota's reset may
        be the time until a bucket is *full*, so probes start at once.
        """
        if seconds <= 0:
            return
        if self._hold_until <= now:
            self._probe_gap = max(PROBE_GAP_MIN_S, min(PROBE_GAP_MAX_S, 1.0 / self.rate if self.rate else 0.0))
            self._probe_at = now + max(self._probe_gap, seconds - 1.0 if whole_seconds else 0.0)
        self._hold_until = max(self._hold_until, now + seconds)
        self._news_since = now

    def _apply_hint(self, hint: RateLimitHint, ticket: Ticket, now: float) -> bool:
        """Take limits and exhausted quotas from the headers; True if the schedule changed."""
        changed = False
        for name, quota in hint.quotas.items():
            if quota.limit:
                rate = quota.limit / 60.0
                if name == "requests":
                    if self.header_ceiling != rate:
                        self.header_ceiling = rate
                        if self.requests is None or self.requests.rate > rate or self.slow_start:
                            self.slow_start = False
                            self._set_rate(rate)
                        changed = True
                elif self.header_token_rates.get(name) != rate:
                    self.header_token_rates[name] = rate
                    user = self.user_tokens.capacity / self.user_tokens.window if (
                        self.user_tokens and name == "tokens") else math.inf
                    lane = self.token_lanes.get(name)
                    if lane is None:
                        self.token_lanes[name] = Lane(min(rate, user), 0.05)
                    else:
                        lane.rate = min(rate, user)
                    changed = True
            if (quota.remaining is not None and quota.remaining < 1 and quota.reset_s
                    and ticket.sent_at >= self._news_since and self._hold_until <= now):
                self._start_hold(now, quota.reset_s)
                changed = True
        return changed

    def _correct_tokens(self, ticket: Ticket, usage: Usage) -> None:
        if usage.output_tokens:
            self.output_mean += 0.05 * (usage.output_tokens - self.output_mean)
        if not (self.token_lanes or ticket.entries):
            return
        actual_in = usage.input_tokens or ticket.input_est
        estimated = self._weights(ticket.input_est, ticket.output_est)
        actual = self._weights(actual_in, usage.output_tokens)
        for name, lane in self.token_lanes.items():
            lane.refund(estimated[name] - actual[name])
        for cap, entry in ticket.entries:
            if cap is self.user_tokens:
                cap.correct(entry, actual["tokens"])

    # ------------------------------------------------------------------ for people

    def pace(self) -> float:
        """Requests started per second over the last ten seconds (or since the first)."""
        now = time.monotonic()
        sends = self._sends
        while sends and sends[0] <= now - PACE_WINDOW_S:
            sends.popleft()
        if not sends or self.started_at is None:
            return 0.0
        return len(sends) / max(1e-3, min(PACE_WINDOW_S, now - self.started_at))

    def snapshot(self) -> dict[str, Any]:
        """Counters and the learned rate, for the progress bar and the run summary."""
        return {"sent": self.sent, "answered": self.answered, "refused": self.refused,
                "rate_per_s": None if self.rate is None else round(self.rate, 3),
                "rpm": self.rpm, "tpm": self.tpm}
