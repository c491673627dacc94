"""The New-session form's live messages: what is wrong with a field, said under it before F5.

Each check is the engine's own (the config's validator, DSPy's signature parser, the metric
catalogue), worded as one sentence; the screen decides when to run them and where they show.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static


def message_lines(*names: str) -> ComposeResult:
    """The (at first empty) lines where the form says what is wrong with the fields above, NAME-msg."""
    for name in names:
        yield Static(id=f"{name}-msg", classes="msg")


def update_text(widget: Static, text: str) -> None:
    """Show `text` unless it is shown already: each update lays the whole form out again."""
    if str(widget.content) != text:
        widget.update(Text(text))


def model_problem(model: str) -> str | None:
    """The engine's own check of a model id (the config's validator), as one sentence."""
    from pydantic import ValidationError

    from dspy_tui.engine.config import ModelConfig

    try:
        ModelConfig.model_validate({"id": model})
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"]).removeprefix("Value error, ") + "."
    return None


def fields_problem(signature: str, metric: str) -> str:
    """The signature and metric as the engine reads them (DSPy's parser, the metric catalogue, imports):
    one sentence, or "" when both read. Slow (imports DSPy and the metric): run it in a worker."""
    from dspy_tui.engine.scorers import make_metric
    from dspy_tui.engine.tasks import TaskError, make_signature

    try:
        if not signature.strip():
            raise TaskError("a dataset file needs a signature, e.g. question -> answer")
        sig = make_signature(signature)
        if metric.strip() and metric.strip() != "llm_judge":  # the judge model is chosen with the session
            make_metric(metric.strip(), signature=sig)
    except TaskError as exc:
        problem = str(exc)
        return problem[:1].upper() + problem[1:] + ("" if problem.endswith(".") else ".")
    return ""


def missing_keys(catalog: list[dict[str, Any]], models: list[str]) -> str:
    """Name the chosen models whose provider has no key, before F5 finds out ("" when none)."""
    status = {r["model"]: r for r in catalog}
    provider_missing = {r["provider"] for r in catalog if r.get("key") == "missing"}
    missing = [
        m
        for m in models
        if (status[m].get("key") == "missing" if m in status else m.partition("/")[0] in provider_missing)
    ]
    if not missing:
        return ""
    providers = sorted({m.partition("/")[0] for m in missing})
    return (
        f"No API key for {', '.join(providers)} ({', '.join(missing)}): press k to "
        "add one, or unselect the model."
    )
