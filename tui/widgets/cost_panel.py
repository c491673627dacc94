"""The Cost pane: spent against the budget, the projection, and each model's share with its price label."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static
from textual.widgets._progress_bar import Bar

from dspy_tui.tui import format as fmt
from dspy_tui.tui.live_state import LiveState

WARN_AT = 0.8
WIDE = 40  # below this many cells the price label moves next to the figure


class CostPanel(Vertical):
    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._last: tuple[LiveState, dict[str, str]] | None = None
        # held, not queried: `show` may run before this pane is composed
        self.figures = Static(id="cost-figures")
        self.bar = ProgressBar(total=1.0, show_eta=False, show_percentage=True, id="budget-bar")
        self.models = Static(id="cost-models")

    def compose(self) -> ComposeResult:
        yield self.figures
        yield self.bar
        yield self.models

    def on_resize(self) -> None:
        if self._last is not None:
            self.show(*self._last)

    def show(self, state: LiveState, labels: dict[str, str]) -> None:
        self._last = (state, labels)
        spent = state.spent_usd
        budget = state.budget_usd
        unpriced = [m for m, r in state.models.items() if r.unpriced_calls or labels.get(m) == "unpriced"]
        figures = Text()
        figures.append("Spent ", style="dim")
        figures.append(fmt.money(spent), style="bold")
        figures.append(f" of {fmt.money(budget)}" if budget else " (no budget)")
        projected = state.projected_usd()
        figures.append("\nProjected ", style="dim")
        figures.append("-" if projected is None else fmt.money(projected))
        if unpriced:
            figures.append("\n+ unpriced calls, not counted", style="yellow")
        self.figures.update(figures)
        bar = self.bar
        bar.display = budget is not None
        warn = budget is not None and (spent >= WARN_AT * budget or state.budget_warned)
        self.set_class(warn, "-warning")
        if budget:
            bar.update(total=budget, progress=min(spent, budget))
            # the inner bar rounds its fill to its width when set: set it again at this width, or
            # a fill set before the first layout stays unrounded and the same spend draws two ways
            for inner in bar.query(Bar):
                inner.percentage = bar.percentage
        self.models.update(self._breakdown(state, labels))

    def _breakdown(self, state: LiveState, labels: dict[str, str]) -> Table:
        wide = self.size.width >= WIDE
        table = Table.grid(padding=(0, 1), expand=True)
        # wide: a long id wraps, its end tells versions apart; narrow: one line each, so every model fits
        table.add_column(ratio=1, no_wrap=not wide, overflow="fold" if wide else "ellipsis")
        table.add_column(justify="right", no_wrap=True)
        if wide:
            table.add_column(style="dim", no_wrap=True)
        for i, (model, row) in enumerate(state.models.items()):
            label = "unpriced" if row.unpriced_calls else labels.get(model, "")
            if label == "unpriced":
                cost = Text("unpriced", style="yellow")
            else:
                cost = Text(fmt.money(row.cost_usd))
                if not wide and label in SHORT:
                    cost.append(f" {SHORT[label]}", style="dim")
            cells = [fmt.model_text(model, i), cost]
            if wide:
                cells.append(Text(label))
            table.add_row(*cells)
        return table


SHORT = {fmt.SIMULATED: "sim", "local": "local", "config": "config"}
