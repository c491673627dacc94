"""The New-session model list: the engine's choices, each model's key status, the search.

Pure reading and building: the screen owns the list widget and which models are chosen.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets.selection_list import Selection

MODEL_PAD = 24  # key statuses line up after model names up to this long

Choices = tuple[dict[str, str], list[dict[str, Any]], list[str]]  # demo tasks, model catalogue, metric names


def read_choices() -> Choices:
    """The demo tasks, the model catalogue (key status reads the keyring) and the metric names."""
    from dspy_tui.engine.catalog import known_models
    from dspy_tui.engine.scorers import BUILTIN_METRICS
    from dspy_tui.engine.tasks import list_demo_tasks

    demos = {
        t.name: f"{t.description} ({t.size} examples, {t.signature}, {t.metric})" for t in list_demo_tasks()
    }
    return demos, known_models(), list(BUILTIN_METRICS)


def key_label(row: dict[str, Any]) -> str:
    """How the catalogue's key status reads next to a model: offline, local, key missing, key present."""
    if row["provider"] == "offline":
        return "offline"
    if row["kind"] == "local":
        return "local"
    key = row["key"]
    if key == "missing":
        return "key missing"
    return "no key needed" if key == "not needed" else f"key present ({key})"


def model_options(
    catalog: list[dict[str, Any]], extra_models: list[str], selected: set[str], query: str
) -> tuple[list[Selection[str]], list[str]]:
    """The list's options and every model it can show, in order: the catalogue's (grouped by
    provider), each with its key status, then free-text additions. A `query` (the search) keeps
    the options whose id contains it; the order keeps them all, so hidden choices stay chosen."""
    items: list[Selection[str]] = []
    known: set[str] = set()
    order: list[str] = []
    width = min(MODEL_PAD, max([0, *(len(r["model"]) for r in catalog)]))
    for row in catalog:
        model = row["model"]
        if "<" in model:
            continue  # a placeholder (a host without a model list, a GGUF path): the user types it below
        known.add(model)
        order.append(model)
        if query and query not in model.lower():
            continue
        label = Text(model.ljust(width))
        key = key_label(row)
        label.append(f"  {key}", style="red" if key == "key missing" else "dim")
        if not row.get("priced", True):
            label.append("  unpriced", style="yellow")
        items.append(Selection(label, model, model in selected))
    extra = [m for m in dict.fromkeys([*extra_models, *selected]) if m not in known]
    order.extend(extra)
    items.extend(
        Selection(Text.assemble(m, ("  added", "dim")), m, True)
        for m in extra
        if not query or query in m.lower()
    )
    return items, order


def search_placeholder(catalog: list[dict[str, Any]]) -> str | None:
    """The add line's hint naming the catalogue's placeholders (hosts to type a model for), if any."""
    hosts = [r["model"] for r in catalog if "<" in r["model"]]
    if not hosts:
        return None
    return (
        "search, or add provider/model with enter: " + ", ".join(hosts[:3]) + ("…" if len(hosts) > 3 else "")
    )
