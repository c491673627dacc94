"""The optimizer catalogue and what one round means for each.

A session runs up to N rounds per model. Every round starts from the best
program found so far, spends one slice of the optimizer's effort, and hands
back a candidate program; the session then scores the candidate on dev and
keeps it only if it beats the best. Each round draws its own slice of the
trainset (shuffled by `seed + round`) so that rounds explore different
demos instead of repeating the same search.

| optimizer | one round is |
|---|---|
| `labeled` | LabeledFewShot: `k` labeled demos sampled from this round's shuffle of train |
| `bootstrap` | BootstrapFewShot on this round's train slice, the best program so far as teacher |
| `random_search` | BootstrapFewShotWithRandomSearch over `num_candidate_programs` demo sets |
| `mipro` | MIPROv2 with `num_candidates` instructions/demo sets and `num_trials` trials, from the best program |
| `copro` | COPRO, one depth step of `breadth` instruction candidates, from the best program |
| `simba` | SIMBA, `max_steps` (default 1) mini-batch steps, from the best program |
| `gepa` | GEPA with a budget of `max_metric_calls` metric calls, from the best program |

`settings` (the config's `optimizer_settings`) override the defaults below.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dspy

from .evaluation import in_threads

Metric = Callable[..., Any]


@dataclass
class RoundInput:
    best: dspy.Module  # the best program so far (never mutated here)
    fresh: dspy.Module  # the unoptimized program, for optimizers that rebuild demos from scratch
    trainset: list[dspy.Example]
    devset: list[dspy.Example]
    metric: Metric
    lm: Any  # the model's dspy.LM, also used as prompt/reflection model
    round_no: int
    seed: int
    num_threads: int
    settings: dict[str, Any] = field(default_factory=dict)

    def slice(self, size: int) -> list[dspy.Example]:
        """This round's shuffled slice of the trainset."""
        rng = random.Random(self.seed * 1009 + self.round_no)
        shuffled = list(self.trainset)
        rng.shuffle(shuffled)
        return shuffled[: max(1, min(size, len(shuffled)))]


def _opt(settings: dict[str, Any], name: str, default: Any) -> Any:
    return settings.get(name, default)


def _labeled(r: RoundInput) -> dspy.Module:
    k = _opt(r.settings, "k", 8)
    return dspy.LabeledFewShot(k=k).compile(
        r.fresh.deepcopy(), trainset=r.slice(len(r.trainset)), sample=False
    )


class WindowedBootstrap(dspy.BootstrapFewShot):  # type: ignore[misc]  # dspy is untyped
    """BootstrapFewShot whose trainset pass tries the examples it is sure to try all at once.

    DSPy tries the trainset one example at a time until it holds `max_bootstrapped_demos`
    traces. One example gives at most one trace, so while `k` more are needed the next `k`
    examples are tried by that sequential pass in any case: trying them together sends exactly
    the same requests, and handing their outcomes back in trainset order keeps the same demos,
    the same validation set and the same errors. DSPy's own loop still does the bookkeeping;
    only `_bootstrap_one_example` answers from the window. Each example of a window runs on its
    own copy of the teacher (DSPy takes the example out of the teacher's demos while it runs).
    """

    def __init__(self, *, num_threads: int, **kwargs: Any) -> None:
        self._errors = [0]  # one count shared by the copies that run a window's examples
        super().__init__(**kwargs)
        self.num_threads = num_threads
        self._outcomes: dict[int, tuple[Any, dict[str, list[Any]], BaseException | None]] = {}
        self._position = 0  # the trainset index DSPy's loop asks about next
        self._successes = 0

    @property
    def error_count(self) -> int:
        return self._errors[0]

    @error_count.setter
    def error_count(self, value: int) -> None:
        self._errors[0] = value

    def _bootstrap_one_example(self, example: Any, round_idx: int = 0) -> Any:
        index = self._position
        self._position += 1
        if index not in self._outcomes:
            self._run_window(index, max(1, self.max_bootstrapped_demos - self._successes))
        success, traces, raised = self._outcomes.pop(index)
        if raised is not None:
            raise raised
        for name, demos in traces.items():
            self.name2traces[name].extend(demos)
        self._successes += bool(success)
        return success

    def _run_window(self, start: int, size: int) -> None:
        def one(index: int) -> tuple[int, Any, dict[str, list[Any]], BaseException | None]:
            twin = copy.copy(self)
            twin.teacher = self.teacher.deepcopy()
            twin.predictor2name = dict(self.predictor2name)
            for (name, _), (_, mine) in zip(
                self.teacher.named_predictors(), twin.teacher.named_predictors(), strict=True
            ):
                twin.predictor2name[id(mine)] = name
            twin.name2traces = {name: [] for name in self.name2traces}
            try:
                success = dspy.BootstrapFewShot._bootstrap_one_example(twin, self.trainset[index])
            except BaseException as exc:  # noqa: BLE001 - raised again in trainset order
                return index, False, {}, exc
            return index, success, twin.name2traces, None

        indexes = list(range(start, min(start + size, len(self.trainset))))
        for outcome in in_threads(one, indexes, num_threads=min(self.num_threads, len(indexes))):
            if outcome is not None:  # always: `one` returns what it raised
                index, success, traces, raised = outcome
                self._outcomes[index] = (success, traces, raised)


def _bootstrap(r: RoundInput) -> dspy.Module:
    opt = WindowedBootstrap(
        metric=r.metric,
        max_bootstrapped_demos=_opt(r.settings, "max_bootstrapped_demos", 4),
        max_labeled_demos=_opt(r.settings, "max_labeled_demos", 8),
        max_rounds=1,
        num_threads=r.num_threads,
    )
    return opt.compile(
        r.fresh.deepcopy(), teacher=r.best.deepcopy(), trainset=r.slice(_opt(r.settings, "train_slice", 32))
    )


def _random_search(r: RoundInput) -> dspy.Module:
    opt = dspy.BootstrapFewShotWithRandomSearch(
        metric=r.metric,
        max_bootstrapped_demos=_opt(r.settings, "max_bootstrapped_demos", 4),
        max_labeled_demos=_opt(r.settings, "max_labeled_demos", 8),
        num_candidate_programs=_opt(r.settings, "num_candidate_programs", 4),
        num_threads=r.num_threads,
    )
    train = r.slice(_opt(r.settings, "train_slice", 32))
    return opt.compile(r.fresh.deepcopy(), teacher=r.best.deepcopy(), trainset=train)


def _mipro(r: RoundInput) -> dspy.Module:
    opt = dspy.MIPROv2(
        metric=r.metric,
        prompt_model=r.lm,
        task_model=r.lm,
        auto=None,
        num_candidates=_opt(r.settings, "num_candidates", 3),
        max_bootstrapped_demos=_opt(r.settings, "max_bootstrapped_demos", 3),
        max_labeled_demos=_opt(r.settings, "max_labeled_demos", 4),
        num_threads=r.num_threads,
        seed=r.seed + r.round_no,
        verbose=False,
        track_stats=False,
    )
    train = r.slice(_opt(r.settings, "train_slice", 40))
    return opt.compile(
        r.best.deepcopy(),
        trainset=train,
        valset=r.devset,
        num_trials=_opt(r.settings, "num_trials", 4),
        minibatch=False,
    )


def _copro(r: RoundInput) -> dspy.Module:
    opt = dspy.COPRO(
        prompt_model=r.lm,
        metric=r.metric,
        breadth=_opt(r.settings, "breadth", 3),
        depth=1,
        init_temperature=_opt(r.settings, "init_temperature", 1.0),
    )
    train = r.slice(_opt(r.settings, "train_slice", 32))
    return opt.compile(
        r.best.deepcopy(),
        trainset=train,
        eval_kwargs={"num_threads": r.num_threads, "display_progress": False},
    )


def _simba(r: RoundInput) -> dspy.Module:
    train = r.slice(_opt(r.settings, "train_slice", 32))
    opt = dspy.SIMBA(
        metric=lambda example, prediction_dict: float(r.metric(example, dspy.Prediction(**prediction_dict))),
        bsize=min(_opt(r.settings, "bsize", 8), len(train)),
        num_candidates=_opt(r.settings, "num_candidates", 3),
        max_steps=_opt(r.settings, "max_steps", 1),
        max_demos=_opt(r.settings, "max_demos", 4),
        prompt_model=r.lm,
        num_threads=r.num_threads,
    )
    return opt.compile(r.best.deepcopy(), trainset=train, seed=r.seed + r.round_no)


def _gepa(r: RoundInput) -> dspy.Module:
    def feedback_metric(
        gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None
    ) -> Any:
        score = float(r.metric(gold, pred, trace))
        expected = {k: gold[k] for k in gold.labels().keys()}
        feedback = "Correct." if score >= 1 else f"Incorrect: expected {expected}."
        return dspy.Prediction(score=score, feedback=feedback)

    opt = dspy.GEPA(
        metric=feedback_metric,
        max_metric_calls=_opt(r.settings, "max_metric_calls", 40),
        reflection_lm=r.lm,
        reflection_minibatch_size=_opt(r.settings, "reflection_minibatch_size", 3),
        num_threads=r.num_threads,
        seed=r.seed + r.round_no,
        track_stats=False,
    )
    train = r.slice(_opt(r.settings, "train_slice", 24))
    return opt.compile(r.best.deepcopy(), trainset=train, valset=r.devset[: _opt(r.settings, "val_size", 24)])


ROUND_FUNCTIONS: dict[str, Callable[[RoundInput], dspy.Module]] = {
    "labeled": _labeled,
    "bootstrap": _bootstrap,
    "random_search": _random_search,
    "mipro": _mipro,
    "copro": _copro,
    "simba": _simba,
    "gepa": _gepa,
}

DESCRIPTIONS: dict[str, str] = {
    "labeled": "LabeledFewShot: labeled demos sampled per round",
    "bootstrap": "BootstrapFewShot: demos bootstrapped by the best program so far",
    "random_search": "BootstrapFewShot with random search over candidate demo sets",
    "mipro": "MIPROv2: proposed instructions and demos, searched with trials",
    "copro": "COPRO: instruction proposals, coordinate ascent",
    "simba": "SIMBA: mini-batch self-reflective rules and demos",
    "gepa": "GEPA: reflective instruction evolution",
}


def run_round(name: str, round_input: RoundInput) -> dspy.Module:
    return ROUND_FUNCTIONS[name](round_input)
