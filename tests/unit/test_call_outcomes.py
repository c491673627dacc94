"""A model's failed calls are counted from one definition (storage/call_outcomes.py) wherever they are shown.

The walk that found it: a session stopped with `s` cancelled 8 in-flight calls of a model that
had 6 rate-limited ones; Detail's results said 14 errors (the recorder counted every status but
ok) while the events pane said 6 failed. A call the user's stop cut off is no provider error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dspy_tui.engine import events as ev
from dspy_tui.engine.metrics import model_metrics
from dspy_tui.engine.recorder import _Tally
from dspy_tui.storage.call_outcomes import outcome
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.live_state import LiveState
from dspy_tui.tui.widgets.events_pane import model_counts

MODEL = "openai/gpt-4o-mini"


def _calls(sid: str) -> list[ev.CallCompleted]:
    call = {"session_id": sid, "model": MODEL, "provider": "openai", "ts": 1.0}
    return [
        ev.CallCompleted(**call, cost_usd=0.01),
        ev.CallCompleted(**call, cost_usd=0.01),
        ev.CallCompleted(**call, cache_hit=True),
        ev.CallCompleted(**call, status="error", error_kind="rate_limit"),
        ev.CallCompleted(**call, status="error", error_kind="cancelled"),  # the user's stop cut it off
        ev.CallCompleted(**call, status="error", error_kind="cancelled"),
        ev.CallCompleted(**call, status="refused", error_kind="BudgetExhausted"),
        ev.CallCompleted(**call, status="error", error_kind="BudgetExhausted"),  # an older writer's refusal
    ]


def test_outcome_names_each_kind_of_call() -> None:
    kinds = [outcome(e.status, e.error_kind, e.cache_hit) for e in _calls("s")]
    assert kinds == ["ok", "ok", "cached", "failed", "cancelled", "cancelled", "refused", "refused"]


def test_the_recorder_the_store_and_the_live_screen_count_failed_calls_alike(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.db")
    sid = store.create_session(
        name="t", config={"models": [MODEL]}, models=[(MODEL, "openai")], task="demo:sentiment", seed=1
    )
    calls = _calls(sid)
    store.record_calls([e.model_dump() for e in calls])
    tally = _Tally()
    state = LiveState(sid, "t", [MODEL], rounds=1, cross_model=False, budget_usd=None)
    for e in calls:
        tally.add(e)
    state.apply(calls)
    row = state.models[MODEL]
    summary = tally.summary()
    stored = store.calls_by_model(sid, role="model")[MODEL]
    totals = store.call_totals(sid)

    # 5 sent (2 answered, 1 rate-limited, 2 cancelled), 1 cached, 2 refused
    assert (summary["calls"], summary["errors"], summary["cancelled"]) == (5, 1, 2)
    assert (stored["calls"], stored["errors"], stored["cancelled"]) == (5, 1, 2)
    assert (totals["calls"], totals["errors"], totals["cancelled"]) == (5, 1, 2)
    assert (row.calls, row.errors, row.cancelled) == (5, 1, 2)
    assert stored["refused"] == summary["refused_by_budget"] == row.refused == 2
    (line,) = [text.plain for _, text in model_counts(state)]
    assert line == f"{MODEL} 5 calls (1 cached, 1 failed, 2 cancelled, 2 refused by the budget)"
    # on resume the recorder starts from the store's figures: the same ones
    assert _Tally(**stored).summary()["errors"] == 1


def test_error_rate_leaves_the_calls_a_stop_cancelled_out() -> None:
    tally = _Tally()
    for e in _calls("s"):
        tally.add(e)
    metrics = model_metrics(
        test_scores=[1.0],
        outputs=["a"],
        judged=None,
        totals=tally.summary(),
        benchmark={},
        benchmark_seconds=None,
        baseline=None,
        best_dev=None,
        best_by_round=[],
        converged=False,
        priced=True,
        offline=False,
        memory_mb=None,
    )
    # 1 failed of the 3 calls that came to an answer or an error: the 2 cancelled came to nothing
    assert metrics["values"]["error_rate"] == pytest.approx(1 / 3)
