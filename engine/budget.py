"""A spending cap that holds under concurrency.

Every paid call first reserves its worst-case cost, then settles to what the
provider billed (never more than reserved, unless the provider over-reports)
or releases the reservation on failure. Money is counted in integer
nano-dollars so that many concurrent settles cannot drift past the limit
through float rounding. Running out raises `BudgetExhausted`, a
`BaseException`, so that no DSPy optimizer's `except Exception` swallows it.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import events

_NANO = 1_000_000_000


def _to_nanos(usd: float) -> int:
    """Round up: a reservation or a charge is never smaller than the dollars it stands for."""
    if usd < 0 or not math.isfinite(usd):
        raise ValueError(f"a cost must be a finite non-negative number, got {usd!r}")
    return math.ceil(usd * _NANO - 1e-6)


class BudgetExhausted(BaseException):  # noqa: N818 - the name is the user-facing event
    """The budget (global or one model's) cannot pay for another call."""

    def __init__(self, message: str, *, spent_usd: float, limit_usd: float, model: str | None = None) -> None:
        super().__init__(message)
        self.spent_usd = spent_usd
        self.limit_usd = limit_usd
        self.model = model


@dataclass(frozen=True)
class Reservation:
    id: int
    model: str
    amount_usd: float
    nanos: int


WarningCallback = Callable[[float, float], None]  # (spent_usd, limit_usd)
ExhaustedCallback = Callable[["BudgetExhausted"], None]


class Budget:
    """Global and per-model caps in USD; `None` means "track, do not cap"."""

    def __init__(
        self,
        limit_usd: float | None = None,
        per_model: dict[str, float] | None = None,
        *,
        warn_at: float = 0.8,
        on_warning: WarningCallback | None = None,
        on_exhausted: ExhaustedCallback | None = None,
    ) -> None:
        self.limit_usd = limit_usd
        self.per_model = dict(per_model or {})
        self.warn_at = warn_at
        self.on_warning = on_warning
        self.on_exhausted = on_exhausted
        self._limit = _to_nanos(limit_usd) if limit_usd is not None else None
        self._model_limits = {m: _to_nanos(v) for m, v in self.per_model.items()}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._open: dict[int, Reservation] = {}
        self._spent = 0
        self._reserved = 0
        self._model_spent: dict[str, int] = {}
        self._model_reserved: dict[str, int] = {}
        self._exhausted_all = False
        self._exhausted_models: set[str] = set()
        self._warned = False
        self._exhaust_reported: set[str | None] = set()  # scopes (None: global) already announced
        self.overruns = 0  # settles the provider billed above the reservation
        self.unknown_costs = 0  # settles without a reported cost, charged at the reservation
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def publish_to(self, bus: events.EventBus) -> None:
        """Announce the 80% warning and each exhaustion on `bus` as typed events."""

        def warned(spent: float, limit: float) -> None:
            bus.publish(events.BudgetWarning(spent_usd=spent, budget_usd=limit))

        def exhausted(refusal: BudgetExhausted) -> None:
            bus.publish(
                events.BudgetExhausted(
                    model=refusal.model, spent_usd=refusal.spent_usd, budget_usd=refusal.limit_usd
                )
            )

        self.on_warning = warned
        self.on_exhausted = exhausted

    def preload(self, spent_usd: float, by_model: Mapping[str, float] | None = None) -> None:
        """Count what a resumed session already spent, so the cap covers the whole session."""
        with self._lock:
            self._spent += _to_nanos(spent_usd)
            for model, usd in (by_model or {}).items():
                self._model_spent[model] = self._model_spent.get(model, 0) + _to_nanos(usd)
            if self._limit is not None and self._spent >= self._limit:
                self._exhausted_all = True
            for model, limit in self._model_limits.items():
                if self._model_spent.get(model, 0) >= limit:
                    self._exhausted_models.add(model)

    # ---- reading -------------------------------------------------------
    @property
    def spent(self) -> float:
        return self._spent / _NANO

    @property
    def reserved(self) -> float:
        return self._reserved / _NANO

    @property
    def remaining(self) -> float | None:
        if self._limit is None:
            return None
        return max(0, self._limit - self._spent - self._reserved) / _NANO

    @property
    def exhausted(self) -> bool:
        return self._exhausted_all

    def spent_by_model(self) -> dict[str, float]:
        with self._lock:
            return {m: n / _NANO for m, n in self._model_spent.items()}

    def model_spent(self, model: str) -> float:
        return self._model_spent.get(model, 0) / _NANO

    # ---- reserving -----------------------------------------------------
    def reserve(self, model: str, amount: float) -> Reservation:
        """Take `amount` USD out of what is left, or raise `BudgetExhausted`."""
        reservation = self.try_reserve(model, amount)
        if reservation is None:
            with self._lock:
                raise self._refusal(model, in_flight=True)
        return reservation

    def try_reserve(self, model: str, amount: float) -> Reservation | None:
        """Like `reserve`, but None when only calls in flight stand in the way
        (it may fit once they settle); raises when it can never fit."""
        with self._lock:
            fits_now, refusal = self._fits(model, _to_nanos(amount))
            if fits_now:
                return self._take(model, amount)
        if refusal is not None:
            self._fire_exhausted(refusal)
            raise refusal
        return None

    async def reserve_when_free(self, model: str, amount: float) -> Reservation:
        """Like `reserve`, but when only in-flight reservations stand in the
        way, wait for them to settle instead of stopping the run early."""
        loop = asyncio.get_running_loop()
        nanos = _to_nanos(amount)
        while True:
            with self._lock:
                fits_now, refusal = self._fits(model, nanos)
                if fits_now:
                    return self._take(model, amount)
                if refusal is None:
                    waiter: asyncio.Future[None] = loop.create_future()
                    self._waiters.append((loop, waiter))
            if refusal is not None:
                self._fire_exhausted(refusal)
                raise refusal
            await waiter

    def _fits(self, model: str, nanos: int) -> tuple[bool, BudgetExhausted | None]:
        """(fits now, refusal if it can never fit). Caller holds the lock."""
        if self._exhausted_all or model in self._exhausted_models:
            return False, self._refusal(model, in_flight=False)
        for limit, spent, reserved, scope in self._scopes(model):
            if spent + reserved + nanos <= limit:
                continue
            if spent + nanos > limit:
                if scope is None:
                    self._exhausted_all = True
                else:
                    self._exhausted_models.add(scope)
                return False, self._refusal(model, in_flight=False)
            return False, None
        return True, None

    def _scopes(self, model: str) -> list[tuple[int, int, int, str | None]]:
        scopes: list[tuple[int, int, int, str | None]] = []
        if self._limit is not None:
            scopes.append((self._limit, self._spent, self._reserved, None))
        model_limit = self._model_limits.get(model)
        if model_limit is not None:
            scopes.append(
                (model_limit, self._model_spent.get(model, 0), self._model_reserved.get(model, 0), model)
            )
        return scopes

    def _take(self, model: str, amount: float) -> Reservation:
        nanos = _to_nanos(amount)
        reservation = Reservation(next(self._ids), model, amount, nanos)
        self._open[reservation.id] = reservation
        self._reserved += nanos
        self._model_reserved[model] = self._model_reserved.get(model, 0) + nanos
        return reservation

    def _refusal(self, model: str, *, in_flight: bool) -> BudgetExhausted:
        model_limit = self._model_limits.get(model)
        model_out = model in self._exhausted_models and model_limit is not None
        if model_out and model_limit is not None:
            spent, limit = self._model_spent.get(model, 0), model_limit
            scope = f"the budget for {model}"
        else:
            spent, limit = self._spent, self._limit or 0
            scope = "the budget"
        why = "is held by calls in flight" if in_flight else "is spent"
        return BudgetExhausted(
            f"Stopped: {scope} of ${limit / _NANO:.4f} {why} (${spent / _NANO:.4f} spent); "
            "raise the budget to continue.",
            spent_usd=spent / _NANO,
            limit_usd=limit / _NANO,
            model=model if model_out else None,
        )

    # ---- settling ------------------------------------------------------
    def settle(self, reservation: Reservation, actual_cost: float | None) -> None:
        """Turn a reservation into spending. `None` (the provider reported no
        usage) is charged at the reservation: unknown is not free."""
        refusal: BudgetExhausted | None = None
        warn: tuple[float, float] | None = None
        with self._lock:
            if self._open.pop(reservation.id, None) is None:
                return  # settled or released already
            if actual_cost is None:
                self.unknown_costs += 1
                nanos = reservation.nanos
            else:
                nanos = _to_nanos(actual_cost)
            self._unreserve(reservation)
            self._spent += nanos
            self._model_spent[reservation.model] = self._model_spent.get(reservation.model, 0) + nanos
            if nanos > reservation.nanos:
                # The provider billed more than the worst case we allowed for:
                # record it as billed and allow no further calls.
                self.overruns += 1
                if self._limit is not None:
                    self._exhausted_all = True
                if reservation.model in self._model_limits:
                    self._exhausted_models.add(reservation.model)
                if self._limit is not None or reservation.model in self._model_limits:
                    refusal = self._refusal(reservation.model, in_flight=False)
            if self._limit is not None and not self._warned and self._spent >= self.warn_at * self._limit:
                self._warned = True
                warn = (self._spent / _NANO, self._limit / _NANO)
            waiters = self._take_waiters()
        self._wake(waiters)
        if warn is not None and self.on_warning is not None:
            self.on_warning(*warn)
        if refusal is not None:
            self._fire_exhausted(refusal)

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation whose call was never billed."""
        with self._lock:
            if self._open.pop(reservation.id, None) is None:
                return
            self._unreserve(reservation)
            waiters = self._take_waiters()
        self._wake(waiters)

    def _unreserve(self, reservation: Reservation) -> None:
        self._reserved -= reservation.nanos
        self._model_reserved[reservation.model] -= reservation.nanos

    def _take_waiters(self) -> list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]:
        waiters, self._waiters = self._waiters, []
        return waiters

    @staticmethod
    def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]) -> None:
        for loop, waiter in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, waiter)

    def _fire_exhausted(self, refusal: BudgetExhausted) -> None:
        """Announce each exhausted scope (global, or one model) once."""
        with self._lock:
            if refusal.model in self._exhaust_reported:
                return
            self._exhaust_reported.add(refusal.model)
        if self.on_exhausted is not None:
            self.on_exhausted(refusal)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
