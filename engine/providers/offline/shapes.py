"""Which task shapes the offline models can do, so a user is told before a run that will score near 0.

The offline model classifies (an output field with a stated or visible label set) and extracts
(an answer copied from the inputs). It cannot compute, translate or write: on such a task
(e.g. arithmetic, "question -> answer: int") it echoes its inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .labels import labels_in
from .text import words

SHAPES = ("classification", "extraction")
_SAMPLE = 40


def task_shape(
    outputs: Mapping[str, str], examples: Sequence[Mapping[str, Any]], inputs: Sequence[str]
) -> str:
    """ "classification", "extraction" or "other" for a task's output fields (name -> type and
    description text) and some labelled examples (field -> value)."""
    sample = list(examples)[:_SAMPLE]
    for name, text in outputs.items():
        if name == "reasoning":
            continue
        if labels_in(text) or text.startswith("bool"):
            return "classification"
        values = [str(e.get(name, "")) for e in sample]
        if (
            values
            and len(set(values)) <= max(2, len(values) // 4)
            and all(len(v.split()) <= 3 for v in values)
        ):
            return "classification"  # few distinct short answers: labels the demos make visible
        copied = sum(
            bool(v.strip()) and _within(v, " ".join(str(e.get(i, "")) for i in inputs))
            for v, e in zip(values, sample, strict=True)
        )
        if values and copied >= 0.8 * len(values):
            return "extraction"
    return "other"


def _within(value: str, text: str) -> bool:
    needle, hay = " ".join(words(value)), " " + " ".join(words(text)) + " "
    return bool(needle) and f" {needle} " in hay


def fit_warning(task: Any, models: Sequence[str]) -> str | None:
    """One sentence when offline models are asked to do a task shape they cannot do; None otherwise."""
    offline = [m for m in models if m.startswith("offline/")]
    if not offline:
        return None
    fields = task.signature.output_fields
    outputs = {
        n: f"{getattr(f, 'annotation', '')!s} {f.json_schema_extra.get('desc', '')}"
        for n, f in fields.items()
    }
    outputs = {n: t.replace("<class '", "").replace("'>", "") for n, t in outputs.items()}
    examples = [dict(e.items()) for e in task.train or task.dev]
    shape = task_shape(outputs, examples, list(task.signature.input_fields))
    if shape in SHAPES:
        return None
    return (
        f"Warning: {', '.join(offline)} can only do {' and '.join(SHAPES)} tasks (simulated models); "
        f"this task looks like neither, so expect a score near 0."
    )
