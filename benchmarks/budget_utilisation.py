"""Budget utilisation: spent/budget over 50 random budgets, next to other ways of reserving.

A simulated workload (no provider, no network): 16 workers make calls until the
budget stops them. Each call has a request body of 1.5-3 kB (its string values:
100 bytes fewer) that really costs 0.25 tokens a body byte, asks for max_tokens = 1024
and really answers 10-100 tokens, at gpt-4o-mini's list price, with 1-5 ms of
latency; the simulated provider reports its usage. Four ways to reserve:

* now (`reserve_for_call`, what the product does): input bound of a token per byte; output
  capped by what remains; wait while calls are in flight; with none in flight, the input
  bounded by the densest tokens per text byte billed so far times 1.25 (`token_bound`), then
  shorter answers (down to 32 tokens) before refusing the call; a refused call stops its
  worker only, the others' smaller calls still go out while they fit;
* bytes: the same, but always a token per byte of input;
* exact: the same, but each call's exact prompt tokens known before it is sent, which no
  client knows: the most a rule that refuses the calls it cannot pay can spend;
* old: reserve bytes/3 input tokens + all 1024 output tokens; a worker stops at its first
  reservation that does not fit, and every worker once one did not fit with none in flight.

Prints the worst, median and best spent/budget of each (target for "now": worst >= 0.8,
never > 1.0). Run: `python benchmarks/budget_utilisation.py [--runs 50] [--seed 0]`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics

from dspy_tui.engine.budget import Budget, BudgetExhausted, reserve_for_call
from dspy_tui.engine.pricing import PRICES, call_rates
from dspy_tui.engine.token_bound import TextSize, byte_bound

PRICE = PRICES["openai"]["gpt-4o-mini"]
WORKERS = 16
MAX_TOKENS = 1024
JSON_BYTES = 100  # keys, quotes and braces: body bytes that are not text
POLICIES = ("now", "bytes", "exact", "old")


def _prompt_tokens(body_bytes: int) -> int:
    return round(body_bytes * 0.25)


def _actual_cost(body_bytes: int, output_tokens: int) -> float:
    return (_prompt_tokens(body_bytes) * PRICE.input + output_tokens * PRICE.output) / 1_000_000


async def _reserving(policy: str, budget: Budget, rng: random.Random) -> None:
    while True:
        body = rng.randint(1500, 3000)
        text = TextSize(body - JSON_BYTES, 0) if policy == "now" else None
        try:
            if policy == "exact":
                rates = call_rates(PRICE, _prompt_tokens(body)) or (0.0, 0.0)
                reservation, allowed = await budget.reserve_call("m", *rates, MAX_TOKENS)
            else:
                reservation, allowed = await reserve_for_call(budget, "m", PRICE, body, MAX_TOKENS, text=text)
        except BudgetExhausted:
            return
        await asyncio.sleep(rng.uniform(0.001, 0.005))
        output = min(allowed, rng.randint(10, 100))
        budget.settle(reservation, _actual_cost(body, output), _prompt_tokens(body))


async def _old(budget: Budget, rng: random.Random) -> None:
    while not budget.exhausted:
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
    workers = [random.Random(seed * 100 + i) for i in range(WORKERS)]
    if policy == "old":
        await asyncio.gather(*(_old(budget, rng) for rng in workers))
    else:
        await asyncio.gather(*(_reserving(policy, budget, rng) for rng in workers))
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
    for policy in POLICIES:
        shares = [asyncio.run(_utilisation(policy, b, args.seed + i)) for i, b in enumerate(budgets)]
        worst = min(range(len(shares)), key=shares.__getitem__)
        above = [s for b, s in zip(budgets, shares, strict=True) if b >= 0.002]
        print(
            f"  {policy:>5}: spent/budget worst {shares[worst]:.3f} (at ${budgets[worst]:.4f})  "
            f"median {statistics.median(shares):.3f}  best {max(shares):.3f}  "
            f"worst of budgets >= $0.002 {min(above):.3f}  over budget {sum(s > 1.0 for s in shares)}/{len(shares)}"
        )
    # Why even the exact count leaves the smallest budgets short: once nothing is in flight, a call
    # starts only if its input and the shortest useful answer fit; the run ends when no worker's
    # next call does, so what stays unspent is below the dearest of those calls.
    per_token = PRICE.output / 1_000_000
    floor = per_token * Budget().min_answer_tokens
    dear, cheap = ((_prompt_tokens(body) * PRICE.input) / 1_000_000 + floor for body in (3000, 1500))
    first = (call_rates(PRICE, byte_bound(3000)) or (0.0, 0.0))[0] + floor
    print(
        f"  a call's smallest reservation: exact ${cheap:.6f}-${dear:.6f}, by bytes up to ${first:.6f} (an "
        f"account's first call, before any bill): with {WORKERS} workers the run ends once none of their next "
        f"calls fits, so a budget under ${dear / 0.2:.4f} may stop with more than 20% unspent"
    )


if __name__ == "__main__":
    main()
