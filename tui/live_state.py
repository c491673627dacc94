"""What the live screen shows, reduced from the session's typed events.

Pure Python and Textual-free, so the same reducer serves a running session
(events drained from the bus a few times a second), a resumed one (its stored
events first) and a finished one opened from the database. `apply` records
what changed; the screen asks `take_changes` and touches only those widgets.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dspy_tui.engine import events as ev
from dspy_tui.storage.call_outcomes import outcome

MAX_EVENTS = 2000
PHASE_ORDER = ("baseline", "optimization", "cross_model", "benchmark", "report")
FINAL_STATUSES = ("converged", "failed", "done", "stopped")
# what the events pane lists: `provider_stats` samples are figures for the footer, not log lines
LOGGED_TYPES = tuple(t for t in ev.EVENT_TYPES if t != "provider_stats")


def rate_limited(e: ev.CallCompleted) -> bool:
    return e.status == "error" and "rate" in (e.error_kind or "").lower()


@dataclass
class ModelRow:
    model: str
    phase: str = "pending"
    round: int = 0
    best_dev: float | None = None
    last_delta: float | None = None
    calls: int = 0
    cache_hits: int = 0
    errors: int = 0  # failed calls (storage/call_outcomes.py)
    cancelled: int = 0  # calls a stop cut off: not errors
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    status: str = "pending"
    test_score: float | None = None
    benchmark_done: bool = False
    error: str | None = None
    price_label: str | None = None  # None: not known yet; "unpriced" when the model has no price
    rate_limited: int = 0  # calls the provider answered 429 (rate limited)
    throttled_until: float | None = None  # new requests wait until then (the provider slowed this model)
    throttle_reason: str = ""
    queue_ms: float = 0.0  # time its calls waited for a limiter slot
    refused: int = 0  # calls the budget refused before sending
    latency_ms: float = 0.0  # the provider's time over its calls (with queue_ms: the throttled share)
    started_at: float | None = None
    finished_at: float | None = None
    # this run's first call sent (not answered from the cache) began then, with this many steps done:
    # the ETA is learnt from the steps after it (a resume's cache replay makes its first steps instant)
    sent_from: float | None = None
    steps_before_sent: int = 0
    step_at: float | None = None  # when its last step was done: the ETA counts down from there
    phase_done: bool = False  # its current phase is over and the next has not started (waits for others)
    converged: bool = False  # its rounds ended early (it may be stopped since)
    limiter: ev.LimiterStatus | None = None  # its limiter's last sample (in flight / cap, ...)


@dataclass(frozen=True)
class RoundPoint:
    phase: str
    round: int
    dev_score: float
    best_dev_score: float
    cost_usd: float
    latency_ms: float | None
    tokens: int


@dataclass
class Changes:
    models: set[str] = field(default_factory=set)
    chart: bool = False
    cost: bool = False
    status: bool = False
    providers: bool = False
    new_events: list[tuple[int, ev.Event]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.models or self.chart or self.cost or self.status or self.providers or self.new_events
        )


class LiveState:
    """The session as the screen sees it; touched by one thread at a time (the UI, or a loader before handing it over)."""

    def __init__(
        self,
        session_id: str,
        name: str,
        models: list[str],
        *,
        rounds: int,
        cross_model: bool,
        budget_usd: float | None,
    ) -> None:
        self.session_id = session_id
        self.name = name
        self.rounds = rounds
        self.cross_model = cross_model and len(models) > 1
        self.budget_usd = budget_usd
        self.started_at: float | None = None  # this run's start, from its SessionStarted event
        self.finished_at: float | None = None
        self.models: dict[str, ModelRow] = {m: ModelRow(m) for m in models}
        self.points: dict[str, dict[tuple[str, int], RoundPoint]] = {m: {} for m in models}
        self.status = "starting"  # starting | running | completed | stopped | failed
        self.stop_reason = ""
        self.error = ""
        self.phase = ""
        self.other_cost_usd = 0.0  # calls of models outside the list (an LLM judge)
        self.budget_warned = False
        self.report_paths: dict[str, str] = {}
        self.provider_stats: dict[str, ev.LimiterStatus] = {}  # the last sample, summed per provider
        self.events: deque[tuple[int, ev.Event]] = deque(maxlen=MAX_EVENTS)
        self._seq = 0
        self._changes = Changes()

    @classmethod
    def from_config(cls, session_id: str, config: dict[str, Any]) -> LiveState:
        """A state for a session config as stored (its JSON dict)."""
        models = [m["id"] if isinstance(m, dict) else str(m) for m in config.get("models", [])]
        return cls(
            session_id,
            str(config.get("name", "session")),
            models,
            rounds=int(config.get("rounds", 5)),
            cross_model=bool(config.get("cross_model", True)),
            budget_usd=config.get("budget_usd"),
        )

    # -- reading ------------------------------------------------------------
    @property
    def spent_usd(self) -> float:
        return sum(r.cost_usd for r in self.models.values()) + self.other_cost_usd

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "stopped", "failed")

    def steps_per_model(self) -> int:
        """Baseline, each round, the cross-model trial, the benchmark."""
        return 1 + self.rounds + (1 if self.cross_model else 0) + 1

    def model_steps(self, model: str) -> tuple[int, int]:
        """(done, total) steps of one model; a converged or failed model skips what it no longer runs,
        and so does one past its benchmark (the cross-model leader has no trial of its own). A stopped
        one keeps its total: it resumes with the rest (`3/3 stopped` read as a finished model)."""
        row, points = self.models[model], self.points[model]
        done = len(points) + int(row.benchmark_done)
        if row.status == "failed" or row.benchmark_done:
            return done, done
        rounds = self.rounds
        if row.converged:
            rounds = sum(1 for phase, _ in points if phase == "optimization")
        total = 1 + rounds + int(self.cross_model) + 1
        return min(done, total), total

    def eta(self, model: str, now: float) -> float | None:
        """Seconds left for one model if its remaining steps take what its done ones took; None before
        a step done on calls sent to the model (steps answered from the cache took no time).

        It counts down while a step runs (it grew with every second of a step before); a step that
        runs over the pace counts as nearly done, and the pace of the others then includes it.

        A model waiting for slower ones goes on when they do: its ETA is theirs (its own figure grew
        with every second of the wait, as if the waiting were work)."""
        row = self.models[model]
        done, total = self.model_steps(model)
        if row.started_at is None or not done or done >= total or row.finished_at is not None:
            return None
        awaited = self.waiting_for(model)  # they are not waiting themselves: no loop
        if awaited:
            return max((eta for m in awaited if (eta := self.eta(m, now)) is not None), default=None)
        measured = done - row.steps_before_sent
        if row.sent_from is None or row.step_at is None or measured <= 0:
            return None  # no step done on calls sent yet: cache-answered steps take no time
        pace = max(row.step_at - row.sent_from, 0.0) / measured
        in_step = max(now - row.step_at, 0.0)
        if in_step <= pace:
            return pace * (total - done) - in_step
        return (now - row.sent_from) / (measured + 1) * (total - done - 1)

    def providers(self) -> dict[str, list[ModelRow]]:
        """The models grouped by provider (the part of the id before the slash), in model order."""
        out: dict[str, list[ModelRow]] = {}
        for row in self.models.values():
            out.setdefault(row.model.partition("/")[0], []).append(row)
        return out

    def progress(self) -> float:
        """Share of the session's steps done, 0..1; a converged, failed or stopped model skips what it no longer runs."""
        steps = [self.model_steps(m) for m in self.models]
        total = sum(t for _, t in steps)
        return sum(d for d, _ in steps) / total if total else 0.0

    def projected_usd(self) -> float | None:
        """Spend at the end if the rest costs what the done part did; None before anything is done."""
        share = self.progress()
        if self.finished:
            return self.spent_usd
        return self.spent_usd / share if share > 0 else None

    def x_of(self, point: RoundPoint) -> int:
        """Where a round sits on the chart: baseline 0, round n at n, the cross-model trial after the last round."""
        if point.phase == "baseline":
            return 0
        if point.phase == "cross_model":
            return self.rounds + 1
        return point.round

    def series(self, model: str, metric: str) -> tuple[list[int], list[float]]:
        """x and y for the round chart: dev score, cost, latency p50 or tokens per round."""
        points = sorted(self.points.get(model, {}).values(), key=self.x_of)
        xs: list[int] = []
        ys: list[float] = []
        for p in points:
            value: float | None = {
                "dev": p.dev_score,
                "cost": p.cost_usd,
                "latency": p.latency_ms,
                "tokens": float(p.tokens),
            }[metric]
            if value is not None:
                xs.append(self.x_of(p))
                ys.append(value)
        return xs, ys

    def elapsed(self, now: float) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or now) - self.started_at

    # -- reducing -------------------------------------------------------------
    def take_changes(self) -> Changes:
        changes, self._changes = self._changes, Changes()
        return changes

    def apply(self, events: Iterable[ev.Event]) -> None:
        for e in events:
            if isinstance(e, ev.ProviderStats):  # figures to show, not a line of the log
                self._limiters(e)
                continue
            self._seq += 1
            item = (self._seq, e)
            self.events.append(item)
            self._changes.new_events.append(item)
            self._apply_one(e)
        if len(self._changes.new_events) > MAX_EVENTS:
            del self._changes.new_events[:-MAX_EVENTS]

    def _row(self, e: ev.Event) -> ModelRow | None:
        row = self.models.get(e.model or "")
        if row is not None:
            self._changes.models.add(row.model)
            if row.started_at is None:
                row.started_at = e.ts
        return row

    def _apply_one(self, e: ev.Event) -> None:  # noqa: C901 - one branch per event type reads best
        row = self._row(e)
        if isinstance(e, ev.CallCompleted):
            self._call(e, row)
        elif isinstance(e, ev.RoundCompleted) and row is not None:
            phase = row.phase if row.phase != "pending" else self.phase  # models keep their own pace
            key = (phase or "optimization", e.round)
            # first wins: a resumed session replays finished rounds from the cache
            self.points[row.model].setdefault(
                key,
                RoundPoint(
                    key[0],
                    e.round,
                    e.dev_score,
                    e.best_dev_score,
                    e.cost_usd,
                    e.latency_p50_ms,
                    e.tokens_in + e.tokens_out,
                ),
            )
            row.best_dev, row.last_delta, row.step_at = e.best_dev_score, e.delta, e.ts
            if key[0] == "optimization":  # the baseline and the cross-model trial are round 0
                row.round = e.round
            self._changes.chart = self._changes.cost = True
        elif isinstance(e, ev.RoundStarted) and row is not None:
            row.round, row.phase = e.round, "optimization"
            if row.status not in FINAL_STATUSES:
                row.status = "running"
        elif isinstance(e, ev.PhaseStarted):
            self.phase = e.phase
            for r in [row] if row is not None else [] if e.model else self.models.values():
                if r.status not in ("failed", "stopped") and e.phase != "report":
                    r.phase, r.phase_done = e.phase, False
                    if r.status == "pending":
                        r.status = "running"
            self._changes.models |= set(self.models)
            self._changes.status = True
        elif isinstance(e, ev.PhaseCompleted) and row is not None:
            row.phase_done = e.phase == row.phase
        elif isinstance(e, ev.ModelConverged) and row is not None:
            row.status, row.converged = "converged", True
        elif isinstance(e, ev.ModelFailed) and row is not None:
            row.status, row.error, row.finished_at = "failed", e.error, e.ts
        elif isinstance(e, ev.ModelThrottled) and row is not None:
            row.throttled_until, row.throttle_reason = e.ts + e.retry_in_s, e.reason or "rate limited"
        elif isinstance(e, ev.BenchmarkProgress) and row is not None:
            row.phase = "benchmark"
            if e.test_score is not None:
                row.test_score, row.benchmark_done, row.finished_at = e.test_score, True, e.ts
                # done, as the engine stores it: a later stop of the session leaves it done
                if row.status in ("pending", "running"):
                    row.status = "done"
                self._changes.cost = True
        else:
            self._session_event(e)

    def _limiters(self, e: ev.ProviderStats) -> None:
        self.provider_stats = e.by_provider()
        self._changes.providers = True
        for status in e.limiters:
            row = self.models.get(status.model)
            if row is not None:
                row.limiter = status
                self._changes.models.add(row.model)

    def _call(self, e: ev.CallCompleted, row: ModelRow | None) -> None:
        self._changes.cost = True
        if row is None:
            if not e.cache_hit:
                self.other_cost_usd += e.cost_usd or 0.0
            return
        kind = outcome(e.status, e.error_kind, e.cache_hit)
        if kind == "cached":
            row.cache_hits += 1
            return
        if kind == "refused":
            row.refused += 1  # never sent: not a call, not an error
            return
        row.calls += 1
        if row.sent_from is None:
            row.sent_from = e.ts - (e.queue_ms + e.latency_ms) / 1000  # when it began
            row.steps_before_sent = self.model_steps(row.model)[0]
        row.queue_ms += e.queue_ms
        row.latency_ms += e.latency_ms
        if rate_limited(e):
            row.rate_limited += 1
        row.errors += kind == "failed"
        row.cancelled += kind == "cancelled"  # the user's stop cut it off: a resume sends it again
        if e.cost_usd is not None:
            row.cost_usd += e.cost_usd
        elif e.status == "ok":  # a failed call bills nothing; an answered one without a price is unpriced
            row.unpriced_calls += 1

    def waiting_for(self, model: str) -> list[str]:
        """The models still optimizing while `model`, done with its rounds, waits for the cross-model trial."""
        row = self.models[model]
        if not (self.cross_model and row.phase == "optimization" and row.phase_done):
            return []
        return [
            r.model
            for r in self.models.values()
            if r.model != model
            and r.phase in ("pending", "baseline", "optimization")
            and not r.phase_done
            and r.status not in ("failed", "stopped")
        ]

    def _session_event(self, e: ev.Event) -> None:
        self._changes.status = True
        if isinstance(e, ev.SessionStarted):
            self.status, self.stop_reason, self.error = "running", "", ""
            self.started_at, self.finished_at = e.ts, None  # elapsed counts this run
            for r in self.models.values():  # a resumed session replays every model's progress
                r.status = "pending"
                r.started_at = r.finished_at = r.throttled_until = r.limiter = r.sent_from = r.step_at = None
            self.provider_stats = {}  # the last run's figures are not this one's
            self._changes.models |= set(self.models)
        elif isinstance(e, ev.SessionCompleted):
            self._end("completed", e.ts, final="done")
        elif isinstance(e, ev.SessionStopped):
            self.stop_reason = e.reason
            self._end("stopped", e.ts, final="stopped")
        elif isinstance(e, ev.SessionFailed):
            self.error = e.error
            self._end("failed", e.ts, final="failed")
        elif isinstance(e, ev.BudgetWarning | ev.BudgetExhausted):
            self.budget_warned = True
            self._changes.cost = True
        elif isinstance(e, ev.ReportReady):
            self.report_paths = dict(e.paths)

    def _end(self, status: str, ts: float, *, final: str) -> None:
        self.status = status
        self.finished_at = ts
        for r in self.models.values():
            # a converged model still on its way to the benchmark is stopped with the rest, as the engine stores it
            if r.status in ("pending", "running") or (
                final == "stopped" and r.status == "converged" and not r.benchmark_done
            ):
                r.status = final
            r.throttled_until = None
            if r.finished_at is None:
                r.finished_at = ts
        self._changes.models |= set(self.models)
        self._changes.cost = True


class EventBuffer:
    """Where bus subscribers drop events (any thread); the UI drains it on a timer."""

    def __init__(self) -> None:
        self._items: list[ev.Event] = []
        self._lock = threading.Lock()

    def append(self, event: ev.Event) -> None:
        with self._lock:
            self._items.append(event)

    def drain(self) -> list[ev.Event]:
        with self._lock:
            items, self._items = self._items, []
        return items


def replay(state: LiveState, stored: Iterable[dict[str, Any]]) -> LiveState:
    """Feed events as stored in the database (JSON dicts) into `state`; unknown types are skipped."""
    parsed = []
    for data in stored:
        try:
            parsed.append(ev.parse_event(data))
        except ValueError:
            continue
    state.apply(parsed)
    return state
