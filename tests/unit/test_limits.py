"""Rate limits: token buckets, the adaptive concurrency cap, 429 pauses; no busy waiting."""

from __future__ import annotations

import asyncio
import time

import pytest

from dspy_tui.engine.limits import (
    DEFAULT_LIMITS,
    FALLBACK_LIMITS,
    LimitConfig,
    Limiter,
    TokenBucket,
    limits_for,
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


async def test_a_429_halves_the_cap_down_to_one_and_successes_win_it_back() -> None:
    limiter = Limiter(LimitConfig(concurrency=8, recover_after=3, default_pause_s=0.001))
    for expected in (4, 2, 1, 1):
        limiter.on_rate_limited(None)
        assert limiter.cap == expected
    for _ in range(3):
        limiter.on_success()
    assert limiter.cap == 2
    for _ in range(100):
        limiter.on_success()
    assert limiter.cap == 8  # never above the configured cap


async def test_retry_after_pauses_every_new_send_until_then() -> None:
    limiter = Limiter(LimitConfig(concurrency=8))
    limiter.on_rate_limited(0.3)
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


def test_defaults_exist_per_provider_and_overrides_win() -> None:
    for provider in (
        "openai",
        "anthropic",
        "gemini",
        "groq",
        "together",
        "fireworks",
        "ollama",
        "vllm",
        "offline",
    ):
        assert limits_for(provider) is DEFAULT_LIMITS[provider]
    assert limits_for("somewhere-new") is FALLBACK_LIMITS
    mine = LimitConfig(rpm=1, concurrency=1)
    assert limits_for("openai", {"openai": mine}) is mine
    with pytest.raises(ValueError):
        LimitConfig(concurrency=0)


async def test_reconfigure_applies_to_a_live_limiter() -> None:
    limiter = Limiter(LimitConfig(concurrency=1))
    limiter.reconfigure(LimitConfig(concurrency=5, rpm=None))
    await asyncio.wait_for(
        asyncio.gather(*(_hold(limiter, 0.2) for _ in range(5))), 0.7
    )  # one at a time: 1 s
