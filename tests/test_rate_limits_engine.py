"""The engine against a rate-limited loopback server: paced, nothing lost, nothing sent twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

from crosslab.engine.pacing import Pacer
from crosslab.engine.plan import make_plan
from crosslab.engine.window_cap import GUARD_S, WindowCap
from crosslab.targets.ratelimit import Quota, RateLimitHint
from tests.support.engine_runs import assert_nothing_lost_or_resent, items, kill_then_resume, run_engine
from tests.support.ratelimit_server import running_limited_server


def most_in_one_second(times: list[float]) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_a_429_storm_loses_nothing_and_sends_nothing_twice(tmp_path: Path):
    the_items = items(300)
    # 50 at once against a burst of 5: most of the first wave is refused, then pacing takes over
    with running_limited_server(rate=150, burst=5, latency=0.01, retry_after="int") as srv:
        journal = run_engine(srv.url, the_items, tmp_path, concurrency=50, max_retries=50)
        stats, log = srv.stats(), srv.limits()
    records = list(journal.records())
    plan_ids = {s.id for s in make_plan(the_items, journal.meta()["target_digest"])}
    assert len(records) == 300 and {r["sample_id"] for r in records} == plan_ids  # none lost, none doubled
    assert all(r["status"] == "ok" and r["messages"][-1]["content"] == f"ECHO: {r['messages'][0]['content']}"
               for r in records)
    assert set(stats["ok"].values()) == {1} and len(stats["ok"]) == 300  # each answered exactly once
    refused = sum(1 for _, ok in log["arrivals"] if not ok)
    assert refused >= 40  # the storm happened
    # the journal records how politely we called: exactly what the server saw
    pacing = journal.meta()["pacing"]
    assert pacing["sent"] == len(log["arrivals"]) and pacing["refused"] == refused
    assert pacing["answered"] == 300 and pacing["refused_share"] == round(refused / len(log["arrivals"]), 5)


def test_user_rpm_is_never_exceeded_in_any_second(tmp_path: Path):
    # 20 in flight with no latency would send all 60 in a few milliseconds; --rpm 1200 allows 20 a second
    with running_limited_server(rate=10_000, burst=10_000) as srv:
        journal = run_engine(srv.url, items(60), tmp_path, concurrency=20, requests_per_minute=1200)
        log = srv.limits()
    assert journal.counts()["ok"] == 60
    times = [t for t, _ in log["arrivals"]]
    assert len(times) == 60 and most_in_one_second(times) <= 20


def test_window_cap_counts_every_sliding_second():
    cap = WindowCap(per_second=2)
    first = cap.record(0.0, 1)
    cap.record(0.1, 1)
    assert cap.next_time(0.2, 1) == 1.0 + GUARD_S  # the first send leaves the window then
    cap.correct(first, 0.0)  # it cost nothing after all
    assert cap.next_time(0.2, 1) == 0.2
    tokens = WindowCap(per_second=100)
    tokens.record(0.0, 60)
    assert tokens.next_time(0.5, 50) == 1.0 + GUARD_S and tokens.next_time(0.5, 40) == 0.5
    assert tokens.next_time(0.5, 500) == 1.0 + GUARD_S  # an oversized send waits for an empty window


def test_pacer_learns_from_headers_and_refusals():
    async def scenario() -> None:
        pacer = Pacer()
        assert pacer.rate is None  # nothing known: not paced
        tickets = [await pacer.acquire() for _ in range(10)]
        pacer.on_answer(tickets[0], RateLimitHint({"requests": Quota(limit=6000, remaining=5000, reset_s=10)}))
        assert pacer.rate == 100.0  # 6000 a minute
        pacer.on_refused(tickets[1], None, retry_after=0.0)
        cut = pacer.rate
        assert 50.0 <= cut < 100.0  # refused even so: down to what was served, at most by half
        pacer.on_refused(tickets[2], None, retry_after=0.0)  # sent before that cut: the same burst
        assert pacer.rate == cut
        assert pacer.snapshot()["refused"] == 2 and pacer.snapshot()["sent"] == 10

    asyncio.run(scenario())


def test_an_exhausted_quota_holds_the_pool_behind_one_probe():
    async def scenario() -> None:
        pacer = Pacer()
        first = await pacer.acquire()
        pacer.on_answer(first, RateLimitHint({"requests": Quota(limit=6000, remaining=0, reset_s=30)}))
        probe = await pacer.acquire()  # the hold lets one request through to test the server
        assert probe.probe
        waiting = asyncio.ensure_future(pacer.acquire())
        await asyncio.sleep(0.05)
        assert not waiting.done()  # nobody else goes while the probe is out
        pacer.on_answer(probe)  # the server answered: the hold ends
        assert not (await waiting).probe

    asyncio.run(scenario())


def test_sigkill_under_a_rate_limit_then_resume_resends_nothing_finished(tmp_path: Path):
    n = 150
    with running_limited_server(rate=40, burst=5, latency=0.05, retry_after="int") as srv:
        killed = kill_then_resume(tmp_path, srv.url, n=n, concurrency=20, api_key="loopback-key")
        stats, log = srv.stats(), srv.limits()
    assert sum(1 for _, ok in log["arrivals"] if not ok) > 0  # refusals happened on the way
    assert_nothing_lost_or_resent(killed, n, stats["ok"])
