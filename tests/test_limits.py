import asyncio
import random
import time

from crosslab.engine.limits import AdaptiveConcurrency, TokenBucket, backoff_delay


def test_concurrency_window_caps_in_flight_calls():
    async def scenario() -> int:
        limiter = AdaptiveConcurrency(3)
        peak = 0

        async def job() -> None:
            nonlocal peak
            await limiter.acquire()
            peak = max(peak, limiter.in_flight)
            await asyncio.sleep(0.01)
            limiter.release()

        await asyncio.gather(*(job() for _ in range(20)))
        assert limiter.in_flight == 0
        return peak

    assert asyncio.run(scenario()) == 3


def test_throttle_halves_once_per_burst_and_recovers_slowly():
    limiter = AdaptiveConcurrency(64)
    limiter.on_throttle()
    limiter.on_throttle()  # same burst: no second cut
    assert limiter.limit == 32
    for _ in range(32):
        limiter.on_success()
    assert 32 < limiter.limit < 34  # about one slot per window of successes
    limiter._last_cut -= 2
    limiter.on_throttle()
    assert 16 < limiter.limit < 17


def test_backoff_grows_has_jitter_and_honours_retry_after():
    rng = random.Random(0)
    d1 = [backoff_delay(1, base=1, cap=60, retry_after=None, rng=rng) for _ in range(50)]
    d4 = [backoff_delay(4, base=1, cap=60, retry_after=None, rng=rng) for _ in range(50)]
    assert all(0.5 <= d <= 1 for d in d1) and all(4 <= d <= 8 for d in d4)
    assert len(set(d1)) > 1
    assert backoff_delay(1, base=0.1, cap=60, retry_after=7.5, rng=rng) == 7.5
    assert backoff_delay(10, base=1, cap=5, retry_after=None, rng=rng) <= 5


def test_token_bucket_paces_beyond_the_burst():
    async def scenario() -> float:
        bucket = TokenBucket(per_minute=600)  # 10 per second, burst 600
        bucket.level = 0
        start = time.monotonic()
        for _ in range(3):
            await bucket.take(1)
        return time.monotonic() - start

    elapsed = asyncio.run(scenario())
    assert 0.25 <= elapsed < 1.0  # three units at 10/s from empty ≈ 0.3 s
