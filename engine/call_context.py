"""What one session's LM calls carry with them.

Prices, the budget, limits, base URLs, timeouts, temperature, the cache and
the event bus belong to a session, not to the process: the TUI runs one
session after another in one process, and none may see another's settings.
A `CallContext` holds the session-wide part; a `ModelLink` binds it to one
model (its endpoint, resolved price, limits and health) and travels with
every call. The process runtime keeps only what sessions share: the loop,
HTTP connection pools and the per-key limiters.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from .budget import Budget
from .call_errors import ModelFailed
from .events import EventBus
from .limits import LimitConfig
from .pricing import Price
from .providers.base import Endpoint

if TYPE_CHECKING:
    from dspy_tui.storage.cache import CallCache  # the session's LM call cache

DEFAULT_RETRY_AFTER_CAP_S = 120.0  # a provider asking for a longer wait fails the model
DEFAULT_BREAKER_AFTER = 5  # consecutive transport failures that stop a model
DEFAULT_TEMPERATURE = 0.0  # evaluation calls; DSPy passes its own for sampled rollouts


@dataclass(frozen=True)
class Timeouts:
    """Seconds for one attempt. `total` bounds the whole request; `connect`
    the TCP/TLS setup; `read` (optional) each wait for more bytes, so a
    stalled server fails before `total`. Each bound costs a timer per call."""

    total: float = 300.0
    connect: float = 15.0
    read: float | None = None

    @functools.cached_property
    def client_timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=self.total, connect=self.connect, sock_read=self.read)

    def words(self) -> str:
        read = f", read {self.read:g}s" if self.read is not None else ""
        return f"total {self.total:g}s, connect {self.connect:g}s{read}"


def as_timeouts(timeout: float | Timeouts | None, connect: float | None = None) -> Timeouts:
    """A number means the total seconds of one attempt."""
    if isinstance(timeout, Timeouts):
        base = timeout
    elif timeout is None:
        base = Timeouts()
    else:
        seconds = float(timeout)
        base = Timeouts(total=seconds, connect=min(15.0, seconds))
    return base if connect is None else Timeouts(total=base.total, connect=connect, read=base.read)


@dataclass(frozen=True)
class ModelOptions:
    """One model's own settings (a `[[models]]` entry): None means the default."""

    base_url: str | None = None
    price: Price | Mapping[str, float] | None = None
    limits: LimitConfig | Mapping[str, Any] | None = None  # {rpm, tpm, concurrency}
    max_tokens: int | None = None
    temperature: float | None = DEFAULT_TEMPERATURE


@dataclass(frozen=True)
class CallContext:
    """The session-wide settings of every LM call of one session.

    `gate()` runs before every call (raise to stop); `on_fatal(model, exc)`
    hears once per model of the error that failed it."""

    session_id: str = ""
    shared_cache: tuple[
        str, ...
    ] = ()  # other sessions (seeds of one repeated run) whose answers it may reuse
    budget: Budget | None = None
    cache: CallCache | None = None
    bus: EventBus | None = None
    base_urls: Mapping[str, str] = field(default_factory=dict)
    local_models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # [local_models]
    timeouts: Timeouts = field(default_factory=Timeouts)
    num_retries: int = 3
    retry_after_cap_s: float = DEFAULT_RETRY_AFTER_CAP_S
    breaker_after: int = DEFAULT_BREAKER_AFTER
    gate: Callable[[], None] | None = None
    on_fatal: Callable[[str, BaseException], None] | None = None


class ModelHealth:
    """Whether a model may still be called in its session: a circuit breaker.

    A request that never reached a server that has never answered (refused,
    no such host, TLS) fails the model at once; otherwise `breaker_after`
    transport failures in a row do, or as many timeouts before the first
    answer. "In a row" counts only requests during whose flight no answer
    arrived: with 64 in flight, the 5 resets of one burst may all land after
    its answers (a 2.2 % fault rate did that in the soak), which says nothing
    of a server that just answered. And a streak that begins with more
    requests out than `breaker_after` must outlast them all: 5 quick resets
    while 59 slower answers are on their way are no proof either. Once
    failed, no request leaves."""

    def __init__(self, label: str, breaker_after: int) -> None:
        self.label = label
        self.breaker_after = breaker_after
        self.failed: str | None = None
        self.answers = 0  # answers received so far; a request notes the count when it leaves
        self.out = 0  # requests sent and not yet ended
        self.consecutive_failures = 0
        self._streak_needs = breaker_after  # failures that open the breaker: more if more were out
        self._lock = threading.Lock()

    @property
    def answered(self) -> bool:
        return self.answers > 0

    def sending(self) -> int:
        """Note a request leaving; returns the answers so far, by which its failure is judged."""
        self.out += 1
        return self.answers

    def ended(self) -> None:
        self.out -= 1

    def check(self) -> None:
        if self.failed is not None:
            raise ModelFailed(self.failed, self.label)

    def succeeded(self) -> None:
        self.answers += 1
        self.consecutive_failures = 0

    def transport_failed(self, sentence: str, *, never_connected: bool, answers_when_sent: int) -> bool:
        """Count a transport failure of a request sent when `answers_when_sent` answers had
        arrived; True when it opens the breaker (the model fails). If an answer arrived while
        it was out, the server is alive: the failure does not count."""
        if never_connected and not self.answered:
            self.consecutive_failures += 1
            return self.fail(sentence)
        if answers_when_sent < self.answers:
            return False
        if self.consecutive_failures == 0:  # this one is still out: it counts itself
            self._streak_needs = max(self.breaker_after, self.out)
        self.consecutive_failures += 1
        if self.consecutive_failures >= self._streak_needs:
            return self.fail(
                f"{sentence}; stopped calling {self.label} after "
                f"{self.consecutive_failures} failures in a row"
            )
        return False

    def timed_out(self) -> bool:
        """Count a timeout; True when it opens the breaker. Once the server has answered, a timeout is
        overload (the limiter slows down); before its first answer, `breaker_after` in a row mean a
        server that cannot answer at all (wedged, or far too slow for the timeout)."""
        if self.answered:
            return False
        self.consecutive_failures += 1
        return self.consecutive_failures >= self.breaker_after

    def fail(self, sentence: str) -> bool:
        """Mark the model failed; True only for the first failure."""
        with self._lock:
            if self.failed is not None:
                return False
            self.failed = sentence
            return True


@dataclass
class ModelLink:
    """One model of one session, as every call of its `dspy.LM` carries it."""

    endpoint: Endpoint
    label: str  # provider/model as the user wrote it
    context: CallContext
    price: Price | None
    limits: LimitConfig | None  # the user's own limits for this model (None: provider default)
    health: ModelHealth
    phase: str | None = None  # the session phase its calls serve now (the session sets it per phase)
    role: str = "model"  # `judge` for the llm_judge's model: its cost is not the competitor's
    serves: str | None = None  # a judge's: the competing model whose answers it rates

    @property
    def account(self) -> str:
        """What the budget charges its calls to: a judge's never count as the same-id competitor's."""
        return self.label if self.role == "model" else f"{self.label} ({self.role})"
