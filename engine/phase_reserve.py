"""How much of the budget to hold back for the cross-model trials and the final benchmark.

The benchmark is the number a user came for, so before optimization each
model's later calls are priced and held back (`Budget.hold`): the test split,
plus its share of the cross-model trials on dev (once there is an optimized
program to transfer), times what one of its calls
has cost so far (measured, so it tracks the growing prompts of an optimized
program), times a margin. The hold is refreshed after every round, and a model
reaching its cross-model trial or benchmark may spend its own hold
(`Budget.protect`), shared with the other models in those phases, and gives
back what is left when its benchmark ends. Free and unpriced models hold nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    # Until some model's program beats its baseline, the leader's program is the unoptimized one
    # every model already ran: the cross-model trials replay cached answers and cost nothing.
    transfer_costs: bool = False
    per_call: dict[str, float] = field(default_factory=dict)  # model -> USD per call so far

    @classmethod
    def for_session(cls, budget: Budget, config: Any, task: Any) -> PhaseReserve:
        models = len(config.models)
        cross = len(task.dev) * (models - 1) / models if config.cross_model and models > 1 else 0.0
        enabled = config.budget_reserve and budget.limit_usd is not None
        return cls(budget, len(task.test), cross, enabled)

    def later_calls(self) -> float:
        """Calls one model is expected to make after optimization."""
        return self.test_examples + (self.cross_model_examples if self.transfer_costs else 0.0)

    def update(self, model: str, totals: Mapping[str, Any], *, improved: bool = False) -> None:
        """Hold back `model`'s later phases at the cost per call of `totals` (a recorder summary);
        `improved`: its program now beats its baseline, so the cross-model trials will cost."""
        if not self.enabled:
            return
        if totals.get("calls"):
            self.per_call[model] = float(totals.get("cost_usd") or 0.0) / totals["calls"]
        changed = improved and not self.transfer_costs
        self.transfer_costs = self.transfer_costs or improved
        for name in self.per_call if changed else [model]:
            if name in self.per_call:
                self.budget.hold(name, self.per_call[name] * self.later_calls() * MARGIN)

    def release_to(self, model: str) -> None:
        """`model` has reached the phases its hold is for."""
        self.budget.protect(model)

    def done(self, model: str) -> None:
        """`model` needs no more held back (its benchmark ended, or it stopped)."""
        self.per_call.pop(model, None)
        self.budget.release_hold(model)
