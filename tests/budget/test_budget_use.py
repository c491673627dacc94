"""Whole sessions against a priced fake provider with latency: the budget is spent, not abandoned.

Two priced models, bootstrap, 5 rounds, a budget far below what the run would
take: the session must spend at least 80% of it and never more, and every
model must still get its test score (the benchmark is held back). Unknown
bills (no usage, timeouts, unreadable replies) are charged at their
reservation, so over a run and three resumes the recorded spend is never
below what the provider's own ledger billed.
"""

from __future__ import annotations

from typing import Any

import pytest

from dspy_tui.engine.pricing import price_for
from dspy_tui.engine.session import Session

from fakes.offline_brain import offline_brain
from fakes.provider_server import FakeProvider
from reliability.support import session_in_home

MODELS = ("openai/gpt-4o-mini", "openai/gpt-4.1-nano")


@pytest.fixture
def provider() -> Any:
    fake = FakeProvider(latency_s=0.02, brain=offline_brain("base")).start()
    yield fake
    fake.stop()


def _config(budget: float, url: str, **extra: Any) -> dict[str, Any]:
    """A run that would cost several times `budget` (its splits grow with it)."""
    scale = 1 if budget < 0.01 else 2
    return {
        "name": f"budget {budget}",
        "optimizer": "bootstrap",
        "rounds": 5,
        "seed": 1,
        "concurrency": 4,
        "budget_usd": budget,
        "convergence": {"patience": 5},
        "task": {
            "dataset": "demo:sentiment",
            "max_train": 16 * scale,
            "max_dev": 10 * scale,
            "max_test": 12 * scale,
        },
        "models": [
            {
                "id": m,
                "max_tokens": 256,
                "limits": {"rpm": 10_000_000, "tpm": 10_000_000_000, "concurrency": 64},
            }
            for m in MODELS
        ],
        "base_urls": {"openai": f"{url}/v1"},
        **extra,
    }


def _session(config: dict[str, Any], session_id: str | None = None) -> Session:
    session = session_in_home(config, key="sk-fake", session_id=session_id)
    session.prepare()
    return session


def _ledger_usd(provider: FakeProvider) -> float:
    """What the provider charged, reported or not, at each model's list price."""
    total = 0.0
    for record in provider.received:
        price = price_for("openai", record.model)
        assert price is not None
        total += (record.charged_in * price.input + record.charged_out * price.output) / 1_000_000
    return total


@pytest.mark.parametrize("budget", [0.004, 0.02])
def test_a_small_budget_is_spent_and_every_model_gets_its_test_score(
    budget: float, provider: FakeProvider
) -> None:
    session = _session(_config(budget, provider.url))
    outcome = session.run()
    store, sid = session.store, session.session_id
    spent = store.call_totals(sid)["cost_usd"]
    billed = _ledger_usd(provider)
    print(
        f"\nbudget ${budget}: spent ${spent:.6f} ({spent / budget:.1%}), billed ${billed:.6f}, outcome {outcome}"
    )
    assert billed <= budget and spent <= budget
    # measured 90.8% ($0.004) and 89.7% ($0.02), the same with three busy loops on the two cores
    assert spent >= 0.8 * budget
    scores = {m.model: m.test for m in store.get_session(sid).models}
    assert all(scores[m] is not None for m in MODELS), scores
    types = [e["type"] for e in store.events(sid)]
    assert "budget_reserve_reached" in types
    assert types.index("phase_started") < len(types)
    last_cost = max(i for i, t in enumerate(types) if t == "cost_updated")
    benchmark_done = max(i for i, t in enumerate(types) if t == "benchmark_progress")
    assert last_cost > benchmark_done  # the stream's final cost includes the benchmark


def test_a_model_its_own_cap_stops_gives_its_hold_back_to_the_others(provider: FakeProvider) -> None:
    """gpt-4o-mini's own $0.0005 stops it in its first round; the money it held back for its
    benchmark then goes to gpt-4.1-nano's rounds (it stayed held: 68% of the budget spent)."""
    config = _config(0.004, provider.url)
    config["models"][0]["budget_usd"] = 0.0005
    session = _session(config)
    session.run()
    store, sid = session.store, session.session_id
    spent = store.call_totals(sid)["cost_usd"]
    print(f"\nbudget $0.004, {MODELS[0]} capped at $0.0005: spent ${spent:.6f} ({spent / 0.004:.1%})")
    assert spent <= 0.004
    # measured 85%; one fresh-clone CI (4 workers on 2 cores) saw 47% once: say why if it recurs
    story = [
        (e["type"], e.get("model"), e.get("phase"), round(e.get("spent_usd") or 0, 6))
        for e in store.events(sid)
        if e["type"] in ("budget_reserve_reached", "budget_exhausted", "model_failed", "phase_completed")
    ]
    by_model = {m.model: (m.cost_usd, m.calls, m.status) for m in store.get_session(sid).models}
    assert spent >= 0.8 * 0.004, (by_model, story)
    scores = {m.model: m.test for m in store.get_session(sid).models}
    assert scores[MODELS[0]] is None and scores[MODELS[1]] is not None


def test_unknown_bills_are_charged_and_three_resumes_never_grant_the_budget_again(
    provider: FakeProvider,
) -> None:
    provider.fault_rate = 0.15
    provider.fault_kinds = ("no_usage", "timeout", "malformed")
    budget = 0.004
    # without the reserve the run stops on its budget, so each resume starts from a budget stop
    config = _config(
        budget, provider.url, timeouts={"total_s": 1.0, "connect_s": 1.0}, num_retries=1, budget_reserve=False
    )
    session = _session(config)
    assert session.run() == "budget"
    sid = session.session_id
    for _ in range(3):
        resumed = _session(config, session_id=sid)
        resumed.run()
        recorded = resumed.store.call_totals(sid)["cost_usd"]
        billed = _ledger_usd(provider)
        print(f"\nrecorded ${recorded:.6f}, billed ${billed:.6f}")
        assert recorded >= billed - 1e-12
        assert recorded <= budget and billed <= budget
    assert resumed.store.call_totals(sid)["estimated_cost_usd"] > 0
