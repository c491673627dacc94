"""The New-session estimate: what a setup would cost and take, worked out off the UI thread and
drawn in the pane on the right.

Estimator keeps what is slow to read between edits (a task loads DSPy and its dataset; earlier
sessions' outputs are a query), so an edit re-estimates from memory; estimate_view draws the rows.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from dspy_tui.storage.paths import Paths
from dspy_tui.tui import format as fmt
from dspy_tui.tui.widgets.estimate_rows import EstimateRows


class Estimator:
    """The engine's estimate for one setup after another (called from a thread worker)."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self._tasks: dict[str, Any] = {}  # loaded tasks by their description
        self._recorded: dict[tuple[Any, ...], dict[str, float]] = {}  # earlier answers by task and models

    @staticmethod
    def url_warning(config: Any) -> str:
        """What is odd about the models' base URLs (e.g. openai/ at a local server), "" when nothing."""
        from dspy_tui.engine.lm import url_warnings

        return " ".join(url_warnings([(m.id, m.base_url) for m in config.models], config.base_urls))

    def task(self, config: Any) -> Any:
        """The config's task, loaded once per description (TaskError and friends when it cannot be)."""
        key = config.task.model_dump_json()
        if key not in self._tasks:
            from dspy_tui.engine.tasks import load_task

            self._tasks[key] = load_task(config.task)
        return self._tasks[key]

    def rows(self, config: Any, task: Any) -> list[Any]:
        """The estimate's rows, one per model (and judge); raises e.g. on an unknown provider."""
        from dspy_tui.engine.estimate import estimate

        return estimate(config, task, self._written(config))

    def _written(self, config: Any) -> dict[str, float]:
        """What the models wrote on this task in earlier sessions: read once per task and models."""
        from dspy_tui.engine.service import SessionService

        key = (config.task.dataset, config.task.module, tuple(config.model_ids()))
        if key not in self._recorded:
            self._recorded[key] = SessionService(self.paths).recorded_outputs(config)
        return self._recorded[key]


def budget_sentence(config: Any, rows: list[Any]) -> str | None:
    """The budget warning `dspy-tui estimate` and `run` say, capitalised as a sentence; None when none."""
    from dspy_tui.engine.estimate import budget_warning

    warning = budget_warning(config, rows)
    return warning[:1].upper() + warning[1:] if warning else None


def task_sizes(task: Any) -> tuple[int, int, int]:
    """The task's train, dev and test example counts."""
    return len(task.train), len(task.dev), len(task.test)


def estimate_view(rows: list[Any], sizes: tuple[int, int, int], warning: str | None) -> Table:
    """The pane's content: the split sizes, a row per model with its calls and cost, the total, how
    long local models take, and the budget warning."""
    table: list[tuple[Text, Text, Text]] = []
    total_calls = 0.0
    total = [0.0, 0.0]
    unpriced = False
    for r in rows:
        total_calls += r.calls.expected
        if r.cost_usd is None:
            unpriced = True
            cost = Text("unpriced", style="yellow")
        else:
            total[0] += r.cost_usd.expected
            total[1] += r.cost_usd.max
            cost = Text(f"{fmt.money(r.cost_usd.expected)}, {fmt.money(r.cost_usd.max)}")
            if r.price_label == fmt.SIMULATED:
                cost.append(" sim", style="dim")
        who = f"{r.model} (judge)" if r.role == "judge" else r.model
        table.append((Text(who), Text(f"{int(r.calls.min)}-{int(r.calls.max)}"), cost))
    table.append(
        (
            Text("total", style="bold"),
            Text(f"~{int(total_calls)}", style="bold"),
            Text(
                f"{fmt.money(total[0])}, {fmt.money(total[1])}" + (" + unpriced" if unpriced else ""),
                style="bold",
            ),
        )
    )
    train, dev, test = sizes
    head = Text(f"{train} train · {dev} dev · {test} test examples", style="dim")
    grid = Table.grid()
    grid.add_row(head)
    grid.add_row(EstimateRows(table))
    for r in rows:  # the estimator times local models only: hosted ones run in parallel, at their limits
        if r.seconds is not None:
            grid.add_row(
                Text(
                    f"{r.model}: about {fmt.duration(r.seconds.expected)} "
                    f"(up to {fmt.duration(r.seconds.max)}), one call at a time on this machine",
                    style="dim",
                )
            )
    if warning:
        grid.add_row(Text(warning, style="bold yellow"))
    return grid
