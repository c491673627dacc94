"""How much of the budget to hold back for the cross-model trials and the final benchmark.

The benchmark is the number a user came for, so before optimization each
model's later calls are priced and held back (`Budget.hold`): the test split,
plus its share of the cross-model trials on dev, times what one of its calls
has cost so far (measured, so it tracks the growing prompts of an optimized
program), times a margin. The hold is refreshed after every round, and a model
reaching its cross-model trial or benchmark may spend its own hold
(`Budget.protect`). Free and unpriced models hold nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .budget import Budget

MARGIN = 1.1  # a later call may cost more than the average one so far (more demos, longer answers)


@dataclass
class PhaseReserve:
    """The held-back share of one session's budget, per model."""

    budget: Budget
    test_examples: int
    cross_model_examples: float  # dev examples each model is expected to run in the cross-model trials
    enabled: bool = True

    @classmethod
    def for_session(cls, budget: Budget, config: Any, task: Any) -> PhaseReserve:
        models = len(config.models)
        cross = len(task.dev) * (models - 1) / models if config.cross_model and models > 1 else 0.0
        enabled = config.budget_reserve and budget.limit_usd is not None
        return cls(budget, len(task.test), cross, enabled)

    def later_calls(self) -> float:
        """Calls one model is expected to make after optimization."""
        return self.test_examples + self.cross_model_examples

    def update(self, model: str, totals: Mapping[str, Any]) -> None:
        """Hold back `model`'s later phases at the cost per call of `totals` (a recorder summary)."""
        if not self.enabled or not totals.get("calls"):
            return
        per_call = float(totals.get("cost_usd") or 0.0) / totals["calls"]
        self.budget.hold(model, per_call * self.later_calls() * MARGIN)

    def release_to(self, model: str) -> None:
        """`model` has reached the phases its hold is for."""
        self.budget.protect(model)
