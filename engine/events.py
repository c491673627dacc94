"""Typed events and the bus that carries them.

Every event is a pydantic model with a `type` literal, so the JSON stored in
the `events` table, the `--json` CLI stream and the TUI all read one shape.
The bus is thread-safe and synchronous: publishers (engine threads, the
runtime loop) call `publish`, subscribers are called in the publisher's
thread and must be quick (the TUI and the storage writer only enqueue).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter


class Event(BaseModel):
    type: str
    session_id: str = ""
    ts: float = Field(default_factory=time.time)
    model: str | None = None  # the `provider/model` this event is about, if any


class SessionStarted(Event):
    type: Literal["session_started"] = "session_started"
    name: str = ""
    models: list[str] = []
    resumed: bool = False


class SessionCompleted(Event):
    type: Literal["session_completed"] = "session_completed"


class SessionStopped(Event):
    type: Literal["session_stopped"] = "session_stopped"
    reason: str = ""  # "user", "budget", "signal"


class SessionFailed(Event):
    type: Literal["session_failed"] = "session_failed"
    error: str = ""


class PhaseStarted(Event):
    type: Literal["phase_started"] = "phase_started"
    phase: str = ""  # baseline | optimization | cross_model | benchmark | report


class PhaseCompleted(Event):
    type: Literal["phase_completed"] = "phase_completed"
    phase: str = ""


class RoundStarted(Event):
    type: Literal["round_started"] = "round_started"
    round: int = 0


class RoundCompleted(Event):
    type: Literal["round_completed"] = "round_completed"
    round: int = 0
    dev_score: float = 0.0
    best_dev_score: float = 0.0
    delta: float = 0.0
    cost_usd: float = 0.0
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    latency_p50_ms: float | None = None
    errored_examples: int = 0  # examples whose call failed after retries: left out of dev_score
    unparsed: int = 0  # answers no adapter could parse: scored as wrong


class CallCompleted(Event):
    type: Literal["call_completed"] = "call_completed"
    provider: str = ""
    endpoint: str | None = None  # base URL, never carrying a key
    request_hash: str | None = None  # the call-cache key
    latency_ms: float = 0.0  # the provider's time: request sent -> answer read
    queue_ms: float = 0.0  # waiting for a limiter slot before sending (includes retry back-off)
    tokens_in: int | None = None
    tokens_out: int | None = None
    tokens_cached: int | None = None
    cost_usd: float | None = None  # None: unpriced
    cost_estimated: bool = False  # the bill was unknown: charged at its whole reservation
    cache_hit: bool = False
    status: str = "ok"  # ok | error | refused (the budget refused it: never sent)
    error_kind: str | None = None
    retries: int = 0
    call_id: str | None = None
    recorded: bool = False  # its `calls` row was written together with its cache entry
    phase: str | None = None  # the session phase the call served (None outside a model's phases)
    role: str = "model"  # model | judge


class CostUpdated(Event):
    type: Literal["cost_updated"] = "cost_updated"
    spent_usd: float = 0.0
    budget_usd: float | None = None
    by_model: dict[str, float] = {}


class BudgetWarning(Event):
    type: Literal["budget_warning"] = "budget_warning"
    spent_usd: float = 0.0
    budget_usd: float = 0.0


class BudgetExhausted(Event):
    type: Literal["budget_exhausted"] = "budget_exhausted"
    spent_usd: float = 0.0
    budget_usd: float = 0.0


class BudgetReserveReached(Event):
    """Only the money held back for the cross-model trials and the benchmark is left:
    this model's optimization rounds end."""

    type: Literal["budget_reserve_reached"] = "budget_reserve_reached"
    spent_usd: float = 0.0
    budget_usd: float = 0.0
    reserve_usd: float = 0.0


class ModelConverged(Event):
    type: Literal["model_converged"] = "model_converged"
    round: int = 0
    reason: str = ""


class ModelDegraded(Event):
    """More of a model's examples errored in a phase than the config's `degraded_threshold` allows."""

    type: Literal["model_degraded"] = "model_degraded"
    reason: str = ""


class ModelFailed(Event):
    type: Literal["model_failed"] = "model_failed"
    error: str = ""


class ModelThrottled(Event):
    """The provider slowed this model down; new requests wait `retry_in_s` seconds."""

    type: Literal["model_throttled"] = "model_throttled"
    reason: str = ""  # rate limited | overloaded | timeouts
    retry_in_s: float = 0.0

    def text(self) -> str:
        """What a model's row says, e.g. `rate-limited, retrying in 37 s`."""
        return f"{self.reason.replace('rate limited', 'rate-limited')}, retrying in {self.retry_in_s:.0f} s"


class LimiterStatus(BaseModel):
    """One limiter (a model of one provider account) as sampled: what holds its calls back.

    `rpm`, `tpm`, `queued_s` and `served_s` cover the last 60 s; `rate_limited` and
    `retryable_failures` count since the session's sampling began."""

    model: str  # the `provider/model` label
    provider: str
    account: int = 0  # which provider account (an ordinal in this process, never the key)
    in_flight: int = 0  # requests sent and not yet answered
    limit: int = 0  # the concurrency cap now (AIMD lowers it under overload)
    max_limit: int = 0  # the configured concurrency
    queued: int = 0  # calls waiting to be sent (slot, pause, rate bucket)
    rpm: int = 0  # requests sent in the last minute
    rpm_limit: float | None = None  # the strictest known requests-per-minute limit
    rpm_limit_from: str | None = None  # config | headers
    tpm: int = 0  # tokens (input + output) the answers of the last minute reported
    tpm_limit: float | None = None
    tpm_limit_from: str | None = None
    queued_s: float = 0.0  # time the last minute's calls waited for a slot (and back-off)
    served_s: float = 0.0  # time they spent at the provider
    rate_limited: int = 0  # 429s
    retryable_failures: int = (
        0  # failed attempts (429, overload, timeout, 5xx, connection) retried after a back-off
    )
    paused_s: float = 0.0  # new requests are held this much longer
    pause_reason: str = ""  # rate limited | overloaded | timeouts | errors

    @property
    def throttled_share(self) -> float | None:
        """Share of the last minute's call time spent queued on our side rather than at the provider."""
        total = self.queued_s + self.served_s
        return self.queued_s / total if total > 0 else None

    @property
    def throttled(self) -> bool:
        """Held back now: paused, or most of the last minute's call time went to waiting."""
        share = self.throttled_share
        return self.paused_s >= 1 or (share is not None and share >= THROTTLED_SHARE)

    def pause_text(self) -> str:
        """`rate-limited, retrying in 37 s` while paused, else empty."""
        if self.paused_s < 1:
            return ""
        reason = (self.pause_reason or "rate limited").replace("rate limited", "rate-limited")
        return f"{reason}, retrying in {self.paused_s:.0f} s"


THROTTLED_SHARE = 0.2  # a provider whose calls spend this share of their time queued reads as throttled


class ProviderStats(Event):
    """Every limiter of a session's models, sampled at most once per second while a figure
    changes (engine/provider_stats.py); `final` marks the last one of a run."""

    type: Literal["provider_stats"] = "provider_stats"
    limiters: list[LimiterStatus] = []
    final: bool = False

    def by_provider(self) -> dict[str, LimiterStatus]:
        """One status per provider: its models' figures summed; a limit learnt from an
        account's headers counts once per account, a configured one once per model."""
        out: dict[str, LimiterStatus] = {}
        for provider in dict.fromkeys(s.provider for s in self.limiters):
            rows = [s for s in self.limiters if s.provider == provider]
            paused = max(rows, key=lambda s: s.paused_s)
            out[provider] = LimiterStatus(
                model=provider,
                provider=provider,
                **{name: sum(getattr(s, name) for s in rows) for name in _SUMMED},
                **_limit(rows, "rpm"),
                **_limit(rows, "tpm"),
                paused_s=paused.paused_s,
                pause_reason=paused.pause_reason,
            )
        return out


_SUMMED = (
    "in_flight",
    "limit",
    "max_limit",
    "queued",
    "rpm",
    "tpm",
    "queued_s",
    "served_s",
    "rate_limited",
    "retryable_failures",
)


def _limit(rows: list[LimiterStatus], what: str) -> dict[str, Any]:
    """A provider's `rpm`/`tpm` limit: known only when every one of its models has one."""
    limits = [(getattr(s, f"{what}_limit"), getattr(s, f"{what}_limit_from"), s.account) for s in rows]
    if not limits or any(value is None for value, _, _ in limits):
        return {}
    per_account = {account: value for value, source, account in limits if source == "headers"}
    configured = [value for value, source, _ in limits if source != "headers"]
    sources = {source for _, source, _ in limits}
    return {
        f"{what}_limit": sum(per_account.values()) + sum(configured),
        f"{what}_limit_from": sources.pop() if len(sources) == 1 else "config+headers",
    }


class CrossModelTransfer(Event):
    type: Literal["cross_model_transfer"] = "cross_model_transfer"
    source_model: str = ""
    before: float = 0.0
    after: float = 0.0
    kept: bool = False


class BenchmarkProgress(Event):
    type: Literal["benchmark_progress"] = "benchmark_progress"
    done: int = 0
    total: int = 0
    test_score: float | None = None


class ReportReady(Event):
    type: Literal["report_ready"] = "report_ready"
    paths: dict[str, str] = {}


AnyEvent = Annotated[
    SessionStarted
    | SessionCompleted
    | SessionStopped
    | SessionFailed
    | PhaseStarted
    | PhaseCompleted
    | RoundStarted
    | RoundCompleted
    | CallCompleted
    | CostUpdated
    | BudgetWarning
    | BudgetExhausted
    | BudgetReserveReached
    | ModelConverged
    | ModelDegraded
    | ModelFailed
    | ModelThrottled
    | ProviderStats
    | CrossModelTransfer
    | BenchmarkProgress
    | ReportReady,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyEvent)
EVENT_TYPES: tuple[str, ...] = tuple(cls.model_fields["type"].default for cls in Event.__subclasses__())


def parse_event(data: dict[str, Any]) -> Event:
    """Rebuild a typed event from its stored JSON."""
    event: Event = _ADAPTER.validate_python(data)
    return event


Subscriber = Callable[[Event], None]


class EventBus:
    """Fan-out of events to subscribers; a failing subscriber never breaks the engine."""

    def __init__(self, session_id: str = "") -> None:
        self.session_id = session_id
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe

    def publish(self, event: Event) -> None:
        if not event.session_id:
            event.session_id = self.session_id
        with self._lock:
            subscribers = list(self._subscribers)
        for fn in subscribers:
            try:
                fn(event)
            except Exception:  # a broken view must not stop an optimization
                import logging

                logging.getLogger(__name__).exception("event subscriber failed")
