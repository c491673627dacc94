"""Client-side rate limits, one limiter per provider + key.

Three gates stand before every send: a pause (set by a 429's Retry-After),
an adaptive concurrency cap (halved on each 429, grown back one step per
`recover_after` successes) and two token buckets (requests and tokens per
minute). Waiting is always an `await` on a timer or a future, never a
polling loop. A limiter belongs to the runtime's event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class LimitConfig:
    """Limits for one provider account. `None` rates mean "no client-side limit"."""

    rpm: float | None = None  # requests per minute
    tpm: float | None = None  # tokens (input + max output) per minute
    concurrency: int = 16  # most requests in flight at once
    recover_after: int = 20  # successes needed to raise a lowered cap by one
    default_pause_s: float = 1.0  # pause after a 429 that gave no Retry-After

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        for name in ("rpm", "tpm"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive or None")


# Defaults sized for a first paid tier: low enough not to earn a wall of 429s
# on a new account, and the adaptive cap handles the rest. Override per
# provider through the runtime.
DEFAULT_LIMITS: dict[str, LimitConfig] = {
    "openai": LimitConfig(rpm=500, tpm=200_000, concurrency=16),
    "anthropic": LimitConfig(rpm=50, tpm=50_000, concurrency=8),
    "gemini": LimitConfig(rpm=150, tpm=1_000_000, concurrency=16),
    "groq": LimitConfig(rpm=30, tpm=12_000, concurrency=4),
    "together": LimitConfig(rpm=600, tpm=None, concurrency=16),
    "fireworks": LimitConfig(rpm=600, tpm=None, concurrency=16),
    "ollama": LimitConfig(concurrency=2),
    "lmstudio": LimitConfig(concurrency=2),
    "vllm": LimitConfig(concurrency=64),
    "local": LimitConfig(concurrency=1),  # the slots of the llama.cpp server dspy-tui starts
    "offline": LimitConfig(concurrency=64),
}
FALLBACK_LIMITS = LimitConfig(rpm=300, tpm=None, concurrency=16)


def limits_for(provider_id: str, overrides: Mapping[str, LimitConfig] | None = None) -> LimitConfig:
    if overrides and provider_id in overrides:
        return overrides[provider_id]
    return DEFAULT_LIMITS.get(provider_id, FALLBACK_LIMITS)


class TokenBucket:
    """`per_minute` units refill continuously up to one minute's worth.

    Takers queue behind one lock, so they are served in arrival order and
    each sleeps exactly as long as its deficit needs.
    """

    def __init__(self, per_minute: float) -> None:
        self.capacity = float(per_minute)
        self._rate = per_minute / 60.0  # units per second
        self._level = self.capacity
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    @property
    def level(self) -> float:
        self._refill()
        return self._level

    def _refill(self) -> None:
        now = time.monotonic()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self._rate)
        self._stamp = now

    async def take(self, amount: float) -> None:
        amount = min(
            float(amount), self.capacity
        )  # a request larger than a minute's worth waits for a full bucket
        async with self._lock:
            self._refill()
            while self._level < amount:
                await asyncio.sleep((amount - self._level) / self._rate)
                self._refill()
            self._level -= amount

    def ready(self, amount: float) -> bool:
        """Whether `amount` can be taken now without queueing behind anyone."""
        if self._lock.locked():
            return False
        self._refill()
        return self._level >= min(float(amount), self.capacity)

    def take_now(self, amount: float) -> None:
        """Take what `ready` just said is there (same loop turn, so nothing changed)."""
        self._level -= min(float(amount), self.capacity)

    def adjust(self, delta: float) -> None:
        """Charge (positive) or refund (negative) units once the real count is known.
        The level may go below zero: later takers then wait off the debt."""
        self._refill()
        self._level = min(self.capacity, self._level - delta)


class Slot:
    """One admitted request; tells the limiter the real token count afterwards."""

    __slots__ = ("limiter", "est_tokens")

    def __init__(self, limiter: Limiter, est_tokens: int) -> None:
        self.limiter = limiter
        self.est_tokens = est_tokens

    def record_tokens(self, actual_tokens: int | None) -> None:
        if actual_tokens is not None and self.limiter.tokens is not None:
            self.limiter.tokens.adjust(actual_tokens - self.est_tokens)


class Limiter:
    """Requests/tokens per minute plus an adaptive concurrency cap for one provider account."""

    def __init__(self, config: LimitConfig, name: str = "") -> None:
        self.config = config
        self.name = name
        self.requests = TokenBucket(config.rpm) if config.rpm else None
        self.tokens = TokenBucket(config.tpm) if config.tpm else None
        self.cap = config.concurrency
        self.in_flight = 0
        self.rate_limited = 0  # 429s seen
        self._successes = 0
        self._paused_until = 0.0
        self._waiters: deque[asyncio.Future[None]] = deque()

    def reconfigure(self, config: LimitConfig) -> None:
        """Apply new limits to a live limiter (buckets restart full)."""
        self.config = config
        self.requests = TokenBucket(config.rpm) if config.rpm else None
        self.tokens = TokenBucket(config.tpm) if config.tpm else None
        self.cap = min(self.cap, config.concurrency) if self.rate_limited else config.concurrency
        self._wake()

    def slot(self, est_tokens: int = 0) -> _SlotGuard:
        """`async with limiter.slot(n) as slot:` waits until a request of about
        `n` tokens may be sent and holds its place while it runs."""
        return _SlotGuard(self, est_tokens)

    def _admit_now(self, est_tokens: int) -> bool:
        """Admit without waiting when nothing stands in the way (the usual case)."""
        if self._waiters or self.in_flight >= self.cap or self._paused_until > time.monotonic():
            return False
        requests, tokens = self.requests, self.tokens if est_tokens > 0 else None
        if (requests is not None and not requests.ready(1)) or (
            tokens is not None and not tokens.ready(est_tokens)
        ):
            return False
        if requests is not None:
            requests.take_now(1)
        if tokens is not None:
            tokens.take_now(est_tokens)
        self.in_flight += 1
        return True

    async def _admit(self, est_tokens: int) -> None:
        await self._acquire()
        try:
            await self._wait_pause()
            if self.requests is not None:
                await self.requests.take(1)
            if self.tokens is not None and est_tokens > 0:
                await self.tokens.take(est_tokens)
            await self._wait_pause()  # a 429 may have arrived while we queued
        except BaseException:
            self._release()
            raise

    async def _wait_pause(self) -> None:
        while (delay := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    async def _acquire(self) -> None:
        if self.in_flight < self.cap and not self._waiters:
            self.in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # `_wake` counts us in before resolving
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # the slot was handed over just as we were cancelled
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def _release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.cap:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def on_success(self) -> None:
        if self.cap >= self.config.concurrency:
            return
        self._successes += 1
        if self._successes >= self.config.recover_after:
            self._successes = 0
            self.cap += 1
            self._wake()

    def on_rate_limited(self, retry_after: float | None) -> None:
        """A 429: halve the cap and hold every new send until the provider's hint."""
        self.rate_limited += 1
        self._successes = 0
        self.cap = max(1, self.cap // 2)
        pause = retry_after if retry_after is not None and retry_after > 0 else self.config.default_pause_s
        self._paused_until = max(self._paused_until, time.monotonic() + pause)


class _SlotGuard(Slot):
    """The async context manager behind `Limiter.slot` (a class: it is on every call's path)."""

    __slots__ = ()

    async def __aenter__(self) -> Slot:
        if not self.limiter._admit_now(self.est_tokens):
            await self.limiter._admit(self.est_tokens)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.limiter._release()
