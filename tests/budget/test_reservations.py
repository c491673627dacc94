"""Reservations that hold for any tokenizer, through the real runtime against the fake provider.

The fake provider here bills 0.6 tokens per UTF-8 byte (CJK or emoji-heavy text
under some tokenizers), more than the old "3 bytes a token" guess allowed for.
Many threads call until the budget stops them; the provider's own ledger must
never exceed the budget, and the budget must have counted at least that.
"""

from __future__ import annotations

import random
import statistics
import threading
from collections.abc import Callable
from pathlib import Path

import dspy
import pytest

from dspy_tui.engine.budget import Budget, BudgetExhausted
from dspy_tui.storage.cache import CallCache
from dspy_tui.storage.sessions import SessionStore

from fakes.lms import lm_with
from fakes.provider_server import FakeProvider

pytestmark = pytest.mark.usefixtures("engine_runtime")

PRICE = {"input": 0.2, "output": 0.8}  # USD per 1M tokens
CJK = "预算测试中文字符😀"


def _ledger_usd(provider: FakeProvider) -> float:
    charged = provider.charged()
    return (charged["tokens_in"] * PRICE["input"] + charged["tokens_out"] * PRICE["output"]) / 1_000_000


def _lm(model: str, budget: Budget, provider_urls: dict[str, str]) -> dspy.LM:
    """An LM at PRICE asking for 64 tokens, without retries, under `budget`."""
    return lm_with(
        model,
        keys=lambda _: "k",
        base_urls=provider_urls,
        budget=budget,
        price=PRICE,
        max_tokens=64,
        num_retries=0,
    )


def _cjk(rng: random.Random) -> str:
    return CJK * rng.randint(5, 60) + str(rng.random())


def _english(rng: random.Random) -> str:
    return "how much does this budget test cost " * rng.randint(10, 60)


def _spend_until_stopped(
    lm: dspy.LM, threads: int, seed: int, question: Callable[[random.Random], str] = _cjk
) -> int:
    stops = 0
    lock = threading.Lock()
    other: list[BaseException] = []

    # parsed once here: CPython 3.11's ast.parse in 8 threads at once can raise "AST constructor
    # recursion depth mismatch" (seen once in CI), which killed a worker before its first call
    signature = dspy.Signature("question -> answer")

    def worker(n: int) -> None:
        nonlocal stops
        rng = random.Random(seed * 100 + n)
        predict = dspy.Predict(signature)
        predict.set_lm(lm)
        while True:
            try:
                predict(question=question(rng))
            except BudgetExhausted:
                with lock:
                    stops += 1
                return
            except Exception:  # noqa: BLE001 - an unparsable truncated answer is DSPy's business
                continue
            except BaseException as exc:
                other.append(exc)
                raise

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(120)
    assert other == []
    return stops


def test_a_dense_tokenizer_never_overspends_thirty_runs(
    provider_urls: dict[str, str], fake_provider: FakeProvider
) -> None:
    fake_provider.tokens_per_byte = 0.6
    fake_provider.latency_s = 0.005
    over = []
    rng = random.Random(7)
    for run in range(30):
        fake_provider.reset_records()
        limit = round(rng.uniform(0.0005, 0.004), 6)
        budget = Budget(limit)
        lm = _lm(f"groq/dense-{run}", budget, provider_urls)
        assert _spend_until_stopped(lm, threads=8, seed=run) == 8
        billed = _ledger_usd(fake_provider)
        assert budget.spent >= billed - 1e-12, (run, budget.spent, billed)
        if billed > limit or budget.spent > limit:
            over.append((run, limit, billed, budget.spent))
        assert budget.spent > 0
    assert over == [], f"{len(over)} of 30 runs over budget: {over}"


def test_the_last_call_asks_for_a_shorter_answer_rather_than_stopping(
    provider_urls: dict[str, str], fake_provider: FakeProvider
) -> None:
    budget = Budget(0.01, min_answer_tokens=16)
    lm = lm_with(
        "groq/short-tail",
        keys=lambda _: "k",
        base_urls=provider_urls,
        budget=budget,
        price={"input": 1.0, "output": 100.0},
        max_tokens=1024,
        num_retries=0,
    )
    # One call's worst case: ~1k bytes of input and 1024 tokens at $100/1M = ~$0.1, ten times the budget.
    lm("hello " * 100)
    sent = [r for r in fake_provider.received if r.answered]
    assert len(sent) == 1 and budget.spent <= 0.01


def test_the_end_of_a_tiny_budget_is_bounded_by_what_the_provider_billed_and_never_overspends(
    provider_urls: dict[str, str], fake_provider: FakeProvider
) -> None:
    fake_provider.latency_s = 0.003
    rng = random.Random(11)
    learned: list[int] = []
    shares: list[float] = []
    for run in range(12):
        fake_provider.reset_records()
        limit = round(rng.uniform(0.0002, 0.001), 6)
        budget = Budget(limit)
        lm = _lm(f"groq/english-{run}", budget, provider_urls)
        _spend_until_stopped(lm, threads=8, seed=run, question=_english)
        billed = _ledger_usd(fake_provider)
        assert billed <= budget.spent + 1e-12 and budget.spent <= limit, (run, limit, billed, budget.spent)
        assert budget.overruns == 0
        learned.append(budget.learned_calls)
        if fake_provider.received:  # a budget below the first call's byte bound sends nothing
            shares.append(budget.spent / limit)
    assert sum(learned) > 12, learned  # the runs' last calls went out under the learned bound
    # measured 0.76-0.97 (median 0.92); by bytes alone 0.19-0.61
    assert statistics.median(shares) >= 0.8, shares


def test_a_bill_denser_than_the_learned_bound_is_one_call_over_it_then_bytes_again(
    provider_urls: dict[str, str], fake_provider: FakeProvider
) -> None:
    fake_provider.latency_s = 0.003
    budget = Budget(0.0004)
    lm = _lm("groq/denser-later", budget, provider_urls)
    lm("how much does this budget test cost " * 40)  # billed at 4 characters a token
    fake_provider.tokens_per_byte = 1.0  # then as many tokens as bytes: the byte bound's worst case
    _spend_until_stopped(lm, threads=8, seed=1, question=_english)
    assert budget.learned_calls == 1 and budget.overruns == 1  # one call under the learned bound, no more
    assert not budget.token_bounds.learned("groq/denser-later")
    assert budget.spent >= _ledger_usd(fake_provider) - 1e-12


def test_a_resumed_session_bounds_its_requests_by_the_bills_of_its_own_cached_calls(
    tmp_path: Path, provider_urls: dict[str, str], fake_provider: FakeProvider
) -> None:
    """A resume replays its calls from the cache first: their stored bills teach the learned bound,
    so the end of the raised budget is not bounded by bytes again (it was: the call was refused)."""
    db = tmp_path / "s.db"
    sid = SessionStore(db).create_session(name="resumed", config={}, models=[("groq/resumed", "groq")])
    cache = CallCache(db)
    question = "how much does this budget test cost " * 40

    def lm(budget: Budget) -> dspy.LM:
        return lm_with(
            "groq/resumed",
            keys=lambda _: "k",
            base_urls=provider_urls,
            budget=budget,
            cache=cache,
            session_id=sid,
            price=PRICE,
            max_tokens=64,
            num_retries=0,
        )

    lm(Budget(1.0))(question)  # the run before the resume: billed and stored
    fake_provider.reset_records()
    budget = Budget(0.0002)  # what is left pays the next request under the learned bound, not by bytes
    resumed = lm(budget)
    resumed(question)  # a cache hit: free
    resumed(question + " once more")
    assert len(fake_provider.answered()) == 1 and budget.learned_calls == 1
    assert _ledger_usd(fake_provider) <= budget.spent + 1e-12 <= 0.0002 + 1e-12
