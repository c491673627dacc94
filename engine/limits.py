"""Client-side rate limits: one AIMD limiter per (provider, base URL, key, model).

Three gates stand before every send: a pause (a 429's Retry-After, or the
account's own headers saying its window is spent), an adaptive concurrency
cap and two optional token buckets (requests and tokens per minute).

The cap follows AIMD: an overload signal (429, 503/529, a timeout) halves it
ONCE per episode -- answers to requests sent before the cut, and signals
within `cooldown_s` of it, belong to the same episode -- and it climbs back by
one per `recover_after` successes, only while the cap is what holds traffic
back. No requests-per-minute cap is guessed: the buckets exist only when the
user configured a rate or the provider's `x-ratelimit-*` /
`anthropic-ratelimit-*` headers told us the account's real one. Waiting is
always an `await` on a timer or a future, never a polling loop. A limiter
belongs to the runtime's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import re
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class LimitConfig:
    """Limits for one model of one provider account. `None` rates mean "no client-side cap"."""

    rpm: float | None = None  # requests per minute
    tpm: float | None = None  # tokens (input + max output) per minute
    concurrency: int = 16  # most requests in flight at once
    recover_after: int = 2  # successes at a binding cap needed to raise it by one
    default_pause_s: float = 1.0  # pause after an overload signal that gave no Retry-After
    cooldown_s: float = 2.0  # overload signals this soon after a cut are the same episode

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        for name in ("rpm", "tpm"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive or None")


# Only the concurrency cap has a per-provider default: local servers run few
# requests at once. Rates are never guessed (see the module docstring).
_DEFAULT_CONCURRENCY: dict[str, int] = {
    "ollama": 2,
    "lmstudio": 2,
    "vllm": 64,
    "local": 1,  # the slots of the llama.cpp server dspy-tui starts
    "offline": 64,
}
DEFAULT_CONCURRENCY = 16


@functools.lru_cache(maxsize=64)
def default_limits(provider_id: str) -> LimitConfig:
    return LimitConfig(concurrency=_DEFAULT_CONCURRENCY.get(provider_id, DEFAULT_CONCURRENCY))


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


class MinuteTally:
    """What the last minute held, in one-second slots: requests sent, tokens answered, and the
    seconds calls spent queued for a slot and at the provider. Constant memory and O(1) per
    call (it is on every call's path); `totals` is exact to the second."""

    __slots__ = ("_stamps", "_sent", "_tokens", "_queued", "_served")

    SLOTS = 60

    def __init__(self) -> None:
        self._stamps = [-1] * self.SLOTS
        self._sent = [0] * self.SLOTS
        self._tokens = [0] * self.SLOTS
        self._queued = [0.0] * self.SLOTS
        self._served = [0.0] * self.SLOTS

    def _slot(self, now: float) -> int:
        second = int(now)
        i = second % self.SLOTS
        if self._stamps[i] != second:
            self._stamps[i] = second
            self._sent[i] = self._tokens[i] = 0
            self._queued[i] = self._served[i] = 0.0
        return i

    def sent(self, now: float) -> None:
        self._sent[self._slot(now)] += 1

    def ended(self, now: float, tokens: int, queued_s: float, served_s: float) -> None:
        i = self._slot(now)
        self._tokens[i] += tokens
        self._queued[i] += queued_s
        self._served[i] += served_s

    def totals(self, now: float) -> tuple[int, int, float, float]:
        """(requests sent, tokens answered, seconds queued, seconds at the provider) in the last 60 s."""
        oldest = int(now) - self.SLOTS
        live = [i for i, stamp in enumerate(self._stamps) if stamp > oldest]
        return (
            sum(self._sent[i] for i in live),
            sum(self._tokens[i] for i in live),
            sum(self._queued[i] for i in live),
            sum(self._served[i] for i in live),
        )


_DURATION = re.compile(
    r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$"
)


def reset_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds until a window resets: OpenAI's durations ("1s", "6m0s", "20ms"),
    plain seconds, or Anthropic's RFC 3339 instant; None when unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    match = _DURATION.match(value)
    if match and any(match.groups()):
        h, m, s, ms = (float(g) if g else 0.0 for g in match.groups())
        return h * 3600 + m * 60 + s + ms / 1000
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# (what, header names of limit / remaining / reset), OpenAI-style then Anthropic-style
_HEADER_SETS: tuple[tuple[str, tuple[str, str, str]], ...] = (
    (
        "requests",
        ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    ),
    ("tokens", ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")),
    (
        "requests",
        (
            "anthropic-ratelimit-requests-limit",
            "anthropic-ratelimit-requests-remaining",
            "anthropic-ratelimit-requests-reset",
        ),
    ),
    (
        "tokens",
        (
            "anthropic-ratelimit-tokens-limit",
            "anthropic-ratelimit-tokens-remaining",
            "anthropic-ratelimit-tokens-reset",
        ),
    ),
)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class _Window:
    """What the provider said is left of one of its windows (requests or tokens), kept
    current between answers by counting what we sent since the answer's request left.

    Requests in flight reach the server in an order slightly different from ours, so one
    answer can read a little optimistic: within a window the lowest estimate wins, and
    `margin` units are never spent."""

    __slots__ = ("limit", "remaining", "reset_at", "margin")

    def __init__(self, margin: float = 0.0) -> None:
        self.limit: float | None = None
        self.remaining: float | None = None  # None: unknown, never holds anything back
        self.reset_at = 0.0
        self.margin = margin

    def update(
        self, limit: float | None, remaining: float, reset_s: float | None, spent_since: float
    ) -> None:
        self.limit = limit if limit is not None else self.limit
        estimate = remaining - spent_since
        reset_at = time.monotonic() + (reset_s if reset_s is not None else 1.0)
        same_window = self.remaining is not None and reset_at <= self.reset_at + 0.5
        self.remaining = (
            min(self.remaining, estimate) if same_window and self.remaining is not None else estimate
        )
        self.reset_at = (
            max(self.reset_at, reset_at) if same_window and not math.isinf(self.reset_at) else reset_at
        )

    def wait_for(self, amount: float) -> float:
        """Seconds to hold a send of `amount` back: until the reset when the window is spent."""
        if self.remaining is None or amount <= 0:
            return 0.0
        now = time.monotonic()
        if now >= self.reset_at:  # the window rolled over: a whole one is left, until an answer says more
            self.remaining, self.reset_at = self.limit, math.inf
            if self.remaining is None:
                return 0.0
        return self.reset_at - now if self.remaining < amount + self.margin else 0.0

    def spend(self, amount: float) -> None:
        if self.remaining is not None:
            self.remaining -= amount


class Account:
    """What the provider's headers say is left for one account (provider, base URL, key),
    shared by the limiters of its models: when the provider counts one window for all of
    them, none of them may spend it as if it were its own. Counting every model's sends
    against a per-model window only makes us more careful, never cost a 429.

    Until the account's first answer, one request goes alone (a probe): its headers say
    how much is left before a burst can overrun a small window."""

    def __init__(self) -> None:
        self.windows = {"requests": _Window(margin=1), "tokens": _Window()}
        self.admitted = 0  # requests sent so far
        self.tokens_admitted = 0.0
        self.answered = False
        self.probe: Slot | None = None
        self.in_flight = 0
        self._news: asyncio.Event | None = None

    def wait_for(self, est_tokens: int) -> float:
        """Seconds to hold a send back (inf: until the next answer)."""
        if not self.answered and self.probe is not None:
            return math.inf
        wait = max(self.windows["requests"].wait_for(1), self.windows["tokens"].wait_for(est_tokens))
        return 0.0 if math.isinf(wait) and self.in_flight == 0 else wait  # no answer is coming to say more

    async def until_news(self, timeout: float) -> None:
        """Wait `timeout` seconds or until an answer (or the probe's end) may change `wait_for`."""
        if self._news is None:
            self._news = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._news.wait(), None if math.isinf(timeout) else timeout)

    def news(self) -> None:
        news, self._news = self._news, None
        if news is not None:
            news.set()

    def done(self, slot: Slot) -> None:
        """A request ended: the probe's end opens the gate, answered or not."""
        self.in_flight -= 1
        if self.probe is slot:
            self.probe, self.answered = None, True
            self.news()
        elif self.in_flight == 0:
            self.news()  # a wait for an answer that no request in flight can bring ends

    def sent(self, slot: Slot) -> None:
        if not self.answered and self.probe is None:
            self.probe = slot
        self.in_flight += 1
        self.admitted += 1
        self.tokens_admitted += slot.est_tokens
        slot.number, slot.tokens_before = self.admitted, self.tokens_admitted
        self.windows["requests"].spend(1)
        self.windows["tokens"].spend(slot.est_tokens)


class Limiter:
    """Requests/tokens per minute, the provider's own windows and an AIMD concurrency cap."""

    def __init__(self, config: LimitConfig, name: str = "", account: Account | None = None) -> None:
        self.config = config
        self.name = name
        self.requests = TokenBucket(config.rpm) if config.rpm else None
        self.tokens = TokenBucket(config.tpm) if config.tpm else None
        self.cap = config.concurrency
        self.in_flight = 0
        self.overloaded = 0  # overload signals seen (429, 503/529, timeouts)
        self.decreases = 0  # multiplicative decreases (one per episode)
        self.learned: dict[str, float] = {}  # the account's limits, from its headers
        # For the screens (provider_stats.py): what is sent now, the last minute, what went wrong.
        self.sending = 0  # admitted and not yet answered (in_flight also counts those held by a pause)
        self.minute = MinuteTally()
        self.rate_limited = 0  # 429s
        self.retryable_failures = 0  # failed attempts handed back to DSPy to retry after a back-off
        self.pause_reason = ""  # why new sends are held (see `paused_for`)
        self._successes = 0
        self._cut_at = -1.0  # monotonic time of the last decrease
        self._cut_after = 0  # admissions before the last decrease (their answers are that episode)
        self.account = account or Account()
        self._paused_until = 0.0
        self._waiters: deque[asyncio.Future[None]] = deque()

    def reconfigure(self, config: LimitConfig) -> None:
        """Apply new limits to a live limiter (buckets restart full)."""
        if config == self.config:
            return
        self.config = config
        self.requests = TokenBucket(config.rpm) if config.rpm else None
        self.tokens = TokenBucket(config.tpm) if config.tpm else None
        self.cap = min(self.cap, config.concurrency) if self.decreases else config.concurrency
        self._wake()

    @property
    def paused_for(self) -> float:
        """Seconds every new send is still held back (a Retry-After, a spent window)."""
        return max(0.0, self._paused_until - time.monotonic())

    def slot(self, est_tokens: int = 0) -> _SlotGuard:
        """`async with limiter.slot(n) as slot:` waits until a request of about
        `n` tokens may be sent and holds its place while it runs."""
        return _SlotGuard(self, est_tokens)

    def _window_wait(self, est_tokens: int) -> float:
        return self.account.wait_for(est_tokens)

    def _admit_now(self, est_tokens: int) -> bool:
        """Admit without waiting when nothing stands in the way (the usual case)."""
        if self._waiters or self.in_flight >= self.cap or self._paused_until > time.monotonic():
            return False
        if self._window_wait(est_tokens) > 0:
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
            await self._wait_pause(est_tokens)
            if self.requests is not None:
                await self.requests.take(1)
            if self.tokens is not None and est_tokens > 0:
                await self.tokens.take(est_tokens)
            await self._wait_pause(est_tokens)  # a 429 may have arrived while we queued
        except BaseException:
            self._release()
            raise

    async def _wait_pause(self, est_tokens: int) -> None:
        while (delay := max(self._paused_until - time.monotonic(), self._window_wait(est_tokens))) > 0:
            await self.account.until_news(delay)

    def _sent(self, slot: Slot) -> None:
        """Count an admitted request against the provider's windows."""
        self.account.sent(slot)
        self.sending += 1
        slot.sent_at = time.monotonic()
        self.minute.sent(slot.sent_at)

    def _ended(self, slot: Slot) -> None:
        self.sending -= 1
        now = time.monotonic()
        self.minute.ended(now, slot.tokens, slot.sent_at - slot.queued_at, now - slot.sent_at)

    @property
    def queued(self) -> int:
        """Calls waiting to be sent: for a concurrency slot, a pause or a rate bucket."""
        return len(self._waiters) + self.in_flight - self.sending

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

    # ---- feedback -------------------------------------------------------
    def observe(self, headers: Mapping[str, str], slot: Slot | None = None) -> None:
        """Learn the account's limits and what is left of them from an answer's headers."""
        self.account.answered = True
        lowered = {
            k.lower(): v
            for k, v in headers.items()
            if k.lower().startswith(("x-ratelimit", "anthropic-ratelimit"))
        }
        if not lowered:
            return
        for what, (limit_name, remaining_name, reset_name) in _HEADER_SETS:
            remaining = _number(lowered.get(remaining_name))
            if remaining is None:
                continue
            limit = _number(lowered.get(limit_name))
            if limit is not None:
                self.learned[what] = limit
            if slot is None:
                since = 0.0
            elif what == "requests":
                since = float(self.account.admitted - slot.number)
            else:
                since = self.account.tokens_admitted - slot.tokens_before
            self.account.windows[what].update(limit, remaining, reset_seconds(lowered.get(reset_name)), since)
        self.account.news()

    def on_success(self) -> None:
        """Additive increase, only while the cap is what holds traffic back."""
        if self.cap >= self.config.concurrency or (self.in_flight < self.cap - 1 and not self._waiters):
            return
        self._successes += 1
        if self._successes >= self.config.recover_after:
            self._successes = 0
            self.cap += 1
            self._wake()

    def on_overload(
        self, retry_after: float | None = None, slot: Slot | None = None, reason: str = "rate limited"
    ) -> bool:
        """A 429 (`reason` "rate limited"), a 503/529 ("overloaded") or a timeout ("timeouts"):
        cut the cap once per episode and hold new sends for the provider's hint (or
        `default_pause_s`). True when this began an episode."""
        self.overloaded += 1
        self.rate_limited += reason == "rate limited"
        self._successes = 0
        now = time.monotonic()
        pause = retry_after if retry_after is not None and retry_after > 0 else self.config.default_pause_s
        self._hold_until(now + pause, reason)
        same_episode = (
            slot is not None and slot.number <= self._cut_after
        ) or now < self._cut_at + self.config.cooldown_s
        if same_episode:
            return False
        self.decreases += 1
        self.cap = max(1, self.cap // 2)
        self._cut_at, self._cut_after = now, self.account.admitted
        return True

    def hold(self, seconds: float) -> None:
        """Hold every new send for `seconds` (a failed attempt's back-off) without a cut."""
        self._hold_until(time.monotonic() + seconds, "errors")

    def _hold_until(self, until: float, reason: str) -> None:
        self.retryable_failures += 1
        if until > self._paused_until:
            self._paused_until, self.pause_reason = until, reason


class Slot:
    """One admitted request; tells the limiter the real token count afterwards."""

    __slots__ = ("limiter", "est_tokens", "number", "tokens_before", "tokens", "queued_at", "sent_at")

    def __init__(self, limiter: Limiter, est_tokens: int) -> None:
        self.limiter = limiter
        self.est_tokens = est_tokens
        self.number = 0  # the limiter's admission count when this one was let through
        self.tokens_before = 0.0
        self.tokens = 0  # what the answer reported (input + output), once read
        self.queued_at = self.sent_at = 0.0  # monotonic: asked for a slot, let through

    def record_tokens(self, actual_tokens: int | None) -> None:
        if actual_tokens is None:
            return
        self.tokens = actual_tokens
        if self.limiter.tokens is not None:
            self.limiter.tokens.adjust(actual_tokens - self.est_tokens)


class _SlotGuard(Slot):
    """The async context manager behind `Limiter.slot` (a class: it is on every call's path)."""

    __slots__ = ()

    async def __aenter__(self) -> Slot:
        self.queued_at = time.monotonic()
        if not self.limiter._admit_now(self.est_tokens):
            await self.limiter._admit(self.est_tokens)
        self.limiter._sent(self)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.limiter.account.done(self)
        self.limiter._ended(self)
        self.limiter._release()
