"""Budget utilisation: spent/budget over 50 random budgets, next to the old way of reserving.

A simulated workload (no provider, no network): 16 workers make calls until the
budget stops them. Each call has a prompt of 1.5-3 kB that really costs 0.25
tokens a byte, asks for max_tokens = 1024 and really answers 10-100 tokens, at
gpt-4o-mini's list price, with 1-5 ms of latency. Two ways to reserve:

* now (`Budget.reserve_call`): input bound of a token per byte, output capped by what
  remains; wait while calls are in flight; shorter answers (down to 32 tokens) before stopping;
* old: reserve bytes/3 input tokens + all 1024 output tokens and stop at the first
  reservation that does not fit.

Prints the worst, median and best spent/budget of each (target for "now": worst >= 0.8,
never > 1.0). Run: `python benchmarks/budget_utilisation.py [--runs 50] [--seed 0]`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics

from dspy_tui.engine.budget import Budget, BudgetExhausted, input_token_bound
from dspy_tui.engine.pricing import PRICES, call_rates

PRICE = PRICES["openai"]["gpt-4o-mini"]
WORKERS = 16
MAX_TOKENS = 1024


def _actual_cost(body_bytes: int, output_tokens: int) -> float:
    return (body_bytes * 0.25 * PRICE.input + output_tokens * PRICE.output) / 1_000_000


async def _now(budget: Budget, rng: random.Random) -> None:
    while True:
        body = rng.randint(1500, 3000)
        input_usd, per_token = call_rates(PRICE, input_token_bound(body)) or (0.0, 0.0)
        try:
            reservation, allowed = await budget.reserve_call("m", input_usd, per_token, MAX_TOKENS)
        except BudgetExhausted:
            return
        await asyncio.sleep(rng.uniform(0.001, 0.005))
        budget.settle(reservation, _actual_cost(body, min(allowed, rng.randint(10, 100))))


async def _old(budget: Budget, rng: random.Random) -> None:
    while True:
        body = rng.randint(1500, 3000)
        worst = (body // 3 * PRICE.input + MAX_TOKENS * PRICE.output) / 1_000_000
        try:
            reservation = budget.reserve("m", worst)
        except BudgetExhausted:
            return
        await asyncio.sleep(rng.uniform(0.001, 0.005))
        budget.settle(reservation, _actual_cost(body, rng.randint(10, 100)))


async def _utilisation(policy: str, limit: float, seed: int) -> float:
    budget = Budget(limit)
    worker = _now if policy == "now" else _old
    await asyncio.gather(*(worker(budget, random.Random(seed * 100 + i)) for i in range(WORKERS)))
    return budget.spent / limit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    budgets = [round(10 ** rng.uniform(-3.3, -1), 6) for _ in range(args.runs)]  # $0.0005 .. $0.10
    print(
        f"budget utilisation (simulated workload, {WORKERS} workers, gpt-4o-mini prices), {args.runs} budgets"
    )
    for policy in ("now", "old"):
        shares = [asyncio.run(_utilisation(policy, b, args.seed + i)) for i, b in enumerate(budgets)]
        worst = min(range(len(shares)), key=shares.__getitem__)
        above = [s for b, s in zip(budgets, shares, strict=True) if b >= 0.002]
        print(
            f"  {policy:>3}: spent/budget worst {shares[worst]:.3f} (at ${budgets[worst]:.4f})  "
            f"median {statistics.median(shares):.3f}  best {max(shares):.3f}  "
            f"worst of budgets >= $0.002 {min(above):.3f}  over budget {sum(s > 1.0 for s in shares)}/{len(shares)}"
        )
    # Why the smallest budgets are not spent: a call may start only when its worst case fits, and the
    # input bound (a token per byte, safe for any tokenizer) is 4x what this workload really costs.
    input_usd, per_token = call_rates(PRICE, input_token_bound(3000)) or (0.0, 0.0)
    largest = input_usd + per_token * Budget().min_answer_tokens
    real = _actual_cost(3000, 100)
    print(
        f"  the largest call's smallest reservation is ${largest:.6f} (it really costs at most ${real:.6f}): "
        f"a budget under ~{1 / 0.2:.0f} such reservations (${5 * largest:.4f}) can be left with more than "
        "20% unspent, because the next call's worst case no longer fits"
    )


if __name__ == "__main__":
    main()
