"""How much of the budget to hold back for the cross-model trials and the final benchmark.

The benchmark is the number a user came for, so before optimization each
model's later calls are priced and held back (`Budget.hold`): the test split,
plus its share of the cross-model trials on dev (once there is an optimized
program to transfer), times what one of its calls
has cost so far (measured, so it tracks the growing prompts of an optimized
program), times a margin. The hold is refreshed after every round, and a model
reaching its cross-model trial or benchmark may spend its own hold
(`Budget.protect`), never another's, and gives back what is left when its
benchmark ends. Before any round is measured, a call is priced at the baseline's
cost times how much longer the optimizer's demos make the rendered prompt. Free and unpriced models hold nothing.
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
    per_call: dict[str, float] = field(default_factory=dict)  # model -> USD per call of its later phases
    best_call: dict[str, float] = field(default_factory=dict)  # model -> USD per call of its best program

    growth: float = 1.0  # how much dearer a call of an optimized program may be, until one is measured

    @classmethod
    def for_session(cls, budget: Budget, config: Any, task: Any) -> PhaseReserve:
        from .estimate import prompt_growth

        models = len(config.models)
        cross = len(task.dev) * (models - 1) / models if config.cross_model and models > 1 else 0.0
        enabled = config.budget_reserve and budget.limit_usd is not None
        return cls(
            budget, len(task.test), cross, enabled, growth=prompt_growth(config, task) if enabled else 1.0
        )

    def later_calls(self) -> float:
        """Calls one model is expected to make after optimization."""
        return self.test_examples + (self.cross_model_examples if self.transfer_costs else 0.0)

    def update(self, model: str, totals: Mapping[str, Any], *, improved: bool = False) -> None:
        """Hold back `model`'s later phases at the cost per call of `totals` (a recorder summary);
        `improved`: its program now beats its baseline, so the cross-model trials will cost."""
        if not self.enabled:
            return
        if totals.get("calls"):  # a judge rating its answers costs with each call
            spent = float(totals.get("cost_usd") or 0.0) + self.budget.assisted_spent(model)
            per_call = spent / _answered(totals)
            if model not in self.per_call or improved:
                self.best_call[model] = per_call
            # before any round, the benchmark may run a program with all its demos
            self.per_call[model] = per_call * (self.growth if model not in self.per_call else 1.0)
        changed = improved and not self.transfer_costs
        self.transfer_costs = self.transfer_costs or improved
        for name in self.per_call if changed else [model]:
            if name in self.per_call:
                self.budget.hold(name, self.per_call[name] * self.later_calls() * MARGIN)

    def optimization_ended(self, model: str) -> None:
        """No new program can come from `model`'s rounds: hold back what its best program costs."""
        if self.enabled and model in self.best_call:
            self.per_call[model] = self.best_call[model]
            self.budget.hold(model, self.per_call[model] * self.later_calls() * MARGIN)

    def release_to(self, model: str) -> None:
        """`model` has reached its benchmark: it may spend its own hold, now what its test split
        costs at its measured cost per call (its cross-model trial, if any, is over)."""
        self.budget.protect(model)
        if self.enabled and model in self.per_call:
            self.budget.hold(model, self.per_call[model] * self.test_examples * MARGIN)

    def enter_cross_model(self, model: str) -> None:
        """`model` begins its cross-model trial: it may spend its own hold, and no one else's, except
        what its benchmark will need (the trial ends first: the benchmark is the number that counts)."""
        keep = self.per_call.get(model, 0.0) * self.test_examples * MARGIN if self.enabled else 0.0
        self.budget.protect(model, final=False, keep_usd=keep)

    def done(self, model: str) -> None:
        """`model` needs no more held back (its benchmark ended, or it stopped)."""
        self.per_call.pop(model, None)
        self.budget.release_hold(model)


def _answered(totals: Mapping[str, Any]) -> int:
    """The calls that answered, which the held money is multiplied out over: a later phase pays
    for each example's failed attempts too (a 503 retried, a reset billed at its reservation),
    so dividing by every attempt priced an example below what it costs against a flaky provider."""
    calls = int(totals["calls"])
    answered = calls - int(totals.get("errors") or 0) - int(totals.get("cancelled") or 0)
    return answered if answered > 0 else calls
