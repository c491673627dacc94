"""The Cost pane: spent against the budget, the projection, and each model's share with its price label."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
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
        rows = self._rows(state, labels)
        form, tight, compact = self._form(rows, figures, budget is not None)
        self.set_class(tight, "-tight")
        self.figures.display = not compact
        self.figures.update(figures)
        self._title(compact, spent, budget, projected, bool(unpriced))
        self.models.update(self._breakdown(rows, form))

    def _rows(self, state: LiveState, labels: dict[str, str]) -> list[tuple[Text, Text, str]]:
        """(model id, cost, price label) for each model."""
        out = []
        for i, (model, row) in enumerate(state.models.items()):
            label = "unpriced" if row.unpriced_calls else labels.get(model, "")
            cost = Text("unpriced", style="yellow") if label == "unpriced" else Text(fmt.money(row.cost_usd))
            out.append((fmt.model_text(model, i), cost, label))
        return out

    def _form(self, rows: list[tuple[Text, Text, str]], figures: Text, bar: bool) -> tuple[str, bool, bool]:
        """How the models are laid out, whether the blank lines go, whether the figures go to the border.

        `line`: id, cost and label on one line, when they fit the width; `two`: the whole id on its
        line, cost and label under it (a long id is never broken mid-word beside an empty column);
        `cut`: one line each, the id cut. The first that fits the pane's height wins, with its blank
        lines if it can; when nothing fits, the spend and the projection go to the border, so that
        every model stays in view."""
        width, height = self.size
        if width <= 0:
            return "cut", False, False
        line = max((m.cell_len for m, _, _ in rows), default=0) + max(
            (c.cell_len for _, c, _ in rows), default=0
        )
        if width >= WIDE and line + max((len(label) for _, _, label in rows), default=0) + 2 <= width:
            forms = ["line"]
        else:
            forms = ["two", "cut"] if width >= WIDE else ["cut"]
        figure_rows = sum(-(-max(1, len(text)) // width) for text in figures.plain.split("\n"))
        for form in forms:
            for tight in (False, True):
                need = figure_rows + int(bar) + (0 if tight else 1 + int(bar))
                if height <= 0 or need + len(rows) * (2 if form == "two" else 1) <= height:
                    return form, tight, False
        return forms[-1], True, True

    def _title(
        self, compact: bool, spent: float, budget: float | None, projected: float | None, unpriced: bool
    ) -> None:
        pane = self.parent
        if not isinstance(pane, Widget):
            return
        if not compact:
            pane.border_title, pane.border_subtitle = "Cost", ""
            return
        pane.border_title = f"Cost {fmt.money(spent)}" + (f" of {fmt.money(budget)}" if budget else "")
        pane.border_subtitle = "projected " + ("-" if projected is None else fmt.money(projected))
        if unpriced:
            pane.border_subtitle = pane.border_subtitle.replace("projected", "proj") + " + unpriced"

    def _breakdown(self, rows: list[tuple[Text, Text, str]], form: str) -> Table:
        table = Table.grid(padding=(0, 1), expand=True)
        if form == "two":
            table.add_column(overflow="fold")
            for model, cost, label in rows:
                table.add_row(model)
                table.add_row(Text("  ").append_text(cost).append(f"  {label}", style="dim"))
            return table
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        table.add_column(justify="right", no_wrap=True)
        if form == "line":
            table.add_column(style="dim", no_wrap=True)
        if form == "line":
            for model, cost, label in rows:
                table.add_row(model, cost, Text(label))
            return table
        shorts = [
            cost.copy().append(f" {SHORT[label]}", style="dim") if label in SHORT else cost
            for _, cost, label in rows
        ]
        longest = max((model.cell_len for model, _, _ in rows), default=0)
        if longest + 1 + max((s.cell_len for s in shorts), default=0) > self.size.width:
            # the ids would be cut for the labels: keep only `sim` (an offline $0 reads as in the detail)
            shorts = [
                cost.copy().append(" sim", style="dim") if label == fmt.SIMULATED else cost
                for _, cost, label in rows
            ]
        for (model, _, _), short in zip(rows, shorts, strict=True):
            table.add_row(model, short)
        return table


SHORT = {fmt.SIMULATED: "sim", "local": "local", "config": "config"}
