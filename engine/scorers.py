"""Task metrics, called the way DSPy calls them: `metric(example, pred, trace=None)`.

Each metric scores one output field: the signature's first output field
unless the options name another (`{"field": "answer"}`). Scores are floats in
[0, 1]. Every metric also accepts GEPA's two extra arguments (`pred_name`,
`pred_trace`), so the same object works with every optimizer; `with_feedback`
adds the textual feedback GEPA's reflection learns from.

`llm_judge` needs a model to ask, which only the runtime has: the caller
passes `judge=` (see `JudgeFn`); without one `make_metric` says so plainly.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

import dspy

from dspy_tui.engine.tasks import TaskError, import_object
from dspy_tui.engine.word_overlap import overlap_f1

JudgeFn = Callable[[dspy.Example, Any, str], float]
"""`judge(example, prediction, field) -> score in [0, 1]`, built by the runtime around a judge LM."""

JUDGE_METRICS = frozenset({"llm_judge"})

_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?")


def normalize(text: Any) -> str:
    """Lower-case, punctuation removed, whitespace collapsed: what "the same answer" means."""
    text = unicodedata.normalize("NFKC", str(text)).lower()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return " ".join(text.split())


def exact_match(gold: Any, got: Any) -> float:
    return float(normalize(gold) == normalize(got))


def token_f1(gold: Any, got: Any) -> float:
    return overlap_f1(normalize(got).split(), normalize(gold).split())


def contains(gold: Any, got: Any) -> float:
    g = normalize(gold)
    return float(bool(g) and f" {g} " in f" {normalize(got)} ")


def parse_number(value: Any) -> float | None:
    """The first number in a value: 1,234.5 / -3 / 2e3; None when there is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    for match in _NUMBER.finditer(str(value)):
        token = match.group(0)
        if any(ch.isdigit() for ch in token):
            try:
                return float(token.replace(",", ""))
            except ValueError:
                continue
    return None


def _numeric(tolerance: float, relative: float) -> Callable[[Any, Any], float]:
    def score(gold: Any, got: Any) -> float:
        g, p = parse_number(gold), parse_number(got)
        if g is None or p is None:
            return 0.0
        return float(math.isclose(g, p, abs_tol=tolerance, rel_tol=relative))

    return score


def parse_json(value: Any) -> Any:
    """A JSON value from text (code fences allowed); values that are not text pass through."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```$", text, re.S)
    return json.loads(fenced.group(1) if fenced else text)


def json_equal(gold: Any, got: Any) -> float:
    try:
        return float(parse_json(gold) == parse_json(got))
    except ValueError:
        return 0.0


def _regex(pattern: str, ignore_case: bool) -> Callable[[Any, Any], float]:
    flags = re.I if ignore_case else 0
    try:
        fixed = None if "{gold}" in pattern else re.compile(pattern, flags)
    except re.error as exc:
        raise TaskError(
            f"regex metric: pattern {pattern!r} is not a valid regular expression ({exc})"
        ) from None

    def score(gold: Any, got: Any) -> float:
        compiled = fixed or re.compile(pattern.replace("{gold}", re.escape(str(gold))), flags)
        return float(compiled.search(str(got)) is not None)

    return score


Scorer = Callable[[Any, Any, Any, str], float]
"""`(example, prediction, trace, field) -> score`: what a Metric runs."""


class Metric:
    """One named metric over one output field, callable by every DSPy optimizer."""

    def __init__(self, name: str, scorer: Scorer, field: str | None) -> None:
        self.name = name
        self.field = field
        self._scorer = scorer

    def __repr__(self) -> str:
        return f"Metric({self.name!r}, field={self.field!r})"

    def field_of(self, example: Any) -> str:
        """The scored field: the configured one, else the example's first label."""
        if self.field:
            return self.field
        labels = list(example.labels().keys()) if hasattr(example, "labels") else []
        if not labels:
            raise TaskError(f"metric {self.name}: the example has no output field to score")
        return str(labels[0])

    def __call__(
        self, example: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None
    ) -> float:
        return float(self._scorer(example, pred, trace, self.field_of(example)))


def _compare(fn: Callable[[Any, Any], float]) -> Scorer:
    """A scorer comparing the gold value with the predicted one; a missing prediction scores 0."""

    def scorer(example: Any, pred: Any, trace: Any, field: str) -> float:
        got = _get(pred, field)
        return 0.0 if got is None else fn(example[field], got)

    return scorer


class MetricValueError(TaskError):
    """A user metric returned something that is not a finite number."""


def finite_score(name: str, value: Any) -> float:
    """A metric's value as a float, or MetricValueError naming the value (str, None, NaN, inf...)."""
    if isinstance(value, numbers.Real) and math.isfinite(float(value)):
        return float(value)
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    raise MetricValueError(f"the metric {name} returned {shown}, which is not a finite number")


def _user(name: str, fn: Callable[..., Any]) -> Scorer:
    """A `module:function` metric gets DSPy's (example, pred, trace); a returned Prediction's score counts."""

    def scorer(example: Any, pred: Any, trace: Any, field: str) -> float:
        value = fn(example, pred, trace)
        return finite_score(name, getattr(value, "score", value))

    return scorer


def rehearse(
    metric: Metric, examples: list[Any], output_fields: list[str], extra_fields: tuple[str, ...] = ()
) -> None:
    """Call a user metric on the first examples with their expected answers as the prediction,
    before any model is paid: a metric that raises or returns no number fails the task here."""
    for example in examples[:3]:
        labels = dict(example.labels()) if hasattr(example, "labels") else {}
        pred = dspy.Prediction(**{**dict.fromkeys((*output_fields, *extra_fields), ""), **labels})
        try:
            metric(example, pred)
        except MetricValueError:
            raise
        except Exception as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise TaskError(
                f"the metric {metric.name} raised {type(exc).__name__}{': ' + text if text else ''} "
                "on the first examples (scored against their expected answers); "
                "nothing was sent to any model"
            ) from None


def _judged(judge: JudgeFn) -> Scorer:
    def scorer(example: Any, pred: Any, trace: Any, field: str) -> float:
        return float(judge(example, pred, field))

    return scorer


def _get(pred: Any, name: str) -> Any:
    if isinstance(pred, Mapping):
        return pred.get(name)
    try:
        return pred[name]
    except (KeyError, TypeError, IndexError, AttributeError):
        return getattr(pred, name, None)


_OPTIONS: dict[str, set[str]] = {
    "exact_match": set(),
    "f1": set(),
    "contains": set(),
    "numeric": {"tolerance", "relative_tolerance"},
    "json_equal": set(),
    "regex": {"pattern", "ignore_case"},
    "llm_judge": {"criteria", "model"},
}
BUILTIN_METRICS = tuple(_OPTIONS)  # the names a config may use besides 'package.module:function'


def make_metric(
    name: str,
    options: Mapping[str, Any] | None = None,
    judge: JudgeFn | None = None,
    *,
    signature: type[dspy.Signature] | None = None,
) -> Metric:
    """The metric `name` ("exact_match", "f1", "contains", "numeric", "json_equal", "regex",
    "llm_judge" or "pkg.module:function") with its options; TaskError says what is wrong."""
    options = dict(options or {})
    field = options.pop("field", None)
    if field is not None and signature is not None and field not in signature.output_fields:
        outs = ", ".join(signature.output_fields)
        raise TaskError(f"metric {name}: field {field!r} is not an output field (outputs: {outs})")
    if field is None and signature is not None:
        field = next(iter(signature.output_fields), None)
    if ":" in name:
        fn = import_object(name, "metric")
        if not callable(fn):
            raise TaskError(f"metric {name!r} is not a function")
        return Metric(name, _user(name, fn), field)
    if name not in _OPTIONS:
        known = ", ".join(sorted(_OPTIONS))
        raise TaskError(f"unknown metric {name!r}; use one of {known}, or 'package.module:function'")
    unknown = sorted(set(options) - _OPTIONS[name])
    if unknown:
        allowed = ", ".join(sorted(_OPTIONS[name] | {"field"}))
        raise TaskError(f"metric {name}: unknown option(s) {', '.join(unknown)} (allowed: {allowed})")
    if name == "llm_judge":
        if judge is None:
            raise TaskError(
                "the llm_judge metric needs a judge model: choose one for the session, or use another metric"
            )
        return Metric(name, _judged(judge), field)
    if name == "numeric":
        tolerance = _non_negative(name, "tolerance", options.get("tolerance", 1e-6))
        relative = _non_negative(name, "relative_tolerance", options.get("relative_tolerance", 0.0))
        return Metric(name, _compare(_numeric(tolerance, relative)), field)
    if name == "regex":
        pattern = options.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise TaskError(
                "metric regex needs a 'pattern' option (a regular expression the answer must match)"
            )
        return Metric(name, _compare(_regex(pattern, bool(options.get("ignore_case", False)))), field)
    scorers = {"exact_match": exact_match, "f1": token_f1, "contains": contains, "json_equal": json_equal}
    return Metric(name, _compare(scorers[name]), field)


def _non_negative(metric: str, option: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or not number >= 0:
        raise TaskError(f"metric {metric}: option {option} must be a number >= 0, got {value!r}")
    return number


def with_feedback(metric: Metric) -> Callable[..., dspy.Prediction]:
    """The same score plus a sentence GEPA's reflection can learn from (the expected answer)."""

    def scored(
        example: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None
    ) -> dspy.Prediction:
        score = metric(example, pred, trace)
        name = metric.field_of(example)
        if score >= 1.0:
            feedback = f"Correct: the {name} is '{example[name]}'."
        else:
            feedback = f"Incorrect: the expected {name} was '{example[name]}', but the answer was '{_get(pred, name)}'."
        return dspy.Prediction(score=score, feedback=feedback)

    return scored
