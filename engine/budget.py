"""A spending cap that holds under concurrency and still spends what it allows.

Every paid call first reserves what it can cost at most (its input bound, see
`token_bound`, plus the output it may produce), then settles to what the provider billed, or, when
the bill is unknown (no usage, a timeout, an unreadable reply), to the whole
reservation, marked estimated: unknown is not free. A reservation that does
not fit waits for the calls in flight to settle; with none in flight the call
asks for fewer output tokens, down to a useful floor, before it is refused. A
refusal stops that call (and so its caller), not the budget: a smaller call,
another model's or another example's, still goes out if it fits what is left.

Part of the budget can be held back for later phases (the cross-model trials
and the final benchmark) so optimization cannot eat it; a model's own hold is
released to it when it reaches those phases.

Each call is charged to an account (a competing model, or a judge: a judge's
calls never count against the per-model cap of a competitor with the same id)
and draws on one model's hold: its own, or, for a judge, the model it rates.

Money is counted in integer nano-dollars so that many concurrent settles
cannot drift past the limit through float rounding. Running out raises
`BudgetExhausted`, a `BaseException`, so that no DSPy optimizer's
`except Exception` swallows it.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import events
from .pricing import Price, call_rates, unpriced_under_budget
from .token_bound import TextSize, TokenBounds, byte_bound

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


class BudgetReserveReached(BaseException):  # noqa: N818 - a stop signal for one model's optimization
    """Only the money held back for the cross-model trials and the benchmark is left:
    this model's optimization ends here, its best program so far goes on."""

    def __init__(
        self, message: str, *, model: str, spent_usd: float, limit_usd: float, held_usd: float
    ) -> None:
        super().__init__(message)
        self.model = model
        self.spent_usd = spent_usd
        self.limit_usd = limit_usd
        self.held_usd = held_usd


@dataclass(frozen=True)
class _Plan:
    """The outcome of fitting one reservation: take `nanos` (paying `tokens` of output), wait, or stop."""

    kind: str  # take | wait | stop
    nanos: int = 0
    tokens: int = 0
    refusal: BaseException | None = None
    learned: bool = False  # the input is bounded by the account's learned bound, not by bytes


@dataclass(frozen=True)
class Reservation:
    id: int
    model: str  # the account charged
    amount_usd: float
    nanos: int
    holder: str = ""  # whose hold the call draws on (the model a judge rates); "" = `model`
    text: TextSize | None = None  # the request's text, to learn its account's token bound from the bill
    learned: bool = False  # its input was bounded by the learned bound (not by bytes)


WarningCallback = Callable[[float, float], None]  # (spent_usd, limit_usd)
ExhaustedCallback = Callable[["BudgetExhausted"], None]
ReserveCallback = Callable[["BudgetReserveReached"], None]

DEFAULT_MIN_ANSWER_TOKENS = 32  # fewer output tokens than this rarely make a usable answer


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
        min_answer_tokens: int = DEFAULT_MIN_ANSWER_TOKENS,
    ) -> None:
        self.limit_usd = limit_usd
        self.min_answer_tokens = min_answer_tokens
        self.on_reserve_reached: ReserveCallback | None = None
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
        self._drawn: dict[str, int] = {}  # holder -> spent + reserved by the calls drawing on its hold
        self._assisted: dict[str, int] = {}  # holder -> spent by other accounts' calls (its judge's)
        self._exhausted_all = False  # nothing more goes out (spent on resume, or billed above a reservation)
        self._exhausted_models: set[str] = set()
        self._ran_out = False  # the session's budget refused a call it could not pay
        self._warned = False
        self._exhaust_reported: set[tuple[str, str | None]] = set()  # signals already announced
        self.overruns = 0  # settles the provider billed above the reservation
        self.unknown_costs = 0  # settles without a reported cost, charged at the reservation
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._holds: dict[str, int] = {}  # model -> nanos held back for its later phases
        self._protected: dict[str, int] = {}  # model -> its spent+reserved when it began using its hold
        self._final: set[str] = set()  # protected models in their benchmark
        self._kept: dict[
            str, int
        ] = {}  # model -> its hold its cross-model trial must leave for its benchmark
        self.refused = 0  # reservations refused (the call was never sent)
        self.token_bounds = TokenBounds()
        self.learned_calls = 0  # reservations whose input was bounded by the learned bound, not bytes

    def caps(self, model: str) -> bool:
        """Whether a limit (the session's or the model's own) bounds what `model` spends: an
        unpriced model cannot run under one."""
        return self.limit_usd is not None or model in self.per_model

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

        def reserve_reached(signal: BudgetReserveReached) -> None:
            bus.publish(
                events.BudgetReserveReached(
                    model=signal.model,
                    spent_usd=signal.spent_usd,
                    budget_usd=signal.limit_usd,
                    reserve_usd=signal.held_usd,
                )
            )

        self.on_warning = warned
        self.on_exhausted = exhausted
        self.on_reserve_reached = reserve_reached

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
    def held(self) -> float:
        """USD held back for later phases and not yet used by them."""
        with self._lock:
            return sum(self._effective_hold(m) for m in self._holds) / _NANO

    @property
    def exhausted(self) -> bool:
        """The session's budget has stopped a call (or can pay for none)."""
        return self._exhausted_all or self._ran_out

    def spent_by_model(self) -> dict[str, float]:
        with self._lock:
            return {m: n / _NANO for m, n in self._model_spent.items()}

    def model_spent(self, model: str) -> float:
        return self._model_spent.get(model, 0) / _NANO

    def assisted_spent(self, holder: str) -> float:
        """USD other accounts (a judge) spent for `holder`'s phases in this process."""
        return self._assisted.get(holder, 0) / _NANO

    # ---- holding back for later phases ------------------------------------
    def hold(self, model: str, usd: float) -> None:
        """Keep `usd` of the global budget for `model`'s later phases (replaces its previous hold),
        or as much of it as is neither spent nor held for others already. Calls in flight do not
        cap it: they usually settle for far less than they reserved."""
        with self._lock:
            wanted = _to_nanos(usd)
            if self._limit is not None:
                others = sum(self._effective_hold(m) for m in self._holds if m != model)
                free = self._limit - self._spent - others
                wanted = max(0, min(wanted, free + self._used_since_protect(model)))
            self._holds[model] = wanted
            waiters = self._take_waiters()
        self._wake(waiters)

    def release_hold(self, model: str) -> None:
        """`model` needs no more of its hold (its later phases ended, or it stopped)."""
        self.hold(model, 0.0)

    def protect(self, model: str, *, final: bool = True, keep_usd: float = 0.0) -> None:
        """`model` has reached the phases its hold is for: from now on its calls may use it (never
        another model's). `final` (its benchmark): running out stops the model (`BudgetExhausted`
        for it alone); otherwise (its cross-model trial) it ends the trial (`BudgetReserveReached`),
        which must leave `keep_usd` of the hold for the benchmark that follows."""
        with self._lock:
            if model not in self._protected or (final and model not in self._final):
                # its hold counts from here: a cross-model trial that spent money nobody held
                # has not used up the hold of the benchmark that follows
                self._protected[model] = self._drawn.get(model, 0)
            if final:
                self._final.add(model)
                self._kept.pop(model, None)
            else:  # what the benchmark keeps is fixed now: the trial's spending does not shrink it
                self._kept[model] = min(_to_nanos(keep_usd), self._effective_hold(model))
            waiters = self._take_waiters()
        self._wake(waiters)

    def drop_holds(self) -> None:
        with self._lock:
            self._holds.clear()
            waiters = self._take_waiters()
        self._wake(waiters)

    def _used_since_protect(self, model: str) -> int:
        base = self._protected.get(model)
        if base is None:
            return 0
        return self._drawn.get(model, 0) - base

    def _effective_hold(self, model: str) -> int:
        """What is still held for `model`: its hold less what it used since it began using it."""
        return max(0, self._holds.get(model, 0) - self._used_since_protect(model))

    def _held_against(self, model: str) -> int:
        """Nanos this model's calls may not touch: every hold while it optimizes, every hold but its
        own in its later phases (and, in its cross-model trial, what its benchmark keeps)."""
        if model in self._protected:
            return self._kept.get(model, 0) + sum(self._effective_hold(m) for m in self._holds if m != model)
        return sum(self._effective_hold(m) for m in self._holds)

    # ---- reserving -----------------------------------------------------
    def reserve(self, model: str, amount: float) -> Reservation:
        """Take `amount` USD out of what is left, or raise `BudgetExhausted`
        (also when only calls in flight hold the rest: this form cannot wait)."""
        with self._lock:
            plan = self._plan(model, model, _to_nanos(amount), 0.0, 0, 0)
            if plan.kind == "take":
                return self._take(model, model, plan.nanos)
            refusal = plan.refusal or self._refusal(model, in_flight=True)
            self.refused += 1
        self._fire(refusal)
        raise refusal

    async def reserve_when_free(self, model: str, amount: float) -> Reservation:
        """Like `reserve`, but when only in-flight reservations stand in the
        way, wait for them to settle instead of stopping the run early."""
        reservation, _ = await self.reserve_call(model, amount, 0.0, 0)
        return reservation

    async def reserve_call(
        self,
        model: str,
        input_usd: float,
        usd_per_output_token: float,
        max_tokens: int,
        *,
        holder: str | None = None,
        text: TextSize | None = None,
        learned_input_usd: Callable[[], float | None] | None = None,
    ) -> tuple[Reservation, int]:
        """Reserve one call charged to account `model`, drawing on `holder`'s hold (default
        `model`'s): its input bound plus `max_tokens` of output (`text`: the request's, to learn
        its account's token bound from the bill).

        Returns the reservation and the output tokens it pays for. When it does
        not fit: wait while other calls are in flight (they usually settle for
        less than they hold); with nothing in flight, bound the input by the
        account's learned bound (`learned_input_usd()`, asked afresh after each wait,
        see `token_bound`) instead,
        so only one call at a time is ever reserved below its byte bound, then
        pay for fewer output tokens if at least `min_answer_tokens` fit; else stop
        (`BudgetExhausted`, or `BudgetReserveReached` when only the phase reserve
        stands in the way).
        """
        loop = asyncio.get_running_loop()
        holder = holder or model
        input_nanos = _to_nanos(input_usd)
        rate = usd_per_output_token * _NANO
        while True:
            learned_usd = learned_input_usd() if learned_input_usd is not None else None
            learned_nanos = None if learned_usd is None else _to_nanos(learned_usd)
            with self._lock:
                plan = self._plan(
                    model, holder, input_nanos, rate, max_tokens, self.min_answer_tokens, learned_nanos
                )
                if plan.kind == "take":
                    return self._take(model, holder, plan.nanos, text, plan.learned), plan.tokens
                if plan.kind == "wait":
                    waiter: asyncio.Future[None] = loop.create_future()
                    self._waiters.append((loop, waiter))
                else:
                    self.refused += 1
            if plan.refusal is not None:
                self._fire(plan.refusal)
                raise plan.refusal
            await waiter

    def _plan(
        self,
        model: str,
        holder: str,
        input_nanos: int,
        rate: float,
        max_tokens: int,
        floor: int,
        learned_nanos: int | None = None,
    ) -> _Plan:
        """What to do with one reservation request. Caller holds the lock."""
        if self._exhausted_all or model in self._exhausted_models:
            own = model in self._exhausted_models
            return _Plan("stop", refusal=self._refusal(model, in_flight=False, own_cap=own))
        full = input_nanos + math.ceil(rate * max_tokens)
        scopes = self._scopes(model, holder)
        if all(full <= room for room, _, _ in scopes):
            return _Plan("take", full, max_tokens)
        if any(full > room and reserved > 0 for room, reserved, _ in scopes):
            return _Plan("wait")
        held = self._held_against(holder)
        # the learned bound spends what is left of the budget, not money held back from this
        # phase: with a hold in the way the phase ends as it would by bytes
        holds_in_way = held > 0 and all(full <= room + held * (scope is None) for room, _, scope in scopes)
        learned = learned_nanos is not None and learned_nanos < input_nanos and not holds_in_way
        if learned_nanos is not None and learned:
            input_nanos = learned_nanos
            full = input_nanos + math.ceil(rate * max_tokens)
            if all(full <= room for room, _, _ in scopes):
                return _Plan("take", full, max_tokens, learned=True)
        room = min(r for r, _, _ in scopes)
        tokens = min(max_tokens, math.floor((room - input_nanos) / rate)) if rate > 0 else 0
        if rate > 0 and tokens >= min(floor, max_tokens) and tokens > 0:
            return _Plan("take", input_nanos + math.ceil(rate * tokens), tokens, learned=learned)
        if held and all(full <= room + held * (scope is None) for room, _, scope in scopes):
            return _Plan("stop", refusal=self._reserve_reached(holder, held))  # held back for others
        # Only this call is refused: a smaller one (another model's, or another example's) may
        # still fit what is left, so the scopes it ran out of are noted, not closed.
        smallest = input_nanos + math.ceil(rate * min(floor, max_tokens))
        out = {scope for room, _, scope in scopes if smallest > room}
        self._ran_out = self._ran_out or None in out
        return _Plan("stop", refusal=self._refusal(model, in_flight=False, own_cap=model in out))

    def _scopes(self, model: str, holder: str) -> list[tuple[int, int, str | None]]:
        """(room left, reserved in flight, scope) for every cap this account's calls count against."""
        scopes: list[tuple[int, int, str | None]] = []
        if self._limit is not None:
            room = self._limit - self._spent - self._reserved - self._held_against(holder)
            scopes.append((room, self._reserved, None))
        model_limit = self._model_limits.get(model)
        if model_limit is not None:
            reserved = self._model_reserved.get(model, 0)
            scopes.append((model_limit - self._model_spent.get(model, 0) - reserved, reserved, model))
        return scopes

    def _take(
        self, model: str, holder: str, nanos: int, text: TextSize | None = None, learned: bool = False
    ) -> Reservation:
        reservation = Reservation(next(self._ids), model, nanos / _NANO, nanos, holder, text, learned)
        self.learned_calls += learned
        self._open[reservation.id] = reservation
        self._reserved += nanos
        self._model_reserved[model] = self._model_reserved.get(model, 0) + nanos
        self._drawn[holder] = self._drawn.get(holder, 0) + nanos
        return reservation

    def _refusal(self, model: str, *, in_flight: bool, own_cap: bool = False) -> BudgetExhausted:
        """`own_cap`: the model's own limit refused it (else the session's)."""
        model_limit = self._model_limits.get(model)
        model_out = own_cap and model_limit is not None
        if model_out and model_limit is not None:
            spent, reserved, limit = (
                self._model_spent.get(model, 0),
                self._model_reserved.get(model, 0),
                model_limit,
            )
            scope = f"the budget for {model}"
        else:
            spent, reserved, limit = self._spent, self._reserved, self._limit or 0
            scope = "the budget"
        left = max(0, limit - spent - reserved)
        why = (
            f"${left / _NANO:.4f} left is held by calls in flight"
            if in_flight
            else f"${left / _NANO:.4f} left is too little for its next call"
        )
        return BudgetExhausted(
            f"Stopped: {scope} of ${limit / _NANO:.4f} is used up: ${spent / _NANO:.4f} spent, {why}; "
            "raise the budget to continue (dspy-tui resume ID --budget USD).",
            spent_usd=spent / _NANO,
            limit_usd=limit / _NANO,
            model=model if model_out else None,
        )

    def _reserve_reached(self, model: str, held: int) -> BaseException:
        limit = self._limit or 0
        if model in self._final:  # its benchmark cannot go on: this model stops, the others go on
            return BudgetExhausted(
                f"Stopped {model}: ${self._spent / _NANO:.4f} of ${limit / _NANO:.4f} spent; the "
                f"${held / _NANO:.4f} left is held for the other models' benchmarks.",
                spent_usd=self._spent / _NANO,
                limit_usd=limit / _NANO,
                model=model,
            )
        return BudgetReserveReached(
            f"{model}: stopped with ${self._spent / _NANO:.4f} of ${limit / _NANO:.4f} spent; the "
            f"${held / _NANO:.4f} left is held back for the cross-model trials and the benchmarks.",
            model=model,
            spent_usd=self._spent / _NANO,
            limit_usd=limit / _NANO,
            held_usd=held / _NANO,
        )

    # ---- settling ------------------------------------------------------
    def settle(
        self, reservation: Reservation, actual_cost: float | None, prompt_tokens: int | None = None
    ) -> float:
        """Turn a reservation into spending and return the USD charged. `None`
        (the bill is unknown) is charged at the whole reservation: unknown is not free.
        `prompt_tokens` (as billed) teaches the account's token bound."""
        refusal: BudgetExhausted | None = None
        warn: tuple[float, float] | None = None
        with self._lock:
            if self._open.pop(reservation.id, None) is None:
                return 0.0  # settled or released already
            if actual_cost is None:
                self.unknown_costs += 1
                nanos = reservation.nanos
            else:
                nanos = _to_nanos(actual_cost)
            self._unreserve(reservation)
            self._spent += nanos
            self._model_spent[reservation.model] = self._model_spent.get(reservation.model, 0) + nanos
            holder = reservation.holder or reservation.model
            self._drawn[holder] = self._drawn.get(holder, 0) + nanos
            if holder != reservation.model:
                self._assisted[holder] = self._assisted.get(holder, 0) + nanos
            if actual_cost is not None and prompt_tokens is not None and reservation.text is not None:
                self.token_bounds.observe(reservation.model, reservation.text, prompt_tokens)
            if nanos > reservation.nanos and reservation.learned:
                # Denser than the account's learned bound: record it as billed, bound its
                # requests by bytes from now on (a budget it pushed over refuses every call).
                self.overruns += 1
                self.token_bounds.distrust(reservation.model)
            elif nanos > reservation.nanos:
                # The provider billed more than the worst case we allowed for:
                # record it as billed and allow no further calls.
                self.overruns += 1
                if self._limit is not None:
                    self._exhausted_all = True
                if reservation.model in self._model_limits:
                    self._exhausted_models.add(reservation.model)
                if self._limit is not None or reservation.model in self._model_limits:
                    own = reservation.model in self._exhausted_models
                    refusal = self._refusal(reservation.model, in_flight=False, own_cap=own)
            if self._limit is not None and not self._warned and self._spent >= self.warn_at * self._limit:
                self._warned = True
                warn = (self._spent / _NANO, self._limit / _NANO)
            waiters = self._take_waiters()
        self._wake(waiters)
        if warn is not None and self.on_warning is not None:
            self.on_warning(*warn)
        if refusal is not None:
            self._fire(refusal)
        return nanos / _NANO

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
        self._drawn[reservation.holder or reservation.model] -= reservation.nanos

    def _take_waiters(self) -> list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]:
        waiters, self._waiters = self._waiters, []
        return waiters

    @staticmethod
    def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]) -> None:
        for loop, waiter in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, waiter)

    def _fire(self, signal: BaseException) -> None:
        """Count a refusal; announce each exhausted scope (global, or one model) and
        each model's reaching of the reserve once."""
        with self._lock:
            reserve = isinstance(signal, BudgetReserveReached)
            key = ("reserve" if reserve else "out", getattr(signal, "model", None))
            if key in self._exhaust_reported:
                return
            self._exhaust_reported.add(key)
        if isinstance(signal, BudgetReserveReached):
            if self.on_reserve_reached is not None:
                self.on_reserve_reached(signal)
        elif isinstance(signal, BudgetExhausted) and self.on_exhausted is not None:
            self.on_exhausted(signal)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def reserve_for_call(
    budget: Budget,
    model: str,
    price: Price | None,
    body_bytes: int,
    max_tokens: int,
    *,
    holder: str | None = None,
    text: TextSize | None = None,
) -> tuple[Reservation, int]:
    """Reserve one request of `body_bytes` (its string values: `text`) asking for up to
    `max_tokens` of output, charged to account `model` and drawing on `holder`'s hold; returns
    the reservation and the output tokens it may ask for (maybe fewer)."""
    rates = call_rates(price, byte_bound(body_bytes))
    if rates is None:
        if budget.caps(model):
            raise BudgetExhausted(
                f"Stopped: {unpriced_under_budget(model)}",
                spent_usd=budget.spent,
                limit_usd=budget.limit_usd or 0.0,
                model=model,
            )
        rates = (0.0, 0.0)
    input_usd, per_output_token = rates

    def learned_usd() -> float | None:
        tokens = budget.token_bounds.bound(model, text) if text is not None else None
        return None if tokens is None else (call_rates(price, tokens) or (0.0, 0.0))[0]

    return await budget.reserve_call(
        model,
        input_usd,
        per_output_token,
        max_tokens,
        holder=holder,
        text=text,
        learned_input_usd=learned_usd,
    )


def spending_words(budget: Budget) -> str:
    """What was spent and what is left, e.g. "$0.0098 of $0.0100 spent, $0.0002 left" (CLI and TUI)."""
    if budget.limit_usd is None:
        return f"${budget.spent:.4f} spent (no budget)"
    left = max(0.0, budget.limit_usd - budget.spent)
    return f"${budget.spent:.4f} of ${budget.limit_usd:.4f} spent, ${left:.4f} left"
