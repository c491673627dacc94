"""`estimate` and `run` say in one sentence when the budget cannot pay what the estimate expects."""

from __future__ import annotations

from dspy_tui.engine.config import parse_config
from dspy_tui.engine.estimate import budget_warning, estimate
from dspy_tui.engine.tasks import load_task


def _warning(budget: float | None) -> str | None:
    config = parse_config(
        {"budget_usd": budget, "task": {"dataset": "demo:sentiment"}, "models": ["openai/gpt-4o-mini"]}
    )
    return budget_warning(config, estimate(config, load_task(config.task)))


def test_a_budget_below_the_benchmark_or_the_whole_run_is_said_before_starting() -> None:
    assert "final benchmark alone" in (_warning(0.0001) or "")
    assert "whole run" in (_warning(0.01) or "")
    assert _warning(100.0) is None and _warning(None) is None
