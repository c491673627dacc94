"""A report of a session an older dspy-tui stored with inf/NaN values is still strict JSON (issue 13).

Old versions could store a non-finite score, cost or latency (a division by a zero count, a user
metric returning inf before metrics were checked). `json.dumps` writes those as `Infinity` / `NaN`,
which no strict JSON reader accepts, so `report --format json` and `export` must write null instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dspy_tui.engine.exports import render_report
from dspy_tui.storage.sessions import SessionStore


def _refuse(constant: str) -> None:
    raise AssertionError(f"the report holds {constant}: not JSON")


@pytest.fixture
def old_store(tmp_path: Path) -> tuple[SessionStore, str]:
    store = SessionStore(tmp_path / "dspy-tui.db")
    sid = store.create_session(
        name="old",
        config={"name": "old", "task": {"dataset": "demo:sentiment"}, "models": [{"id": "offline/base"}]},
        task="demo:sentiment",
        seed=0,
        budget_usd=None,
        models=[("offline/base", "offline")],
    )
    store.record_round(
        sid, "offline/base", "baseline", 0, dev_score=0.5, best_dev_score=0.5, cost_usd=0.0, calls=3
    )
    store.update_status(sid, "completed")
    conn = store._conn()  # written as an old version did: raw non-finite values in columns and JSON
    conn.execute(
        "UPDATE session_models SET status = 'done', baseline_score = 0.5, best_dev_score = ?, test_score = ?,"
        " cost_usd = ?, calls = 3, results_json = ? WHERE session_id = ?",
        (
            float("inf"),
            float("-inf"),
            float("inf"),
            '{"test_scores": [1.0, NaN], "test_ids": ["a", "b"], "benchmark_latency_p50_ms": NaN,'
            ' "benchmark_latency_p95_ms": Infinity, "tokens_in": 10, "tokens_out": 2,'
            ' "metrics": {"cost_per_correct": Infinity}}',
            sid,
        ),
    )
    conn.execute(
        "UPDATE rounds SET dev_score = ?, cost_usd = ? WHERE session_id = ?",
        (float("inf"), float("inf"), sid),
    )
    conn.commit()
    return store, sid


def test_json_report_of_an_old_db_with_inf_and_nan_is_strict_json(
    old_store: tuple[SessionStore, str],
) -> None:
    store, sid = old_store
    text = render_report(store, sid, "json")
    report = json.loads(text, parse_constant=_refuse)
    model = report["models"][0]
    assert model["test_score"] is None and model["cost_usd"] is None
    assert model["test_scores"] == [1.0, None]
    for fmt in ("md", "html"):  # the other formats read the same values and must not fail on them
        assert "old" in render_report(store, sid, fmt)
