"""The pre-run estimate: how many calls and dollars a session may take, before spending any.

Calls per model and phase come from the split sizes, the rounds and what one
round of the optimizer makes (optimizers.round_calls). Tokens per call come
from the task itself: the signature's instruction plus the average example,
with room for the demos an optimizer adds. `min` assumes convergence after
`patience` rounds and short answers; `max` assumes every round runs and every
answer uses `max_tokens`. Unpriced models get `None` costs, never $0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .config import SessionConfig
from .optimizers import round_calls
from .pricing import Price, cost_of, resolve_price

CHARS_PER_TOKEN = 4


@dataclass
class Range:
    min: float
    expected: float
    max: float

    def as_dict(self) -> dict[str, float]:
        return {"min": self.min, "expected": self.expected, "max": self.max}


@dataclass
class ModelEstimate:
    model: str
    price_label: str  # "list price 2026-11", "local", "offline/simulated", "override", "unpriced"
    calls_by_phase: dict[str, Range] = field(default_factory=dict)
    calls: Range = field(default_factory=lambda: Range(0, 0, 0))
    cost_usd: Range | None = None  # None: unpriced


def _tokens(task: Any) -> tuple[int, int]:
    """(prompt tokens without demos, tokens of one demo) for this task."""
    sample = (task.train or task.dev)[:20]
    example_chars = sum(len(json.dumps(dict(e.items()), default=str)) for e in sample) / max(1, len(sample))
    instructions = len(task.signature.instructions or "") + 60 * len(task.signature.fields)
    demo = int(example_chars / CHARS_PER_TOKEN) + 10
    return int((instructions + example_chars) / CHARS_PER_TOKEN) + 40, demo


# Most demos each optimizer puts into a prompt with its default settings (DSPy fills bootstrapped
# demos up to max_labeled_demos with labeled ones); COPRO and GEPA rewrite the instruction only.
_DEMO_SETTINGS = {"bootstrap": 8, "random_search": 8, "mipro": 8, "simba": 4, "labeled": 16}


def prompt_growth(config: SessionConfig, task: Any) -> float:
    """How many times longer an optimized program's prompt may be than the unoptimized one's,
    measured on prompts rendered by DSPy's ChatAdapter with and without the optimizer's demos."""
    import dspy

    from .tasks import build_program

    demos = _DEMO_SETTINGS.get(config.optimizer)
    if demos is None or not task.train:
        return 1.25  # a proposed instruction is longer than the signature's
    settings = config.optimizer_settings
    demos = max(int(settings.get("max_labeled_demos", demos)), int(settings.get("max_bootstrapped_demos", 0)))
    predictors = build_program(task).predictors()
    if not predictors or not (task.dev or task.train):
        return 1.0
    signature, example, adapter = predictors[0].signature, (task.dev or task.train)[0], dspy.ChatAdapter()
    inputs = {k: example[k] for k in example.inputs().keys()}

    def chars(shots: list[Any]) -> int:
        return sum(len(str(m.get("content", ""))) for m in adapter.format(signature, shots, inputs))

    return chars(task.train[:demos]) / max(1, chars([]))


def _cost(price: Price | None, calls: float, tokens_in: float, tokens_out: float) -> float | None:
    from dspy.lm15 import Usage

    if price is None:
        return None
    one = cost_of(price, Usage(input_tokens=int(tokens_in), output_tokens=int(tokens_out)))
    return None if one is None else one * calls


def estimate(config: SessionConfig, task: Any) -> list[ModelEstimate]:
    train, dev, test = len(task.train), len(task.dev), len(task.test)
    prompt, demo = _tokens(task)
    settings = config.optimizer_settings
    r_min, r_exp, r_max = round_calls(config.optimizer, train, dev, settings)
    rounds_min = min(config.rounds, config.convergence.patience)
    cross = dev if config.cross_model and len(config.models) > 1 else 0
    out_short = 8 if task.module == "predict" else 60
    results = []
    for m in config.models:
        price = resolve_price(m.id, m.price)
        phases = {
            "baseline": Range(dev, dev, dev),
            "optimization": Range(
                rounds_min * (r_min + dev), config.rounds * (r_exp + dev), config.rounds * (r_max + dev)
            ),
            "cross_model": Range(0, cross, cross),
            "benchmark": Range(test, test, test),
        }
        total = Range(*(sum(getattr(r, k) for r in phases.values()) for k in ("min", "expected", "max")))
        demos = settings.get("max_labeled_demos", 8)
        costs = [
            _cost(price, total.min, prompt, out_short),
            _cost(price, total.expected, prompt + demos * demo / 2, out_short * 2),
            _cost(price, total.max, prompt + demos * demo, m.max_tokens),
        ]
        cost = None if any(c is None for c in costs) else Range(*costs)  # type: ignore[arg-type]
        results.append(ModelEstimate(m.id, price.label if price else "unpriced", phases, total, cost))
    return results


def budget_warning(config: SessionConfig, estimates: list[ModelEstimate]) -> str | None:
    """One sentence when the budget cannot pay what the estimate expects: below the benchmark
    alone (some models will get no test score), or below the whole expected run."""
    if config.budget_usd is None or any(e.cost_usd is None for e in estimates):
        return None

    def phase_cost(e: ModelEstimate, phase: str) -> float:
        assert e.cost_usd is not None
        share = e.calls_by_phase[phase].expected / e.calls.expected if e.calls.expected else 0.0
        return e.cost_usd.expected * share

    expected = sum(e.cost_usd.expected for e in estimates if e.cost_usd is not None)
    benchmark = sum(phase_cost(e, "benchmark") for e in estimates)
    budget = config.budget_usd
    if budget < benchmark:
        return (
            f"the budget of ${budget:.4f} is below the ${benchmark:.4f} the final benchmark alone is "
            "expected to cost, so some models may get no test score; raise it or use fewer test examples."
        )
    if budget < expected:
        return (
            f"the budget of ${budget:.4f} is below the ${expected:.4f} expected for the whole run: "
            "optimization will stop early at the budget's reserve for the benchmark."
        )
    return None


def as_json(estimates: list[ModelEstimate]) -> list[dict[str, Any]]:
    return [
        {
            "model": e.model,
            "price": e.price_label,
            "calls": e.calls.as_dict(),
            "calls_by_phase": {k: v.as_dict() for k, v in e.calls_by_phase.items()},
            "cost_usd": e.cost_usd.as_dict() if e.cost_usd else None,
        }
        for e in estimates
    ]
