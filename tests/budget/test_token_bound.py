"""The learned input bound: bytes until the provider has billed an account, then its densest
tokens per text byte times a margin, and only where no call is in flight; never over budget while
the densities stay within the margin, and a denser bill puts the account back on bytes."""

from __future__ import annotations

import asyncio
import math
import random

import pytest

from dspy_tui.engine.budget import Budget, BudgetExhausted, BudgetReserveReached, reserve_for_call
from dspy_tui.engine.phase_reserve import PhaseReserve
from dspy_tui.engine.pricing import Price
from dspy_tui.engine.token_bound import MARGIN, TEMPLATE_TOKENS, TextSize, TokenBounds, text_size

PRICE = Price(input=0.15, output=0.60)


def test_text_size_counts_the_string_values_and_splits_off_non_ascii_bytes() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "héllo 😀"}], "max_tokens": 5}
    size = text_size(body)
    assert (size.ascii, size.other) == (1 + 4 + 5, 2 + 4)  # "m", "user", "hllo " / "é", "😀"
    assert size.share == pytest.approx(6 / 16)


def test_bytes_until_a_bill_then_the_densest_density_times_the_margin_within_the_shares_seen() -> None:
    bounds = TokenBounds()
    english = TextSize(2000, 0)
    assert bounds.bound("a", english) is None  # nothing billed yet: bytes
    bounds.observe("a", english, 500)
    bounds.observe("a", TextSize(1000, 0), 200)  # less dense: the densest one counts
    assert bounds.bound("a", TextSize(3000, 0)) == math.ceil(0.25 * MARGIN * 3000) + TEMPLATE_TOKENS
    assert bounds.bound("b", english) is None  # another account learns on its own
    assert bounds.bound("a", TextSize(1900, 100)) is None  # denser kind of text than any billed
    bounds.distrust("a")
    assert bounds.bound("a", english) is None


async def _spend(budget: Budget, densities: tuple[float, float], seed: int, *, workers: int = 8) -> None:
    """Workers whose requests cost `densities` (ASCII, other) tokens per byte, each request denser by
    a factor in [1, MARGIN), up to TEMPLATE_TOKENS of template, and 10-100 output tokens; never more
    than a token per byte of text (no tokenizer does: the byte bound every first call relies on)."""
    rng = random.Random(seed)

    async def worker() -> None:
        while True:
            text = TextSize(rng.randint(200, 4000), rng.choice([0, 0, rng.randint(0, 800)]))
            density = min(
                1.0,
                rng.uniform(1.0, MARGIN)
                * (densities[0] * text.ascii + densities[1] * text.other)
                / text.total,
            )
            billed = math.floor(density * text.total + rng.randint(0, TEMPLATE_TOKENS))
            try:
                reservation, allowed = await reserve_for_call(
                    budget, "m", PRICE, text.total + 120, 512, text=text
                )
            except BudgetExhausted:
                return
            await asyncio.sleep(rng.uniform(0, 0.002))
            out = min(allowed, rng.randint(10, 100))
            budget.settle(reservation, (billed * PRICE.input + out * PRICE.output) / 1e6, billed)

    await asyncio.gather(*(worker() for _ in range(workers)))


def test_never_over_budget_while_each_kind_of_byte_keeps_its_density_within_the_margin() -> None:
    rng = random.Random(3)
    learned = 0
    for run in range(120):
        budget = Budget(round(rng.uniform(0.0003, 0.01), 6))
        densities = (rng.uniform(0.05, 1.0), rng.uniform(0.05, 1.0))
        asyncio.run(_spend(budget, densities, run))
        assert budget.spent <= budget.limit_usd, (run, densities, budget.spent, budget.limit_usd)
        assert budget.overruns == 0, (run, densities)
        learned += budget.token_bounds.learned("m")
    assert learned > 100  # the learned bound was in play, not bytes alone


async def _one_call(budget: Budget, text: TextSize, billed: int) -> bool:
    reservation, _ = await reserve_for_call(budget, "m", PRICE, text.total + 120, 64, text=text)
    budget.settle(reservation, billed * PRICE.input / 1e6, billed)
    return reservation.learned


def test_the_learned_bound_is_used_only_when_bytes_do_not_fit_and_a_denser_bill_distrusts_it() -> None:
    english = TextSize(2000, 0)
    budget = Budget(0.0004)
    assert asyncio.run(_one_call(budget, english, 500)) is False  # bytes fit: bytes
    # $0.000325 left: bytes ($0.00034 with 32 tokens) do not fit, the learned bound does
    assert asyncio.run(_one_call(budget, english, 500)) is True
    assert budget.overruns == 0
    denser = Budget(0.0004)
    asyncio.run(_one_call(denser, english, 500))
    assert asyncio.run(_one_call(denser, english, 900)) is True  # billed above its learned bound
    assert denser.overruns == 1 and not denser.exhausted  # recorded as billed, the budget goes on
    assert not denser.token_bounds.learned("m")  # ... with bytes only for this account


def test_a_cross_model_trial_leaves_its_benchmark_what_it_needs_even_after_spending_free_money() -> None:
    budget = Budget(1.0)
    reserve = PhaseReserve(budget, test_examples=10, cross_model_examples=10.0, transfer_costs=True)
    reserve.update("a", {"calls": 10, "cost_usd": 0.1})  # $0.01 a call: holds 20 calls x 1.1
    reserve.optimization_ended("a")
    held = budget.held
    assert held == pytest.approx(0.22)
    reserve.enter_cross_model("a")

    async def trial() -> None:
        with pytest.raises(BaseException, match="held back"):
            while True:
                reservation, _ = await budget.reserve_call("a", 0.05, 0.0, 0)
                budget.settle(reservation, 0.05)

    asyncio.run(trial())
    # the trial spent the free money and its own cross-model share, not the benchmark's $0.11
    assert 1.0 - budget.spent >= 0.11 - 1e-9
    reserve.release_to("a")

    async def benchmark() -> None:
        for _ in range(2):
            reservation, _ = await budget.reserve_call("a", 0.05, 0.0, 0)
            budget.settle(reservation, 0.05)

    asyncio.run(benchmark())


def test_money_held_back_for_later_phases_is_not_reached_through_the_learned_bound() -> None:
    budget = Budget(0.0005)
    asyncio.run(_one_call(budget, TextSize(2000, 0), 500))  # billed: the account has a learned bound
    budget.hold("b", 0.0002)  # the rest would pay this call by bytes only with b's hold
    with pytest.raises(BudgetReserveReached):
        asyncio.run(_one_call(budget, TextSize(2000, 0), 500))
    assert budget.learned_calls == 0  # the phase ends as it would by bytes


def test_the_hold_prices_an_answer_with_the_attempts_that_failed_before_it() -> None:
    """Seen against a provider that fails one request in five: the benchmark's hold priced a call
    as the phase's cost over every attempt (failed ones included), then multiplied it by examples,
    each of which pays for its failed attempts too; llama-3.3-70b's benchmark ran out at 50 of 75."""
    budget = Budget(10.0)
    reserve = PhaseReserve(budget, test_examples=75, cross_model_examples=0.0)
    # 100 attempts: 80 answered, 20 failed (8 of them resets billed at their reservation)
    reserve.update("a", {"calls": 100, "errors": 20, "cancelled": 0, "cost_usd": 0.02})
    assert budget.held == pytest.approx(0.02 / 80 * 75 * 1.1)  # $0.00025 an answer, not $0.0002
    reserve.update("b", {"calls": 4, "errors": 4, "cost_usd": 0.004})  # nothing answered yet
    assert budget.held == pytest.approx(0.02 / 80 * 75 * 1.1 + 0.001 * 75 * 1.1)
