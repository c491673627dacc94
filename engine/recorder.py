"""The storage writer: events and calls reach SQLite in batches, off the engine's threads.

It subscribes to the session's event bus, queues every event, and a single
writer thread commits them a few times a second (one transaction per batch).
It also keeps running per-model totals (calls, cache hits, tokens, cost,
latencies) so the session can record each round without querying the DB.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from dspy_tui.storage.call_outcomes import outcome
from dspy_tui.storage.db import DiskFull
from dspy_tui.storage.sessions import SessionStore

from . import events as ev
from .provider_stats import StoredSample
from .stats import percentile

log = logging.getLogger(__name__)
FLUSH_INTERVAL_S = 0.2
MAX_BATCH = 2000
_FLUSH = object()  # queued by flush(): commit the batch now


@dataclass
class _Tally:
    calls: int = 0  # requests sent
    refused: int = 0  # refused by the budget, never sent
    cache_hits: int = 0
    errors: int = 0  # failed calls (storage/call_outcomes.py): not those a stop cancelled
    cancelled: int = 0  # sent, then cut off by the user's stop: a resume sends them again
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0  # prompt tokens the provider served from its own cache
    cost_usd: float = 0.0
    latencies: list[float] = field(default_factory=list)  # the provider's time of answered calls
    queue_ms: float = 0.0  # time calls sent spent waiting for a limiter slot (and back-off)
    provider_ms: float = 0.0  # time calls sent spent at the provider
    first_ts: float | None = None

    def add(self, e: ev.CallCompleted) -> None:
        if self.first_ts is None:
            self.first_ts = e.ts
        kind = outcome(e.status, e.error_kind, e.cache_hit)
        if kind == "cached":
            self.cache_hits += 1
            return
        if kind == "refused":  # the budget refused it: never sent, never billed
            self.refused += 1
            return
        self.calls += 1
        self.errors += kind == "failed"
        self.cancelled += kind == "cancelled"
        self.tokens_in += e.tokens_in or 0
        self.tokens_out += e.tokens_out or 0
        self.tokens_cached += e.tokens_cached or 0
        self.cost_usd += e.cost_usd or 0.0
        self.queue_ms += e.queue_ms
        self.provider_ms += e.latency_ms
        if e.status == "ok":
            self.latencies.append(e.latency_ms)

    def summary(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "refused_by_budget": self.refused,
            "cache_hits": self.cache_hits,
            "errors": self.errors,
            "cancelled": self.cancelled,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "tokens_cached": self.tokens_cached,
            "cost_usd": self.cost_usd,
            "latency_p50_ms": percentile(self.latencies, 50),
            "latency_p95_ms": percentile(self.latencies, 95),
            "queue_ms": self.queue_ms,
            # the share of its calls' time a model spent throttled by our limiter, not at the provider
            "throttled_share": self.queue_ms / total if (total := self.queue_ms + self.provider_ms) else None,
            "first_ts": self.first_ts,
        }


class Recorder:
    def __init__(self, store: SessionStore, session_id: str, bus: ev.EventBus) -> None:
        self.store = store
        self.session_id = session_id
        self._queue: queue.Queue[ev.Event | object | None] = queue.Queue()
        self._lock = threading.Lock()
        self._totals: dict[str, _Tally] = defaultdict(_Tally)
        self._rounds: dict[str, _Tally] = defaultdict(_Tally)
        self._preload()
        self._pending = 0  # published but not yet committed
        self._unwritten: list[ev.Event] = []  # held back by a full disk (writer thread only)
        self._written = threading.Condition(self._lock)
        self._stats_kept = StoredSample()  # limiter samples come every second: the log keeps a few
        self._unsubscribe = bus.subscribe(self._on_event)
        self._thread = threading.Thread(target=self._writer, name="dspy-tui-recorder", daemon=True)
        self._thread.start()

    def _preload(self) -> None:
        """On resume, totals start from what the database already holds."""
        for model, t in self.store.calls_by_model(self.session_id, role="model").items():
            self._totals[model] = _Tally(**t)

    def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.ProviderStats) and not self._stats_kept.keep(event):
            return
        with self._lock:
            self._pending += 1
            if (
                isinstance(event, ev.CallCompleted) and event.model and event.role == "model"
            ):  # not the judge's
                self._totals[event.model].add(event)
                self._rounds[event.model].add(event)
        self._queue.put(event)

    def take_round_stats(self, model: str) -> dict[str, Any]:
        """The calls made for `model` since the last call of this method, summarised."""
        with self._lock:
            tally = self._rounds.pop(model, _Tally())
        return tally.summary()

    def model_totals(self, model: str) -> dict[str, Any]:
        with self._lock:
            return self._totals[model].summary()

    # -- the writer thread ---------------------------------------------------
    def _writer(self) -> None:
        closing = False
        while not closing:
            batch: list[ev.Event] = []
            try:
                item = self._queue.get(timeout=FLUSH_INTERVAL_S)
            except queue.Empty:
                continue
            deadline = time.monotonic() + FLUSH_INTERVAL_S
            while True:
                if item is None:
                    closing = True
                elif isinstance(item, ev.Event):
                    batch.append(item)
                if closing or item is _FLUSH or len(batch) >= MAX_BATCH or time.monotonic() >= deadline:
                    break
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
            self._write(batch)
            with self._written:
                self._pending -= len(batch)
                self._written.notify_all()

    def _write(self, batch: list[ev.Event]) -> None:
        """Commit a batch; on a full disk it is kept (with any kept before) and written next time."""
        batch = self._unwritten + batch
        self._unwritten = []
        if not batch:
            return
        try:
            calls = [e for e in batch if isinstance(e, ev.CallCompleted) and not e.recorded]
            self.store.record_calls([e.model_dump() for e in calls])
            for e in calls:
                e.recorded = True
            self.store.update_running_totals(self.session_id, self._running_totals(batch))
            self.store.append_events(self.session_id, [e.model_dump(mode="json") for e in batch])
        except DiskFull:
            self._unwritten = batch
        except Exception:  # the engine must go on; the log says what was lost
            log.exception("could not store %d events", len(batch))

    def _running_totals(self, batch: list[ev.Event]) -> dict[str, tuple[float, int]]:
        """(cost, calls) so far of the models this batch has calls for (not a judge's: no model's cost;
        calls stored with their cache entry count too). Written with each batch, a model's stored
        cost lags its calls by one batch, not by a round."""
        models = {e.model for e in batch if isinstance(e, ev.CallCompleted) and e.model and e.role == "model"}
        with self._lock:
            return {m: (self._totals[m].cost_usd, self._totals[m].calls) for m in models}

    def write_kept(self) -> bool:
        """After close(): write what a full disk held back; True when nothing is left."""
        self._write([])
        return not self._unwritten

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything published so far is committed (the writer does not linger for more)."""
        self._queue.put(_FLUSH)
        with self._written:
            if not self._written.wait_for(lambda: self._pending == 0, timeout):
                log.warning("recorder flush timed out with %d events pending", self._pending)

    def close(self) -> None:
        self._unsubscribe()
        self._queue.put(None)
        self._thread.join(timeout=30)
