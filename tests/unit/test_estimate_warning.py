"""`estimate`, `run` and the new-session form say in one sentence when the budget cannot pay what the
estimate expects: below the benchmark, no room left for optimization after the phase reserve, or
below the whole run."""

from __future__ import annotations

from dspy_tui.engine.config import parse_config
from dspy_tui.engine.estimate import budget_warning, estimate
from dspy_tui.engine.tasks import load_task

BASE = {"task": {"dataset": "demo:sentiment"}, "models": ["openai/gpt-4o-mini"]}


def _warning(budget: float | None) -> str | None:
    config = parse_config({**BASE, "budget_usd": budget})
    return budget_warning(config, estimate(config, load_task(config.task)))


def _phases() -> dict[str, float]:
    config = parse_config(BASE)
    (row,) = estimate(config, load_task(config.task))
    assert row.cost_by_phase is not None and row.cost_usd is not None
    return {k: v.expected for k, v in row.cost_by_phase.items()} | {"total": row.cost_usd.expected}


def test_a_budget_below_the_benchmark_the_reserve_or_the_whole_run_is_said_before_starting() -> None:
    cost = _phases()
    reserve = (cost["benchmark"] + cost["cross_model"]) * 1.1
    room = cost["baseline"] + reserve + cost["optimization"] / 5  # one of the default 5 rounds
    assert "final benchmark alone" in (_warning(cost["benchmark"] * 0.9) or "")
    assert "no room for optimization" in (_warning(room * 0.95) or "")
    assert "whole run" in (_warning((room + cost["total"]) / 2) or "")
    assert _warning(cost["total"] * 1.5) is None and _warning(None) is None


def test_the_resume_sentence_names_dollars_only_for_priced_models() -> None:
    from dspy_tui.engine.estimate import resume_sentence

    def said(model: str) -> str:
        config = parse_config({**BASE, "models": [model]})
        return resume_sentence(estimate(config, load_task(config.task)))

    assert "$" not in said("offline/base")  # simulated: not "$0.0000"
    assert "more calls expected (about $" in said("openai/gpt-4o-mini")
