"""The budget holds under concurrency and stops the run the way DSPy cannot swallow."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest

from dspy_tui.engine import events
from dspy_tui.engine.budget import Budget, BudgetExhausted


def test_reserve_settle_release_account_exactly() -> None:
    budget = Budget(1.0)
    a = budget.reserve("openai/gpt-4o", 0.30)
    b = budget.reserve("anthropic/claude-haiku-4-5", 0.20)
    assert budget.reserved == pytest.approx(0.50) and budget.remaining == pytest.approx(0.50)
    budget.settle(a, 0.10)
    budget.release(b)
    assert budget.spent == pytest.approx(0.10) and budget.reserved == 0
    assert budget.spent_by_model() == {"openai/gpt-4o": pytest.approx(0.10)}
    budget.settle(a, 0.10)  # settling twice changes nothing
    assert budget.spent == pytest.approx(0.10)


def test_exhaustion_is_a_base_exception_that_except_exception_cannot_swallow() -> None:
    assert issubclass(BudgetExhausted, BaseException) and not issubclass(BudgetExhausted, Exception)
    budget = Budget(0.05)
    budget.settle(budget.reserve("m", 0.04), 0.04)
    with pytest.raises(BudgetExhausted) as caught:
        try:
            budget.reserve("m", 0.02)
        except Exception:  # what optimizers do
            pytest.fail("an optimizer's except Exception caught the budget stop")
    assert "$0.0500" in str(caught.value) and caught.value.spent_usd == pytest.approx(0.04)
    assert budget.exhausted
    budget.reserve("m", 0.0001)  # only the call that does not fit is refused: a smaller one still goes
    with pytest.raises(BudgetExhausted):
        budget.reserve("m", 0.0100)


async def test_a_refused_call_leaves_what_is_left_to_a_smaller_call_of_another_model() -> None:
    """At the end of a budget a dear model's call may not fit while a cheap model's still does: the
    dear one stops, the cheap one goes on (it was stopped too, with money left for several calls)."""
    budget = Budget(0.001)
    budget.settle(budget.reserve("openai/gpt-4o-mini", 0.0007), 0.0007)
    with pytest.raises(BudgetExhausted):  # input $0.0002, output $10/1M, at least 32 tokens
        await budget.reserve_call("openai/gpt-4o", 0.0002, 10 / 1e6, 1024)
    reservation, tokens = await budget.reserve_call("openai/gpt-4o-mini", 0.00005, 0.6 / 1e6, 1024)
    assert tokens == 416 and budget.exhausted  # ($0.001 - $0.0007 - $0.00005) / $0.6 per 1M
    budget.settle(reservation, 0.00006)
    assert budget.spent == pytest.approx(0.00076)


def test_no_limit_tracks_spending_without_refusing() -> None:
    budget = Budget(None)
    budget.settle(budget.reserve("m", 1e6), 123.0)
    assert budget.spent == 123.0 and budget.remaining is None


def test_unknown_cost_is_charged_at_the_reservation() -> None:
    budget = Budget(1.0)
    budget.settle(budget.reserve("m", 0.25), None)
    assert budget.spent == pytest.approx(0.25) and budget.unknown_costs == 1


def test_an_overbilled_call_is_recorded_as_billed_and_stops_further_calls() -> None:
    exhausted: list[BudgetExhausted] = []
    budget = Budget(1.0, on_exhausted=exhausted.append)
    budget.settle(budget.reserve("m", 0.01), 0.05)
    assert budget.spent == pytest.approx(0.05) and budget.overruns == 1
    with pytest.raises(BudgetExhausted):
        budget.reserve("m", 0.001)
    assert len(exhausted) == 1


def test_warning_fires_once_at_eighty_percent() -> None:
    warnings: list[tuple[float, float]] = []
    budget = Budget(1.0, on_warning=lambda spent, limit: warnings.append((spent, limit)))
    budget.settle(budget.reserve("m", 0.8), 0.79)
    assert warnings == []
    budget.settle(budget.reserve("m", 0.1), 0.01)
    budget.settle(budget.reserve("m", 0.1), 0.01)
    assert warnings == [(pytest.approx(0.80), 1.0)]


def test_warnings_and_exhaustion_reach_the_event_bus() -> None:
    bus = events.EventBus("s")
    seen: list[events.Event] = []
    bus.subscribe(seen.append)
    budget = Budget(1.0, per_model={"openai/gpt-4o": 0.5})
    budget.publish_to(bus)
    budget.settle(budget.reserve("openai/gpt-4o", 0.45), 0.45)
    budget.settle(budget.reserve("gemini/gemini-2.5-flash", 0.4), 0.4)
    with pytest.raises(BudgetExhausted):
        budget.reserve("openai/gpt-4o", 0.1)
    with pytest.raises(BudgetExhausted):
        budget.reserve("openai/gpt-4o", 0.1)  # announced once
    assert [e.type for e in seen] == ["budget_warning", "budget_exhausted"]
    assert seen[1].model == "openai/gpt-4o" and seen[1].budget_usd == 0.5  # type: ignore[attr-defined]


def test_a_model_limit_stops_that_model_only() -> None:
    budget = Budget(10.0, per_model={"openai/gpt-4o": 0.10})
    budget.settle(budget.reserve("openai/gpt-4o", 0.08), 0.08)
    with pytest.raises(BudgetExhausted) as caught:
        budget.reserve("openai/gpt-4o", 0.05)
    assert caught.value.model == "openai/gpt-4o" and "openai/gpt-4o" in str(caught.value)
    budget.settle(budget.reserve("gemini/gemini-2.5-flash", 1.0), 1.0)
    assert not budget.exhausted and budget.model_spent("openai/gpt-4o") == pytest.approx(0.08)


def test_sync_reserve_refuses_when_calls_in_flight_hold_the_rest() -> None:
    budget = Budget(1.0)
    held = budget.reserve("m", 0.9)
    with pytest.raises(BudgetExhausted, match="held by calls in flight"):
        budget.reserve("m", 0.2)
    assert not budget.exhausted  # only in flight: a later call may still fit
    budget.release(held)
    budget.reserve("m", 0.2)


async def test_reserve_when_free_waits_for_calls_in_flight_instead_of_stopping() -> None:
    budget = Budget(1.0)
    held = budget.reserve("m", 0.9)
    waiter = asyncio.create_task(budget.reserve_when_free("m", 0.5))
    await asyncio.sleep(0.02)
    assert not waiter.done()
    budget.settle(held, 0.3)  # from another thread in real life; here from the loop
    reservation = await asyncio.wait_for(waiter, 1)
    assert reservation.amount_usd == 0.5
    budget.settle(reservation, 0.1)
    with pytest.raises(BudgetExhausted):  # 0.4 spent, nothing in flight: 0.8 more can never fit
        await asyncio.wait_for(budget.reserve_when_free("m", 0.8), 1)


def _hammer(budget: Budget, seed: int, stop: threading.Event) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        worst = rng.uniform(0.0001, 0.002)
        try:
            reservation = budget.reserve(f"model-{seed % 4}", worst)
        except BudgetExhausted:
            if budget.exhausted:
                return
            continue
        roll = rng.random()
        if roll < 0.15:
            budget.release(reservation)
        elif roll < 0.2:
            budget.settle(reservation, None)
        else:
            budget.settle(reservation, worst * rng.random())


@pytest.mark.parametrize("run", range(25))
def test_32_threads_never_spend_past_a_tiny_budget(run: int) -> None:
    limit = 0.01 + run * 0.001
    budget = Budget(limit)
    stop = threading.Event()
    threads = [threading.Thread(target=_hammer, args=(budget, run * 100 + i, stop)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    stop.set()
    assert budget.exhausted
    assert budget.spent <= limit
    assert budget.reserved == 0
    assert sum(budget.spent_by_model().values()) == pytest.approx(budget.spent)


@pytest.mark.parametrize("run", range(10))
async def test_32_tasks_waiting_for_room_never_spend_past_the_budget(run: int) -> None:
    limit = 0.005
    budget = Budget(limit)
    rng = random.Random(run)

    async def caller() -> int:
        calls = 0
        while True:
            worst = rng.uniform(0.0001, 0.001)
            try:
                reservation = await budget.reserve_when_free("m", worst)
            except BudgetExhausted:
                return calls
            await asyncio.sleep(rng.random() / 1000)
            budget.settle(reservation, worst * rng.random())
            calls += 1

    results = await asyncio.wait_for(asyncio.gather(*(caller() for _ in range(32))), 20)
    assert sum(results) > 0
    assert budget.spent <= limit and budget.reserved == 0


def test_a_resumed_session_counts_what_it_already_spent() -> None:
    budget = Budget(1.0, per_model={"openai/gpt-4o": 0.3})
    budget.preload(0.7, {"openai/gpt-4o": 0.3, "gemini/gemini-2.5-flash": 0.4})
    assert budget.spent == pytest.approx(0.7) and budget.remaining == pytest.approx(0.3)
    with pytest.raises(BudgetExhausted):
        budget.reserve("openai/gpt-4o", 0.01)  # that model's own cap is already used up
    budget.settle(budget.reserve("gemini/gemini-2.5-flash", 0.3), 0.3)
    with pytest.raises(BudgetExhausted):
        budget.reserve("gemini/gemini-2.5-flash", 0.01)
    full = Budget(0.5)
    full.preload(0.5)
    assert full.exhausted


async def test_a_call_that_does_not_fit_asks_for_fewer_tokens_when_nothing_is_in_flight() -> None:
    budget = Budget(0.001, min_answer_tokens=32)
    # input $0.0004, output $0.00001 a token: 1024 tokens would need $0.0106
    reservation, tokens = await budget.reserve_call("m", 0.0004, 0.00001, 1024)
    assert tokens == 60 and reservation.amount_usd == pytest.approx(0.001)
    budget.settle(reservation, 0.0007)
    with pytest.raises(BudgetExhausted, match=r"\$0.0007 spent, \$0.0003 left"):
        await budget.reserve_call("m", 0.0004, 0.00001, 1024)  # not even the input fits


async def test_fewer_tokens_than_the_floor_is_a_stop_not_a_useless_answer() -> None:
    budget = Budget(0.001, min_answer_tokens=64)
    with pytest.raises(BudgetExhausted):
        await budget.reserve_call("m", 0.0004, 0.00001, 1024)  # 60 tokens fit, 64 are the floor
    assert budget.exhausted and budget.refused == 1


async def test_a_call_that_does_not_fit_waits_for_calls_in_flight_before_shrinking() -> None:
    budget = Budget(0.01)
    held, _ = await budget.reserve_call("m", 0.001, 0.00001, 800)  # $0.009
    waiter = asyncio.create_task(budget.reserve_call("m", 0.001, 0.00001, 800))
    await asyncio.sleep(0.02)
    assert not waiter.done()  # it would fit 100 tokens now, but waits for the full answer
    budget.settle(held, 0.001)
    _, tokens = await asyncio.wait_for(waiter, 1)
    assert tokens == 800


async def test_a_cross_model_trial_may_not_spend_another_models_hold() -> None:
    from dspy_tui.engine.budget import BudgetReserveReached

    budget = Budget(1.0)
    budget.hold("a", 0.5)
    budget.hold("b", 0.2)
    budget.settle(budget.reserve("a", 0.25), 0.25)
    budget.protect("b", final=False)
    with pytest.raises(BudgetReserveReached):  # 0.05 free + its own 0.2: the trial is skipped
        await budget.reserve_call("b", 0.3, 0.0, 0)
    assert not budget.exhausted


async def test_the_held_back_reserve_ends_optimization_but_serves_the_model_that_reaches_its_benchmark() -> (
    None
):
    from dspy_tui.engine.budget import BudgetReserveReached

    bus = events.EventBus("s")
    seen: list[events.Event] = []
    bus.subscribe(seen.append)
    budget = Budget(1.0)
    budget.publish_to(bus)
    budget.hold("a", 0.3)
    budget.hold("b", 0.3)
    budget.settle(budget.reserve("a", 0.35), 0.35)
    with pytest.raises(BudgetReserveReached) as caught:
        await budget.reserve_call("b", 0.1, 0.0, 0)  # 0.05 free, the rest held back
    assert caught.value.held_usd == pytest.approx(0.6)
    assert [e.type for e in seen] == ["budget_reserve_reached"] and not budget.exhausted
    budget.protect("a")
    reservation, _ = await budget.reserve_call("a", 0.3, 0.0, 0)  # a's benchmark may use a's hold
    budget.settle(reservation, 0.3)
    assert budget.held == pytest.approx(0.3)  # b's hold is still there, a's is used up
    with pytest.raises(BudgetExhausted) as stopped:
        await budget.reserve_call("a", 0.1, 0.0, 0)  # but not b's while b still optimizes: a stops alone
    assert stopped.value.model == "a" and not budget.exhausted
    budget.release_hold("b")
    reservation, _ = await budget.reserve_call("a", 0.1, 0.0, 0)  # b gave back its hold
    budget.settle(reservation, 0.1)
    budget.release_hold("a")
    budget.hold("b", 0.5)  # a hold never claims more than is left
    assert budget.held == pytest.approx(0.25) and not budget.exhausted


async def test_a_judge_is_its_own_account_and_draws_on_the_hold_of_the_model_it_rates() -> None:
    """A judge with a competitor's model id: its calls never count against that competitor's cap,
    and while it rates a model's benchmark answers they may use that model's hold (not another's)."""
    from dspy_tui.engine.budget import BudgetReserveReached

    capped = Budget(None, {"m": 0.1})
    capped.settle((await capped.reserve_call("m (judge)", 0.3, 0.0, 0, holder="m"))[0], 0.3)
    assert capped.model_spent("m") == 0 and capped.assisted_spent("m") == pytest.approx(0.3)
    capped.settle((await capped.reserve_call("m", 0.1, 0.0, 0))[0], 0.1)  # m's own cap is untouched

    budget = Budget(1.0)
    budget.hold("a", 0.4)
    budget.hold("b", 0.4)
    budget.settle(budget.reserve("a", 0.2), 0.2)
    budget.protect("a")
    with pytest.raises(BudgetReserveReached):  # rating b's answers may not use a's hold
        await budget.reserve_call("a (judge)", 0.3, 0.0, 0, holder="b")
    reservation, _ = await budget.reserve_call("a (judge)", 0.3, 0.0, 0, holder="a")
    budget.settle(reservation, 0.3)
    assert budget.held == pytest.approx(0.4 + 0.1)  # b's hold, and what a's judge left of a's
    assert budget.model_spent("a") == pytest.approx(0.2) and budget.assisted_spent("a") == pytest.approx(0.3)
