"""Repeated runs: the per-model summary across seeds, by value."""

from __future__ import annotations

import pytest

from dspy_tui.engine.config import parse_config
from dspy_tui.engine.repeats import seed_configs, seed_list, summarise, two_level_ci
from dspy_tui.storage.results import ModelResult, model_result
from dspy_tui.storage.session_record import StoredSession, stored_session


def _model(name: str, scores: list[float], baseline: float, best: float) -> ModelResult:
    return model_result(
        {
            "model": name,
            "provider": "offline",
            "status": "done",
            "baseline_score": baseline,
            "best_dev_score": best,
            "test_score": sum(scores) / len(scores),
            "test_ci_low": None,
            "test_ci_high": None,
            "cost_usd": 0.0,
            "calls": 0,
            "error": None,
            "results": {"test_scores": scores, "test_ids": [str(i) for i in range(len(scores))]},
        }
    )


def _session(sid: str, seed: int, a: list[float], b: list[float]) -> StoredSession:
    row = {"id": sid, "name": sid, "status": "completed", "created_at": 0.0, "updated_at": 0.0}
    row |= {"task": "demo:sentiment", "seed": seed, "budget_usd": None, "error": None}
    return stored_session(row, {}, {}, [_model("a", a, 0.5, 0.7), _model("b", b, 0.4, 0.4 + seed / 10)])


def test_summary_means_spread_stability_and_paired_seeds() -> None:
    sessions = [
        _session("s0", 0, [1, 1, 0, 1], [0, 1, 0, 0]),
        _session("s1", 1, [1, 0, 0, 1], [1, 1, 1, 0]),
        _session("s2", 2, [1, 1, 1, 1], [0, 0, 1, 0]),
    ]
    summary = summarise(sessions)
    a, b = summary["models"]
    assert (a["model"], b["model"]) == ("a", "b")
    assert a["test_mean"] == pytest.approx((0.75 + 0.5 + 1.0) / 3) and a["test_by_seed"] == [0.75, 0.5, 1.0]
    assert a["test_ci"][0] <= a["test_mean"] <= a["test_ci"][1]
    assert b["improvement"] == pytest.approx({"min": 0.0, "mean": 0.1, "max": 0.2})
    assert summary["leader"] == "a" and summary["ranking_stability"] == pytest.approx(
        2 / 3
    )  # b led at seed 1
    pair = summary["pairwise"][0]
    assert (pair["a"], pair["b"], pair["n"]) == ("a", "b", 12)  # (seed, example) pairs
    assert pair["mean_diff"] == pytest.approx((9 - 5) / 12)


def test_two_level_ci_counts_the_spread_between_seeds() -> None:
    same = two_level_ci([[1, 0] * 10, [1, 0] * 10, [1, 0] * 10])
    apart = two_level_ci([[1] * 20, [0] * 20, [1, 0] * 10])
    assert same is not None and apart is not None
    assert (apart[1] - apart[0]) > 2 * (same[1] - same[0])  # seeds that disagree widen the interval
    assert two_level_ci([]) is None


def test_seed_configs_share_one_group_and_differ_only_by_seed() -> None:
    base = {"task": {"dataset": "demo:sentiment"}, "models": ["offline/base"], "name": "x"}
    assert seed_list(parse_config({**base, "repeats": 3, "seed": 5})) == [5, 6, 7]
    configs = seed_configs(parse_config({**base, "seeds": [0, 2, 2]}))
    assert [c.seed for c in configs] == [0, 2]
    assert len({c.repeat_group for c in configs}) == 1 and configs[0].repeat_group
    assert [c.name for c in configs] == ["x [seed 0]", "x [seed 2]"]
    single = seed_configs(parse_config(base))
    assert len(single) == 1 and single[0].repeat_group is None
