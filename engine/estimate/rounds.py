"""How many requests one optimization round sends, from each optimizer's algorithm in DSPy 3.4.

Counted are the requests a provider receives: the session's call cache answers a request
identical to an earlier one (a program already scored on an example, a teacher already
asked), so those are left out here. Each optimizer's count follows its DSPy code path with
the settings engine/optimizers.py passes; what the data decides is a stated prior:

* `SUCCESS[optimizer]` — the share of teacher traces that pass the metric, FITTED (counted
  inside DSPy by benchmarks/fit_estimate_priors.py). Bootstrapping stops after
  `max_bootstrapped_demos` successes, so it asks about demos/SUCCESS examples (min: every
  one passes; max: the whole slice).
* `gains(optimizer, r, module)` — the chance round r gains `min_delta` over the best program,
  `first * decay ** (r - 1)` per optimizer and module, FITTED from recorded sessions by
  benchmarks/fit_estimate_priors.py (estimate/priors.py says on what). It decides how many
  rounds run before a model converges. A round after one that did not improve starts from
  the same program, so the requests it repeats on the same training examples are cache hits.
* `GEPA_ACCEPT` — the share of GEPA's proposals that beat the parent on its minibatch (each
  accepted one is scored on the whole valset), FITTED the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .priors import GAIN, GEPA_ACCEPT, SIMBA_CHANGED, SUCCESS


def gains(optimizer: str, round_no: int, module: str = "predict") -> float:
    """The chance round `round_no` of `optimizer` on a `module` program gains over the best program
    (fitted)."""
    first, decay = GAIN[optimizer, module]
    return float(first * decay ** (round_no - 1))


@dataclass(frozen=True)
class Span:
    min: float
    expected: float
    max: float

    def __add__(self, other: Span) -> Span:
        return Span(self.min + other.min, self.expected + other.expected, self.max + other.max)

    def times(self, k: float) -> Span:
        return Span(self.min * k, self.expected * k, self.max * k)


ZERO = Span(0.0, 0.0, 0.0)


def fixed(n: float) -> Span:
    return Span(n, n, n)


@dataclass(frozen=True)
class RoundCalls:
    """One round's requests (min/expected/max) and what its candidate's prompt carries."""

    task: Span  # the task program inside the optimizer (teacher traces, candidate scoring)
    proposals: Span  # the prompt model: dataset summaries, instructions, rules, reflections
    dev: Span  # the session's dev score of the candidate (0 when the optimizer scored it on dev)
    scored: float  # metric calls inside the optimizer (each asks an llm_judge, cache permitting)
    demos: float  # demos in the candidate's prompt (expected)
    instructed: float = 0.0  # the share of scored candidates whose instruction the model wrote


@dataclass(frozen=True)
class Shape:
    """What a round's count depends on: the optimizer, split sizes, settings and the round's number."""

    optimizer: str
    train: int
    dev: int
    settings: dict[str, Any]
    round_no: int
    predictors: int = 1
    deterministic: bool = False  # the model answers a sampled prompt the same way every time (offline)
    module: str = "predict"  # the task's module kind

    def opt(self, name: str, default: int) -> int:
        return int(self.settings.get(name, default))

    @property
    def success(self) -> float:
        """The share of this optimizer's teacher traces that pass the metric (fitted)."""
        return SUCCESS[self.optimizer]

    def slice(self, default: int) -> int:
        return max(1, min(self.opt("train_slice", default), self.train))

    def repeated(self, asked: float) -> float:
        """Expected share of this round's `asked` requests that are new: all in round 1; later, all
        when the previous round improved the program, else those on examples the previous round
        did not reach (rounds reshuffle the same trainset)."""
        if self.round_no == 1:
            return 1.0
        same = 1.0 - gains(self.optimizer, self.round_no - 1, self.module)
        overlap = min(1.0, asked / self.train) if self.train else 1.0
        return 1.0 - same * overlap


def visits(successes: float, slice_: int, success: float) -> Span:
    """Examples a bootstrap asks the teacher about before it has `successes` passing traces, when a
    `success` share of traces pass."""
    return Span(min(successes, slice_), min(float(slice_), successes / success), float(slice_))


def union(asked: list[float], slice_: int) -> float:
    """Distinct examples reached by several bootstraps over reshuffled slices with one teacher."""
    missed = 1.0
    for a in asked:
        missed *= 1.0 - min(1.0, a / slice_)
    return slice_ * (1.0 - missed)


def _later(s: Shape, first: Span) -> Span:
    """A teacher's requests in this round: in later rounds the same teacher may repeat them."""
    new = s.repeated(first.expected)
    return first if s.round_no == 1 else Span(0.0, first.expected * new, first.max)


def labeled(s: Shape) -> RoundCalls:
    return RoundCalls(ZERO, ZERO, fixed(s.dev), 0.0, min(s.opt("k", 8), s.train))


def bootstrap(s: Shape) -> RoundCalls:
    n = s.slice(32)
    teacher = _later(s, visits(s.opt("max_bootstrapped_demos", 4), n, s.success))
    demos = min(s.opt("max_labeled_demos", 8), n)
    return RoundCalls(teacher, ZERO, fixed(s.dev), teacher.expected, demos)


def random_search(s: Shape) -> RoundCalls:
    """Candidates: zero-shot, labeled, unshuffled bootstrap, and `num_candidate_programs` shuffled
    bootstraps of 1..max demos, each scored on the train slice (its valset)."""
    n, b = s.slice(32), s.opt("max_bootstrapped_demos", 4)
    k = s.opt("num_candidate_programs", 4)
    zero_shot = n * s.repeated(n) if s.round_no > 1 else float(n)
    scoring = Span(float((k + 2) * n), (k + 2) * n + zero_shot, float((k + 3) * n))
    # round 1's teacher is the zero-shot program: its traces are the zero-shot candidate's scores
    asked = union([b / s.success] + [(1 + b) / 2 / s.success] * k, n)
    teacher = Span(0.0, 0.0 if s.round_no == 1 else asked * s.repeated(asked), float(n))
    demos = min(s.opt("max_labeled_demos", 8), n)
    return RoundCalls(scoring + teacher, ZERO, fixed(s.dev), scoring.expected + teacher.expected, demos)


def mipro(s: Shape) -> RoundCalls:
    """Demo sets (zero-shot, labeled, bootstraps), a dataset summary, three proposer calls per
    instruction, then `num_trials` full dev evaluations of (instruction, demo set) picks."""
    n, b = s.slice(40), s.opt("max_bootstrapped_demos", 3)
    cands, trials = s.opt("num_candidates", 3), s.opt("num_trials", 4)
    boots = max(0, cands - 2)
    asked = (
        union(([b / s.success] if boots else []) + [(1 + b) / 2 / s.success] * (boots - 1), n)
        if boots
        else 0.0
    )
    teacher = _later(s, Span(min(b, n) if boots else 0.0, asked, float(n) if boots else 0.0))
    batches = min(9, max(0, math.ceil(n / 10) - 1))
    summary = Span(2.0, 2.0 + batches, 2.0 + batches)
    proposals = summary + fixed(3 * cands * s.predictors)
    # optuna draws each trial's (instruction, demo set) per predictor; the default pick (0, 0) is the
    # default program, scored before the trials (a cache hit), so only the other combinations are new
    combos = (cands * cands) ** s.predictors
    distinct = (combos - 1) * (1 - (1 - 1 / combos) ** trials)
    scoring = Span(float(s.dev), distinct * s.dev, float(trials * s.dev))
    labeled = min(s.opt("max_labeled_demos", 4), n)
    return RoundCalls(
        teacher + scoring,
        proposals,
        ZERO,
        teacher.expected + trials * s.dev,
        labeled * (cands - 1) / cands,
        (cands - 1) / cands,
    )


def copro(s: Shape) -> RoundCalls:
    """`breadth` instructions (the best program's and breadth-1 sampled in one call), each scored
    on the train slice; a deterministic model proposes one instruction however often it is asked."""
    n, breadth = s.slice(32), s.opt("breadth", 3)
    new = 1 if s.deterministic else breadth - 1
    fresh = s.repeated(n)
    own = n * fresh
    if s.deterministic and s.round_no > 1:  # the same program proposes the same instruction again
        new_share = gains(s.optimizer, s.round_no - 1, s.module)
        scoring = Span(0.0, own + new * n * new_share, float(breadth * n))
        dev = Span(0.0, s.dev * new_share, float(s.dev))
    else:
        scoring = Span(float(n), own + new * n, float(breadth * n))
        dev = Span(0.0, s.dev * new / (new + 1), float(s.dev))
    return RoundCalls(scoring, fixed(1.0), dev, float(breadth * n), 0.0, new / (new + 1))


def simba(s: Shape) -> RoundCalls:
    """Per step: `num_candidates` sampled trajectories (temperature 1, never repeated) per mini-batch
    example, then `num_candidates + 1` candidates, each a rule or a demo from one mini-batch
    example. A strategy whose example shows no gap between a good and a bad sample skips and leaves
    its source (the best program) as it was; only the `SIMBA_CHANGED` share (fitted) changes it and
    asks for a rule half the time. The changed candidates are scored on the mini-batch, then the
    best program and the mini-batch winner on the whole slice (the winner's mini-batch answers and
    the best program's answers from an unimproved previous round are cache hits). The session's dev
    score is new only when the winner beat the best program on the slice (ties keep the best)."""
    n = s.slice(32)
    bsize, cands, steps = min(s.opt("bsize", 8), n), s.opt("num_candidates", 3), s.opt("max_steps", 1)
    trajectories = fixed(float(steps * bsize * cands))
    changed = steps * (cands + 1) * SIMBA_CHANGED
    rules = Span(0.0, changed / 2, float(steps * (cands + 1)))
    candidates = Span(0.0, changed * bsize, float(steps * (cands + 1) * bsize))
    winners = min(float(steps), changed)  # the mini-batch winner is a changed candidate
    best = n * s.repeated(n)  # the unchanged candidates' mini-batch is part of these
    validation = Span(0.0, winners * (n - bsize) + best, float((steps + 1) * n))
    task = trajectories + candidates + validation
    dev = Span(0.0, s.dev * gains(s.optimizer, s.round_no, s.module), float(s.dev))
    demos = min(s.opt("max_demos", 4), changed / 2)
    return RoundCalls(task, rules, dev, task.expected, demos, SIMBA_CHANGED / 2)


def gepa(s: Shape) -> RoundCalls:
    """A budget of `max_metric_calls` metric calls: the seed on the valset (the best program's dev
    score: cached), then per iteration a minibatch for the parent and the child, a reflection, and the
    valset for an accepted child; the last iteration may overshoot the budget."""
    budget, val = s.opt("max_metric_calls", 40), min(s.opt("val_size", 24), s.dev)
    mini = s.opt("reflection_minibatch_size", 3)
    left = max(0, budget - val)
    per_iteration = 2 * mini + GEPA_ACCEPT * val
    iterations = left / per_iteration if per_iteration else 0.0
    task = Span(left / 2, left + mini, float(left + 2 * mini + val))
    reflections = Span(
        left / (2 * mini + val) if left else 0.0, iterations, left / (2 * mini) if mini else 0.0
    )
    dev = fixed(float(max(0, s.dev - val)))
    return RoundCalls(task, reflections.times(s.predictors), dev, float(budget), 0.0, 1.0)


ROUNDS = {
    "labeled": labeled,
    "bootstrap": bootstrap,
    "random_search": random_search,
    "mipro": mipro,
    "copro": copro,
    "simba": simba,
    "gepa": gepa,
}


def round_calls(shape: Shape) -> RoundCalls:
    return ROUNDS[shape.optimizer](shape)


def round_chances(optimizer: str, rounds: int, patience: int, module: str = "predict") -> list[float]:
    """The chance each round runs: a model converges after `patience` rounds in a row without a gain."""
    mass: dict[int, float] = {0: 1.0}
    chances: list[float] = []
    for r in range(1, rounds + 1):
        chances.append(sum(mass.values()))
        q, nxt = gains(optimizer, r, module), dict[int, float]()
        for stale, p in mass.items():
            nxt[0] = nxt.get(0, 0.0) + p * q
            if stale + 1 < patience:
                nxt[stale + 1] = nxt.get(stale + 1, 0.0) + p * (1 - q)
        mass = nxt
    return chances


# Optimizers whose round-r candidate is the same program for every model (LabeledFewShot samples
# its demos from the session's shuffle of train, not from the model's answers): the leader's best
# program is then in the cache of every other model that ran that round.
SHARED_CANDIDATES = frozenset({"labeled"})


def transfer_share(optimizer: str, chances: list[float], module: str = "predict") -> float:
    """The chance the leader's program is new to another model in the cross-model trial: some round
    improved it, and (for shared candidates) the other model stopped before that round."""
    if optimizer not in SHARED_CANDIDATES:
        return improved_once(optimizer, chances, module)
    share, later_stale = 0.0, 1.0
    for r in range(len(chances), 0, -1):  # the best program comes from the last round that gained
        won = chances[r - 1] * gains(optimizer, r, module)
        share += won * later_stale * (1.0 - chances[r - 1])
        later_stale *= 1.0 - won
    return share


def improved_once(optimizer: str, chances: list[float], module: str = "predict") -> float:
    """The chance some round improved the baseline program (then later phases carry its demos)."""
    stale = 1.0
    for r, chance in enumerate(chances, 1):
        stale *= 1.0 - chance * gains(optimizer, r, module)
    return 1.0 - stale
