"""Scoring a program on a split, example by example, with three outcomes.

An example is *answered* (the model replied and the metric scored it),
*unparsed* (the model replied but no DSPy adapter could read the reply:
the model's fault, so it scores as wrong), or *errored* (its LM call failed
after retries, or the metric raised: not the model's answer at all, so it
is left out of the score). A score is the mean over the answered and
unparsed examples; with none of them there is no score (None), never 0.0.

`dspy.Evaluate` would score a failed call as 0 and, past `max_errors`, end
in "Execution cancelled due to errors or interruption."; here every example
ends in one of the three outcomes, and a stop or fatal signal raised inside
a worker is re-raised only after every worker has returned, so no thread is
left making calls for a model or session that has ended.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
ANSWERED, UNPARSED, ERRORED = "answered", "unparsed", "errored"
_DSPY_LM_PREFIX = re.compile(r"^\[[^\]]*@[0-9a-f]+\]\s*")  # DSPy's "[provider/model@host] " in LM errors


@dataclass(frozen=True)
class Scored:
    """One example's outcome; `score` is None when it errored."""

    outcome: str
    score: float | None
    prediction: Any = None
    error: str | None = None


def error_text(exc: BaseException) -> str:
    """An exception as the first line a user should read (without DSPy's model prefix)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return _DSPY_LM_PREFIX.sub("", text)


@dataclass(frozen=True)
class Evaluation:
    items: list[Scored]

    def count(self, outcome: str) -> int:
        return sum(1 for s in self.items if s.outcome == outcome)

    @property
    def scored(self) -> list[Scored]:
        """The examples that count toward the score (answered or unparsed), in split order."""
        return [s for s in self.items if s.outcome != ERRORED]

    @property
    def score(self) -> float | None:
        scored = self.scored
        return sum(s.score or 0.0 for s in scored) / len(scored) if scored else None

    def counts(self) -> dict[str, int]:
        return {
            "examples": len(self.items),
            "answered": len(self.items) - self.count(ERRORED),
            "errored": self.count(ERRORED),
            "unparsed": self.count(UNPARSED),
        }

    def cause(self) -> str | None:
        """The most common reason examples errored, or None when none did."""
        reasons = Counter(s.error or "unknown error" for s in self.items if s.outcome == ERRORED)
        return reasons.most_common(1)[0][0] if reasons else None


def in_threads(fn: Callable[[T], R], items: Sequence[T], *, num_threads: int) -> list[R | None]:
    """`fn(item)` for every item in `num_threads` threads (each inside the caller's dspy.context, through
    DSPy's `Parallel`), results in item order, None where `fn` raised. Every item runs once:
    `timeout=0` turns off the re-submission of stragglers (it would send the same request twice),
    and no count of errors cancels the rest (`fn` reports its own)."""
    from dspy.predict.parallel import Parallel

    run = Parallel(
        num_threads=num_threads,
        max_errors=len(items) + 1,
        provide_traceback=False,
        disable_progress_bar=True,
        timeout=0,
    )
    results: list[R | None] = run([(fn, (item,)) for item in items])
    return results


def evaluate(
    program: Any, examples: list[Any], metric: Callable[[Any, Any], Any], *, num_threads: int
) -> Evaluation:
    """Score `program` on `examples` in `num_threads` threads (inside the caller's dspy.context)."""
    from dspy.utils.exceptions import AdapterParseError

    signals: list[BaseException] = []

    def one(example: Any) -> Scored | None:
        if signals:
            return None  # the model or session has ended: start nothing new
        try:
            prediction = program(**example.inputs())
        except AdapterParseError as exc:
            return Scored(UNPARSED, 0.0, None, error_text(exc))
        except Exception as exc:  # noqa: BLE001 - the call failed after DSPy's retries
            return Scored(ERRORED, None, None, error_text(exc))
        except BaseException as exc:  # a stop or fatal signal: end this evaluation
            signals.append(exc)
            return None
        try:
            return Scored(ANSWERED, float(metric(example, prediction)), prediction)
        except Exception as exc:  # noqa: BLE001 - the metric, not the model, failed
            return Scored(
                ERRORED, None, prediction, f"the metric raised {type(exc).__name__}: {error_text(exc)}"
            )
        except BaseException as exc:
            signals.append(exc)
            return None

    results = in_threads(one, examples, num_threads=num_threads)
    if signals:
        raise signals[0]
    return Evaluation([r if r is not None else Scored(ERRORED, None, None, "not run") for r in results])


def split_of(phase: str) -> str:
    return "test" if phase == "benchmark" else "dev"


def degraded_reason(phase: str, tally: Mapping[str, int], threshold: float, cause: str | None) -> str | None:
    """One sentence when the errored share of a phase's examples (`tally`: the `counts()` of its
    evaluations, summed) exceeds `threshold`, else None."""
    examples, errored = tally.get("examples", 0), tally.get("errored", 0)
    if not examples or errored / examples <= threshold:
        return None
    because = f": {cause.rstrip('.')}" if cause else ""
    return (
        f"{errored} of {examples} {split_of(phase)} examples errored in the {phase} "
        f"(more than {threshold:.0%}){because}."
    )


def never_answered(phase: str, evaluation: Evaluation) -> str:
    """Why a model whose evaluation had no answer at all cannot go on, in one sentence."""
    n = len(evaluation.items)
    cause = (evaluation.cause() or "no answer").rstrip(".")
    return f"{n} of {n} {split_of(phase)} examples errored in the {phase}, so there is no score: {cause}."
