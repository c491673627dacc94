"""Per-provider throttling, sampled for the screens: `ProviderStats` events.

A user watching a slow session must see what holds it back: how many calls are in flight
against the cap, the requests and tokens of the last minute against the account's limit, the
share of time calls wait on our side, 429s and retries, and a pause. Those figures live in
the limiters (limits.py) on the runtime's loop; `StatsWatch` reads them there once per
`interval_s` and publishes an event only when a figure changed, so a quiet session publishes
nothing and a busy one one event a second, never one per call.

Limiters are shared by every session of the process (they share the account), so the
last-minute figures include another session's calls to the same model at the same time;
the 429 and retry counts start at zero for each watch.

`StoredSample` decides which of them the event log keeps: one per `every_s` and the final
one, so an hour-long session adds ~120 rows, not 3,600.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from . import events as ev
from .limits import Limiter

if TYPE_CHECKING:
    from .call_context import ModelLink
    from .runtime import Runtime

log = logging.getLogger(__name__)

INTERVAL_S = 1.0
STORE_EVERY_S = 30.0


def status_of(
    limiter: Limiter, label: str, provider: str, account: int, since: tuple[int, int]
) -> ev.LimiterStatus:
    """What `limiter` holds back now; `since` is its (429s, retryable failures) when the watch began."""
    now = time.monotonic()
    sent, tokens, queued_s, served_s = limiter.minute.totals(now)
    rpm, rpm_from = _strictest(limiter, "rpm", "requests")
    tpm, tpm_from = _strictest(limiter, "tpm", "tokens")
    window = limiter.account.wait_for(0)  # the account's request window is spent until its reset
    window = 0.0 if math.isinf(window) else window
    paused = max(limiter.paused_for, window)
    reason = limiter.pause_reason if limiter.paused_for >= window else "rate limited"
    return ev.LimiterStatus(
        model=label,
        provider=provider,
        account=account,
        in_flight=limiter.sending,
        limit=limiter.cap,
        max_limit=limiter.config.concurrency,
        queued=limiter.queued,
        rpm=sent,
        rpm_limit=rpm,
        rpm_limit_from=rpm_from,
        tpm=tokens,
        tpm_limit=tpm,
        tpm_limit_from=tpm_from,
        queued_s=round(queued_s, 1),
        served_s=round(served_s, 1),
        rate_limited=limiter.rate_limited - since[0],
        retryable_failures=limiter.retryable_failures - since[1],
        paused_s=round(paused, 1) if paused >= 0.05 else 0.0,
        pause_reason=reason if paused >= 0.05 else "",
    )


def _strictest(limiter: Limiter, configured: str, learnt: str) -> tuple[float | None, str | None]:
    """The lower of the configured per-minute rate and the one the account's headers told."""
    options = [
        (value, source)
        for value, source in (
            (getattr(limiter.config, configured), "config"),
            (limiter.learned.get(learnt), "headers"),
        )
        if value is not None
    ]
    return min(options) if options else (None, None)


class StatsWatch:
    """Samples the limiters of `links` on `runtime`'s loop; `start()` and `stop()` from any thread."""

    def __init__(
        self,
        runtime: Runtime,
        links: Iterable[ModelLink],
        bus: ev.EventBus,
        interval_s: float | None = None,
    ) -> None:
        self.runtime = runtime
        self.links = [link for link in links if not link.endpoint.provider.offline]  # no limiter, no HTTP
        self.bus = bus
        self.interval_s = interval_s or INTERVAL_S
        self._watched: list[tuple[Limiter, str, str, int, tuple[int, int]]] = []
        self._last: list[ev.LimiterStatus] | None = None
        self._published = False
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = False

    def start(self) -> StatsWatch:
        if self.links:
            self.runtime.loop.call_soon_threadsafe(self._begin)
        return self

    def _begin(self) -> None:
        accounts: dict[int, int] = {}
        seen: set[int] = set()
        for link in self.links:
            limiter = self.runtime.limiter(link)
            if id(limiter) in seen:  # a judge of the same id as a competitor shares its limiter
                continue
            seen.add(id(limiter))
            account = accounts.setdefault(id(limiter.account), len(accounts) + 1)
            since = (limiter.rate_limited, limiter.retryable_failures)
            self._watched.append((limiter, link.label, link.endpoint.provider.id, account, since))
        self._last = self._sample()  # what an idle start looks like: not worth an event
        self._schedule()

    def _schedule(self) -> None:
        if not self._stopped:
            self._timer = self.runtime.loop.call_later(self.interval_s, self._tick)

    def _sample(self) -> list[ev.LimiterStatus]:
        return [status_of(*watched) for watched in self._watched]

    def _tick(self) -> None:
        try:
            sample = self._sample()
            if sample != self._last:
                self._last, self._published = sample, True
                self.bus.publish(ev.ProviderStats(limiters=sample))
        except Exception:  # the figures are for the eyes; a failure must never touch the session
            log.exception("could not sample the limiters")
        self._schedule()

    def _final(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        if self._published:  # the last figures of a run that sent anything: the log keeps them
            self.bus.publish(ev.ProviderStats(limiters=self._sample(), final=True))

    def stop(self, timeout: float = 2.0) -> None:
        """Publish the final sample (when anything was published) and stop sampling."""
        if not self.links or self._stopped:
            return
        loop = self.runtime.loop
        if loop.is_closed():
            return

        async def final() -> None:
            self._final()

        try:
            asyncio.run_coroutine_threadsafe(final(), loop).result(timeout)
        except Exception:  # the runtime shut down under us: nothing left to sample
            self._stopped = True


def describe(status: ev.LimiterStatus) -> tuple[list[str], list[str]]:
    """How a provider's (or a model's) line reads, as (figures, warnings): `in-flight 12/16`,
    `310/500 RPM`, `48k TPM`, `throttled 62%`; `rate-limited, retrying in 37 s`, `4×429`, `5 retries`."""
    cut = f" (max {status.max_limit})" if status.limit < status.max_limit else ""
    figures = [
        f"in-flight {status.in_flight}/{status.limit}{cut}",
        f"{_per_minute(status.rpm, status.rpm_limit)} RPM",
        f"{_per_minute(status.tpm, status.tpm_limit)} TPM",
    ]
    share = status.throttled_share
    if share is not None and share >= 0.005:
        figures.append(f"throttled {share:.0%}")
    warnings = [status.pause_text()] if status.paused_s >= 1 else []  # first: the line may be cut
    warnings += [
        text
        for count, text in (
            (status.rate_limited, f"{status.rate_limited}×429"),
            (status.retryable_failures, f"{status.retryable_failures} retries"),
        )
        if count
    ]
    return figures, warnings


def _per_minute(used: int, limit: float | None) -> str:
    return _count(used) if limit is None else f"{_count(used)}/{_count(limit)}"


def _count(n: float) -> str:
    """310, 48k, 1.2M: a figure read at a glance."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    return f"{n / 1000:.0f}k" if n >= 10_000 else f"{n:.0f}"


class StoredSample:
    """Which `ProviderStats` the event log keeps: the first, then one per `every_s`, and the final one."""

    def __init__(self, every_s: float = STORE_EVERY_S) -> None:
        self.every_s = every_s
        self._kept_at: float | None = None

    def keep(self, event: ev.ProviderStats) -> bool:
        if event.final or self._kept_at is None or event.ts - self._kept_at >= self.every_s:
            self._kept_at = event.ts
            return True
        return False
