"""`dspy.LM`s for tests: one call with the settings a test cares about, sorted into
the session's `CallContext` and the model's `ModelOptions` (as a Session does)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import dspy

from dspy_tui.engine.call_context import CallContext, ModelOptions, as_timeouts
from dspy_tui.engine.lm import make_lm

_CONTEXT = {f.name for f in dataclasses.fields(CallContext)}
_OPTIONS = {f.name for f in dataclasses.fields(ModelOptions)}


def lm_with(
    model: str, *, keys: Callable[[str], str | None], runtime: Any = None, **settings: Any
) -> dspy.LM:
    """`timeout`/`connect_timeout` become `timeouts`; anything unknown is a TypeError."""
    if "timeout" in settings or "connect_timeout" in settings:
        settings["timeouts"] = as_timeouts(
            settings.pop("timeout", None), settings.pop("connect_timeout", None)
        )
    unknown = set(settings) - _CONTEXT - _OPTIONS
    if unknown:
        raise TypeError(f"unknown LM settings: {sorted(unknown)}")
    context = CallContext(**{k: v for k, v in settings.items() if k in _CONTEXT})
    options = ModelOptions(**{k: v for k, v in settings.items() if k in _OPTIONS})
    return make_lm(model, keys=keys, context=context, options=options, runtime=runtime)


def evaluate_echo(lm: dspy.LM, n: int, threads: int = 8) -> Any:
    """`dspy.Evaluate` of "question -> answer" over n questions whose answer is the question,
    on `threads` threads: n calls through the call path, with no failure ending it early."""
    program = dspy.Predict("question -> answer")
    program.set_lm(lm)
    devset = [dspy.Example(question=f"q{i}", answer=f"q{i}").with_inputs("question") for i in range(n)]
    return dspy.Evaluate(
        devset=devset,
        metric=lambda g, p, t=None: g.answer == p.answer,
        num_threads=threads,
        display_progress=False,
        max_errors=n + 1,
    )(program)
