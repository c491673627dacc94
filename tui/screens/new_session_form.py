"""The New-session form <-> a session config: the fields read into the config's dict, a loaded
config shown in the fields, and the `dspy-tui run …` line that says the same setup.

The config's rules are the engine's (parse_config validates what is read here); this module only
says which field holds which setting.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from textual.dom import DOMNode
from textual.widgets import Checkbox, Input, Select

DEFAULT_TASK = "demo:sentiment"
DEFAULT_MODELS = ("offline/small", "offline/base", "offline/large")
FILE_TASK = "file"  # the task choice whose dataset, signature and metric are typed in


def task_options(demos: dict[str, str]) -> list[tuple[str, str]]:
    """The task choices: each demo, then a dataset file."""
    return [(name, name) for name in demos] + [("Dataset file…", FILE_TASK)]


def read_form(form: DOMNode, base: dict[str, Any], models: list[str]) -> dict[str, Any]:
    """The config as a plain dict: `base` (a loaded config's other settings) overlaid with the form."""
    data: dict[str, Any] = json.loads(json.dumps(base))
    task_choice = form.query_one("#task", Select).value
    task: dict[str, Any] = dict(data.get("task") or {})
    if task_choice == FILE_TASK:
        task["dataset"] = form.query_one("#dataset", Input).value.strip()
        task["signature"] = form.query_one("#signature", Input).value.strip() or None
        task["metric"] = form.query_one("#metric", Input).value.strip() or None
    else:
        task = {k: v for k, v in task.items() if k not in ("signature", "metric")}
        task["dataset"] = str(task_choice)
    data["task"] = {k: v for k, v in task.items() if v is not None}
    name = form.query_one("#name", Input).value.strip()
    data["name"] = name or str(task.get("dataset") or "session").removeprefix("demo:").rsplit("/", 1)[-1]
    loaded = {m["id"]: m for m in data.get("models", []) if isinstance(m, dict)}
    data["models"] = [loaded.get(m, m) for m in models]
    data["optimizer"] = form.query_one("#optimizer", Select).value
    for key, widget, cast in (
        ("rounds", "#rounds", int),
        ("seed", "#seed", int),
        ("budget_usd", "#budget", float),
    ):
        text = form.query_one(widget, Input).value.strip()
        if text:
            try:
                data[key] = cast(text)
            except ValueError:
                raise ValueError(f"{key.replace('_usd', '')} must be a number, got {text!r}.") from None
        else:
            data.pop(key, None)
    data["cross_model"] = form.query_one("#cross", Checkbox).value
    return data


def config_from(data: dict[str, Any]) -> Any:
    """A validated SessionConfig from the form's dict, or ValueError with one sentence."""
    from dspy_tui.engine.config import parse_config

    if not data["models"]:
        raise ValueError("Pick at least one model (space toggles the highlighted one).")
    if data["task"].get("dataset") == "":
        raise ValueError("Give the dataset file's path.")
    return parse_config(data, "this setup")  # the signature and metric are read by the engine's loader


def fill_fields(form: DOMNode, data: dict[str, Any], demos: dict[str, str]) -> None:
    """Show a loaded config's settings in the fields, all but its models (the screen's list keeps
    those). A demo task the list does not have yet is added to `demos` and to the choices."""
    task = data.get("task", {})
    dataset = str(task.get("dataset", ""))
    choice = form.query_one("#task", Select)
    if dataset.startswith("demo:"):
        if dataset not in demos:
            demos[dataset] = ""
            choice.set_options(task_options(demos))
        choice.value = dataset
    else:
        choice.value = FILE_TASK
        form.query_one("#dataset", Input).value = dataset
        form.query_one("#signature", Input).value = task.get("signature") or ""
        form.query_one("#metric", Input).value = task.get("metric") or ""  # module:function stays as written
    form.query_one("#name", Input).value = data.get("name", "")
    form.query_one("#optimizer", Select).value = data.get("optimizer", "bootstrap")
    form.query_one("#rounds", Input).value = str(data.get("rounds", 5))
    form.query_one("#seed", Input).value = str(data.get("seed", 0))
    budget = data.get("budget_usd")
    form.query_one("#budget", Input).value = "" if budget is None else str(budget)
    form.query_one("#cross", Checkbox).value = bool(data.get("cross_model", True))


def equivalent_command(data: dict[str, Any], config_path: str | None) -> str:
    """The `dspy-tui run …` that starts the same session, or `run CONFIG` when flags cannot say it all."""
    task = data.get("task") or {}
    dataset = str(task.get("dataset", ""))
    flags_say_it = (
        dataset.startswith("demo:")
        and set(task) == {"dataset"}
        and data.get("cross_model", True)
        and not (
            set(data) - {"name", "task", "models", "optimizer", "rounds", "seed", "budget_usd", "cross_model"}
        )
        and all(isinstance(m, str) for m in data.get("models", []))
    )
    if not flags_say_it:
        return f"dspy-tui run {shlex.quote(config_path or 'SESSION.toml')}  (ctrl+s writes this setup there)"
    parts = ["dspy-tui", "run", "--task", dataset, "--models", ",".join(data.get("models", []))]
    for flag, key in (
        ("--optimizer", "optimizer"),
        ("--rounds", "rounds"),
        ("--seed", "seed"),
        ("--budget", "budget_usd"),
        ("--name", "name"),
    ):
        if data.get(key) is not None:
            parts += [flag, str(data[key])]
    return " ".join(shlex.quote(p) for p in parts)
