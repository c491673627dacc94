"""The pre-run estimate: the requests and dollars a session may take, per model and phase.

Requests per phase come from the split sizes and, for optimization, from each optimizer's
own algorithm (estimate/rounds.py), weighted by the chance each round runs before the
model converges (`min`: it converges after `patience` rounds; `max`: every round runs and
nothing is repeated). Requests the session's call cache answers are not counted (a `labeled`
round's candidate is the same program for every model, so its cross-model trial is a hit). Tokens
per call come from the task's prompts rendered by DSPy's adapter, and what a model writes from the
model itself (offline) or its recorded answers to the task (estimate/tokens.py). An
llm_judge model gets its own row (role `judge`). Prices come from engine/pricing.py;
unpriced models get `None` costs, never $0. Local models also get an expected time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import JudgeSpec, SessionConfig
from ..pricing import LOCAL_PROVIDERS, OFFLINE_PROVIDERS, Price, cost_of, price_label, resolve_price
from ..providers.registry import split_model
from .priors import PROPOSALS
from .rounds import ZERO, Shape, Span, fixed, improved_once, round_calls, round_chances, transfer_share
from .tokens import CallTokens, measure

PHASES = ("baseline", "optimization", "cross_model", "benchmark")
JUDGED_ASPECTS, JUDGED_SAMPLE = 3, 20  # the benchmark's coherence/relevance/creativity ratings (session.py)
# Assumed, from offline runs of quality_focused's task (one run each, not fitted): two models give
# different labels to 3 in 10 examples (13 baseline ratings for 2 models x 10 dev examples); a
# program tried in optimization changes a model's label on 15 in 100 (20 new ratings, 16 train).
DISAGREE, FLIP = 0.3, 0.15
# A local model's speed in weighted tokens per second (a prompt token weighs 1/8 of an output token,
# as engine/local_server.py measures it): SmolLM2-135M served by llama.cpp on this project's 2-core
# test machine under load (64 calls in 97 s, see the local notes); a bigger model or a GPU differs.
LOCAL_TOKENS_PER_S = 25.0


@dataclass
class Range:
    min: float
    expected: float
    max: float

    def as_dict(self) -> dict[str, float]:
        return {"min": self.min, "expected": self.expected, "max": self.max}


def _range(span: Span) -> Range:
    return Range(span.min, span.expected, span.max)


@dataclass
class ModelEstimate:
    model: str
    price_label: str  # "list price 2026-11", "litellm", "local", "offline/simulated", "override", "unpriced"
    calls_by_phase: dict[str, Range] = field(default_factory=dict)
    calls: Range = field(default_factory=lambda: Range(0, 0, 0))
    cost_usd: Range | None = None  # None: unpriced
    cost_by_phase: dict[str, Range] | None = None
    role: str = "model"  # or "judge": the llm_judge's ratings
    seconds: Range | None = None  # local models: time of its calls, one at a time


@dataclass(frozen=True)
class _Phase:
    """A phase's requests and the tokens of one of them (min/expected/max)."""

    calls: Span
    tokens_in: Span
    tokens_out: Span


def _judge_spec(config: SessionConfig) -> JudgeSpec | None:
    task = config.task
    if task.judge is not None:
        return task.judge
    options = task.metric_options
    if task.metric == "llm_judge" and isinstance(options.get("model"), str):
        criteria = options.get("criteria")
        return JudgeSpec(model=options["model"], **({"rubric": criteria} if criteria else {}))
    return None


def _answer(tokens: CallTokens, model: Any) -> Span:
    low, mid = tokens.output(model.id)
    return Span(min(low, model.max_tokens), min(mid, model.max_tokens), float(model.max_tokens))


def _ins(tokens: CallTokens, demos: Span) -> Span:
    return Span(tokens.input(demos.min), tokens.input(demos.expected), tokens.input(demos.max))


def _model_phases(
    config: SessionConfig, task: Any, tokens: CallTokens, model: Any, deterministic: bool
) -> tuple[dict[str, _Phase], float]:
    """The model's phases, and the metric calls its optimization makes (for the judge)."""
    train, dev, test = len(task.train), len(task.dev), len(task.test)
    conv = config.convergence
    module = config.task.module
    chances = round_chances(config.optimizer, config.rounds, conv.patience, module)
    least = 0 if conv.target is not None else min(config.rounds, conv.patience)
    task_calls, proposals, scored, demos, instructed = ZERO, ZERO, 0.0, 0.0, 0.0
    predictors = len(_predictors(task))
    for r, chance in enumerate(chances, 1):
        shape = Shape(
            config.optimizer, train, dev, config.optimizer_settings, r, predictors, deterministic, module
        )
        one = round_calls(shape)
        own = one.task + one.dev
        task_calls += Span(own.min if r <= least else 0.0, own.expected * chance, own.max)
        proposals += Span(
            one.proposals.min if r <= least else 0.0, one.proposals.expected * chance, one.proposals.max
        )
        scored += (one.scored + one.dev.expected) * chance
        demos, instructed = max(demos, one.demos), max(instructed, one.instructed)
    answer = _answer(tokens, model)
    won = improved_once(config.optimizer, chances, module)
    # MIPRO, COPRO, SIMBA and GEPA ask the model for instructions, rules and reflections: DSPy's
    # templates around the program's prompt, its code and data (fitted: their tokens beyond a task
    # call's, and their answers); the instruction written goes into the candidates' prompts
    overhead, written = PROPOSALS.get(config.optimizer, (0.0, 0.0))
    carried = _ins(tokens, Span(0.0, demos * won, demos)) + Span(0.0, written * instructed * won, written)
    optimized = _ins(tokens, Span(0.0, demos, demos)) + Span(0.0, written * instructed, written)
    proposal_out = Span(
        min(written / 4, model.max_tokens), min(written, model.max_tokens), float(model.max_tokens)
    )
    proposal_in = Span(
        tokens.input(0) + overhead, tokens.input(demos) + overhead, tokens.input(demos) + overhead
    )
    models = len(config.models)
    # the leader's program is new to the others only if some round improved it (else all cached)
    transfer = dev * (models - 1) / models * transfer_share(config.optimizer, chances, module)
    cross = Span(0.0, transfer, float(dev)) if config.cross_model and models > 1 else ZERO
    phases = {
        "baseline": _Phase(fixed(float(dev)), fixed(tokens.prompt), answer),
        "optimization": _Phase(task_calls, optimized, answer),
        "cross_model": _Phase(cross, carried, answer),
        "benchmark": _Phase(fixed(float(test)), carried, answer),
    }
    if proposals.max:
        both = task_calls + proposals
        share = proposals.expected / both.expected if both.expected else 0.0
        mix = Span(
            optimized.min,
            optimized.expected * (1 - share) + proposal_in.expected * share,
            max(optimized.max, proposal_in.max),
        )
        out = Span(
            answer.min,
            answer.expected * (1 - share) + proposal_out.expected * share,
            float(model.max_tokens),
        )
        phases["optimization"] = _Phase(both, mix, out)
    return phases, scored


def _predictors(task: Any) -> list[Any]:
    from ..tasks import build_program

    return list(build_program(task).predictors())


def _cost(price: Price | None, phase: _Phase) -> Range | None:
    from dspy.lm15 import Usage

    if price is None:
        return None
    values = []
    for k in ("min", "expected", "max"):
        usage = Usage(
            input_tokens=int(getattr(phase.tokens_in, k)), output_tokens=int(getattr(phase.tokens_out, k))
        )
        one = cost_of(price, usage)
        if one is None:
            return None
        values.append(one * getattr(phase.calls, k))
    return Range(*values)


def _seconds(phases: dict[str, _Phase]) -> Range:
    def weighted(k: str) -> float:
        return float(
            sum(
                getattr(p.calls, k) * (getattr(p.tokens_in, k) / 8 + getattr(p.tokens_out, k))
                for p in phases.values()
            )
        )

    mid = weighted("expected") / LOCAL_TOKENS_PER_S
    return Range(weighted("min") / (2 * LOCAL_TOKENS_PER_S), mid, weighted("max") / (LOCAL_TOKENS_PER_S / 3))


def _row(model: str, label: str, price: Price | None, phases: dict[str, _Phase], role: str) -> ModelEstimate:
    calls = {name: _range(p.calls) for name, p in phases.items()}
    total = Range(*(sum(getattr(r, k) for r in calls.values()) for k in ("min", "expected", "max")))
    costs = {name: _cost(price, p) for name, p in phases.items()}
    by_phase = None if any(c is None for c in costs.values()) else {k: c for k, c in costs.items() if c}
    cost = None
    if by_phase is not None:
        cost = Range(*(sum(getattr(r, k) for r in by_phase.values()) for k in ("min", "expected", "max")))
    provider = model.partition("/")[0]
    seconds = _seconds(phases) if provider in LOCAL_PROVIDERS else None
    return ModelEstimate(model, label, calls, total, cost, by_phase, role, seconds)


def _labels(task: Any) -> int | None:
    """How many distinct answers the task has, when it is a classification (at most 10 labels)."""
    outputs = [f for f in task.output_fields if f != "reasoning"]
    if not outputs or not task.train:
        return None
    values = {tuple(str(e.get(f, "")) for f in outputs) for e in task.train}
    return len(values) if len(values) <= 10 else None


def _judge_row(
    config: SessionConfig, task: Any, spec: JudgeSpec, tokens: CallTokens, metric_calls: dict[str, float]
) -> ModelEstimate:
    """The llm_judge rates every scored answer; a rating it gave before (same example, same answer,
    whichever model gave it) comes from the cache. For a classification task the new ratings are
    the examples a phase reaches times the distinct answers the models give them: a model agrees
    with another on an example except for `DISAGREE` of them, and a program the optimizer tries
    changes a model's answer on `FLIP` of the examples (both assumed, from offline runs)."""
    labels = _labels(task)
    train, dev, test, models = len(task.train), len(task.dev), len(task.test), len(config.models)
    answers = 1.0 + (min(labels, models) - 1) * DISAGREE if labels else 0.0  # per example, at first
    distinct = {
        "baseline": dev * answers,
        "optimization": train * answers + (train + dev) * FLIP * models,
        "cross_model": metric_calls["cross_model"] * FLIP,
        "benchmark": test * answers,
    }
    pool = {"baseline": dev, "optimization": train + dev, "cross_model": dev, "benchmark": test}
    phases: dict[str, _Phase] = {}
    ins, out = fixed(tokens.judge_prompt), fixed(tokens.judge_answer)
    for name, asked in metric_calls.items():
        expected = min(asked, distinct[name]) if labels is not None else asked
        low = min(asked, float(pool[name])) if name in ("baseline", "benchmark") else 0.0
        phases[name] = _Phase(Span(low, expected, asked), ins, out)
    rated = min(JUDGED_SAMPLE, len(task.test)) * JUDGED_ASPECTS * len(config.models)
    phases["benchmark"] = _Phase(phases["benchmark"].calls + fixed(float(rated)), ins, out)
    price = resolve_price(spec.model)
    return _row(spec.model, price_label(price), price, phases, "judge")


def estimate(
    config: SessionConfig, task: Any, recorded: Mapping[str, float] | None = None
) -> list[ModelEstimate]:
    """One row per model (and one for an llm_judge), with calls and costs per phase; `recorded`: the
    mean output tokens of each model's recorded answers to this task (storage's `recorded_outputs`)."""
    judge = _judge_spec(config)
    tokens = measure(task, judge, config.model_ids(), recorded)
    rows, judged = [], dict.fromkeys(PHASES, 0.0)
    for m in config.models:
        provider, _ = split_model(m.id)
        phases, scored = _model_phases(config, task, tokens, m, provider in OFFLINE_PROVIDERS)
        price = resolve_price(m.id, m.price)
        rows.append(_row(m.id, price_label(price), price, phases, "model"))
        for name in PHASES:
            judged[name] += scored if name == "optimization" else phases[name].calls.expected
    if judge is not None:
        rows.append(_judge_row(config, task, judge, tokens, judged))
    return rows


def recorded_outputs(store: Any, config: SessionConfig) -> dict[str, float]:
    """What each of the session's models wrote when it answered this task before (`estimate`'s
    `recorded`), from a `SessionStore`."""
    return dict(store.recorded_outputs(config.task.dataset, config.task.module, config.model_ids()))


def after_resume(
    estimates: list[ModelEstimate], recorded: Mapping[str, Mapping[str, Mapping[str, float]]]
) -> list[ModelEstimate]:
    """What a resume still sends: the replayed pipeline finds every recorded answer in the session's
    cache, so the calls and cost recorded per role and model (`recorded[role][model]`, with `calls`
    and `cost_usd`) come off each row."""

    def less(r: Range, by: float) -> Range:
        return Range(max(0.0, r.min - by), max(0.0, r.expected - by), max(0.0, r.max - by))

    out = []
    for e in estimates:
        done = recorded.get(e.role, {}).get(e.model, {})
        left = ModelEstimate(e.model, e.price_label, role=e.role, seconds=e.seconds)
        left.calls = less(e.calls, float(done.get("calls", 0)))
        left.cost_usd = less(e.cost_usd, float(done.get("cost_usd", 0.0))) if e.cost_usd else None
        out.append(left)
    return out


def resume_sentence(estimates: list[ModelEstimate]) -> str:
    """What a resume is expected to send, in one sentence."""
    calls = sum(e.calls.expected for e in estimates)
    costs = [e.cost_usd.expected for e in estimates if e.cost_usd is not None]
    priced = len(costs) == len(estimates) and sum(costs) > 0  # offline and local models cost nothing
    money = f" (about ${sum(costs):.4f})" if priced else ""
    return f"resuming: about {calls:.0f} more calls expected{money}; the calls already recorded come from the cache."


def prompt_growth(config: SessionConfig, task: Any) -> float:
    """How many times longer an optimized program's prompt may be than the unoptimized one's: its
    demos (as many as the optimizer puts in a candidate) on prompts rendered by DSPy's adapter."""
    if not (task.dev or task.train):
        return 1.0
    tokens = measure(task)
    shape = Shape(
        config.optimizer,
        len(task.train),
        len(task.dev),
        config.optimizer_settings,
        1,
        module=config.task.module,
    )
    demos = round_calls(shape).demos
    if not demos:
        return 1.25  # a proposed instruction is longer than the signature's
    return tokens.input(demos) / max(1.0, tokens.prompt)


def budget_warning(config: SessionConfig, estimates: list[ModelEstimate]) -> str | None:
    """One sentence when the budget cannot pay what the estimate expects: below the benchmark alone
    (some models will get no test score), leaving nothing for optimization once the phase reserve is
    held back, or below the whole expected run."""
    from ..phase_reserve import MARGIN

    if config.budget_usd is None or any(e.cost_usd is None for e in estimates):
        return None

    def phase(name: str) -> float:
        return sum(
            e.cost_by_phase[name].expected for e in estimates if e.cost_by_phase and name in e.cost_by_phase
        )

    expected = sum(e.cost_usd.expected for e in estimates if e.cost_usd is not None)
    benchmark, budget = phase("benchmark"), config.budget_usd
    reserve = (benchmark + phase("cross_model")) * MARGIN if config.budget_reserve else 0.0
    first_round = phase("optimization") / max(1, config.rounds)
    if budget < benchmark:
        return (
            f"the budget of ${budget:.4f} is below the ${benchmark:.4f} the final benchmark alone is "
            "expected to cost, so some models may get no test score; raise it or use fewer test examples."
        )
    if budget < phase("baseline") + reserve + first_round:
        return (
            f"the budget of ${budget:.4f} leaves no room for optimization: the baseline and the "
            f"${reserve:.4f} held back for the cross-model trials and the benchmark take nearly all of it."
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
            "role": e.role,
            "price": e.price_label,
            "calls": e.calls.as_dict(),
            "calls_by_phase": {k: v.as_dict() for k, v in e.calls_by_phase.items()},
            "cost_usd": e.cost_usd.as_dict() if e.cost_usd else None,
            "cost_by_phase": {k: v.as_dict() for k, v in e.cost_by_phase.items()}
            if e.cost_by_phase
            else None,
            "seconds": e.seconds.as_dict() if e.seconds else None,
        }
        for e in estimates
    ]
