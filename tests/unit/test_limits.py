"""Rate limits: token buckets, the AIMD concurrency cap, pauses, the provider's
rate-limit headers; no busy waiting."""

from __future__ import annotations

import asyncio
import time

import pytest

from dspy_tui.engine.limits import (
    DEFAULT_CONCURRENCY,
    LimitConfig,
    Limiter,
    TokenBucket,
    default_limits,
    reset_seconds,
)


async def test_requests_per_minute_allow_a_minutes_burst_then_the_steady_rate() -> None:
    limiter = Limiter(LimitConfig(rpm=600, concurrency=1000))  # 10 per second
    started = time.monotonic()
    for _ in range(600):
        async with limiter.slot():
            pass
    assert time.monotonic() - started < 0.5
    started = time.monotonic()
    for _ in range(5):
        async with limiter.slot():
            pass
    assert 0.4 <= time.monotonic() - started < 1.5


async def test_tokens_per_minute_hold_back_big_requests_and_learn_real_counts() -> None:
    limiter = Limiter(LimitConfig(tpm=6000, concurrency=10))  # 100 tokens per second
    async with limiter.slot(5000) as slot:
        slot.record_tokens(1000)  # the call used far less than feared: refund
    assert limiter.tokens is not None and limiter.tokens.level == pytest.approx(5000, abs=20)
    started = time.monotonic()
    async with limiter.slot(5050):
        pass
    assert 0.3 <= time.monotonic() - started < 1.5


async def test_a_request_bigger_than_a_minute_of_tokens_still_goes_out() -> None:
    bucket = TokenBucket(600)
    await asyncio.wait_for(bucket.take(10_000), 1)
    assert bucket.level < 1


async def test_the_concurrency_cap_holds() -> None:
    limiter = Limiter(LimitConfig(concurrency=3))
    running = peak = 0

    async def call() -> None:
        nonlocal running, peak
        async with limiter.slot():
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.02)
            running -= 1

    await asyncio.gather(*(call() for _ in range(12)))
    assert peak == 3 and limiter.in_flight == 0


async def test_each_overload_episode_halves_the_cap_once_down_to_one() -> None:
    limiter = Limiter(LimitConfig(concurrency=8, default_pause_s=0.001, cooldown_s=0))
    for expected in (4, 2, 1, 1):
        async with limiter.slot() as slot:
            pass
        limiter.on_overload(None, slot)  # each from a request sent after the previous cut
        assert limiter.cap == expected


async def test_a_burst_of_simultaneous_429s_lowers_the_limit_once_and_50_successes_restore_it() -> None:
    limiter = Limiter(LimitConfig(concurrency=16, default_pause_s=0.001))
    limiter.observe({})  # an answer came (without rate-limit headers): no probe holds the burst back
    slots = []
    for _ in range(16):  # sixteen in flight at once, then four of them come back 429
        guard = limiter.slot()
        slots.append(await guard.__aenter__())
    for slot in slots[:4]:
        limiter.on_overload(None, slot)
    assert limiter.cap == 8 and limiter.decreases == 1 and limiter.overloaded == 4
    for slot in slots:
        await slot.__aexit__(None, None, None)  # type: ignore[attr-defined]
    await asyncio.sleep(0.01)
    successes = 0

    async def worker() -> None:  # more demand than the cap, as an evaluation with 24 threads makes
        nonlocal successes
        while limiter.cap < 16 and successes < 50:
            async with limiter.slot():
                await asyncio.sleep(0.001)
                limiter.on_success()  # as the call path does: before the slot is given back
            successes += 1

    await asyncio.gather(*(worker() for _ in range(24)))
    assert limiter.cap == 16 and successes <= 50


async def test_the_cap_only_grows_while_it_holds_traffic_back() -> None:
    limiter = Limiter(LimitConfig(concurrency=8, recover_after=1, default_pause_s=0.001))
    limiter.on_overload(None)
    assert limiter.cap == 4
    for _ in range(20):  # one call at a time never meets the cap of 4
        async with limiter.slot():
            limiter.on_success()
    assert limiter.cap == 4


async def test_retry_after_pauses_every_new_send_until_then() -> None:
    limiter = Limiter(LimitConfig(concurrency=8))
    limiter.on_overload(0.3)
    started = time.monotonic()
    await asyncio.gather(*(_enter(limiter) for _ in range(4)))
    assert 0.28 <= time.monotonic() - started < 1.0


async def _enter(limiter: Limiter) -> None:
    async with limiter.slot():
        pass


async def test_waiting_does_not_spin() -> None:
    limiter = Limiter(LimitConfig(rpm=60, concurrency=1))  # one per second after the burst
    limiter.requests._level = 0  # type: ignore[union-attr]
    cpu = time.process_time()
    wall = time.monotonic()
    await asyncio.gather(_enter(limiter), _hold(limiter, 0.5))
    assert time.monotonic() - wall >= 0.9
    assert time.process_time() - cpu < 0.1


async def _hold(limiter: Limiter, seconds: float) -> None:
    await asyncio.sleep(0.01)
    async with limiter.slot():
        await asyncio.sleep(seconds)


async def test_a_cancelled_waiter_gives_its_place_back() -> None:
    limiter = Limiter(LimitConfig(concurrency=1))
    release = asyncio.Event()

    async def holder() -> None:
        async with limiter.slot():
            await release.wait()

    first = asyncio.create_task(holder())
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(_enter(limiter))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await first
    await asyncio.wait_for(_enter(limiter), 1)
    assert limiter.in_flight == 0


def test_no_rate_is_guessed_only_local_servers_get_a_smaller_concurrency() -> None:
    for provider in ("openai", "anthropic", "gemini", "groq", "together", "somewhere-new"):
        limits = default_limits(provider)
        assert limits.rpm is None and limits.tpm is None and limits.concurrency == DEFAULT_CONCURRENCY
    assert default_limits("ollama").concurrency < DEFAULT_CONCURRENCY
    with pytest.raises(ValueError):
        LimitConfig(concurrency=0)


def test_reset_times_read_in_every_format_providers_use() -> None:
    assert reset_seconds("1s") == 1
    assert reset_seconds("6m0s") == 360
    assert reset_seconds("20ms") == pytest.approx(0.02)
    assert reset_seconds("1m30.5s") == pytest.approx(90.5)
    assert reset_seconds("12") == 12
    assert 9 < (reset_seconds("2100-01-01T00:00:00Z") or 0) / 86400 / 365 / 7 < 11  # Anthropic's RFC 3339
    assert reset_seconds("soon") is None and reset_seconds(None) is None


async def test_headers_saying_the_window_is_spent_hold_sends_until_it_resets() -> None:
    limiter = Limiter(LimitConfig(concurrency=8))
    async with limiter.slot() as slot:
        pass
    limiter.observe(
        {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "2",
            "x-ratelimit-reset-requests": "0.4s",
        },
        slot,
    )
    assert limiter.learned == {"requests": 60}
    started = time.monotonic()
    await _enter(limiter)  # one of the two left goes at once (one is kept back: answers race)
    assert time.monotonic() - started < 0.1
    await _enter(limiter)  # then nothing until the window resets
    assert 0.3 <= time.monotonic() - started < 1.0


async def test_until_the_accounts_first_answer_one_request_goes_alone() -> None:
    limiter = Limiter(LimitConfig(concurrency=8))
    probe = await limiter.slot().__aenter__()
    second = asyncio.create_task(_enter(limiter))
    await asyncio.sleep(0.05)
    assert not second.done()  # a burst could overrun a small window nobody has told us of yet
    limiter.observe({"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "99"}, probe)
    await asyncio.wait_for(second, 1)
    await probe.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def test_anthropic_token_headers_count_what_was_sent_since() -> None:
    limiter = Limiter(LimitConfig(concurrency=8))
    limiter.observe({})
    first = await limiter.slot(100).__aenter__()
    second = await limiter.slot(100).__aenter__()  # sent before the first answer came back
    limiter.observe(
        {
            "anthropic-ratelimit-tokens-limit": "1000",
            "anthropic-ratelimit-tokens-remaining": "150",
            "anthropic-ratelimit-tokens-reset": "2100-01-01T00:00:00Z",
        },
        first,
    )
    assert limiter._window_wait(100) > 0  # 150 left minus the 100 still in flight: 50 < 100
    assert limiter._window_wait(40) == 0
    for slot in (first, second):
        await slot.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def test_reconfigure_applies_to_a_live_limiter() -> None:
    limiter = Limiter(LimitConfig(concurrency=1))
    limiter.reconfigure(LimitConfig(concurrency=5, rpm=None))
    await asyncio.wait_for(
        asyncio.gather(*(_hold(limiter, 0.2) for _ in range(5))), 0.7
    )  # one at a time: 1 s
