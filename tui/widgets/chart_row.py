"""The Round metrics pane beside one other pane: the middle row of the live and detail screens.

One widget so both screens title the chart the same way and switch its metric alike (m); the
side pane is the screen's own (live: Cost, detail: Cross-model transfers).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Container, Horizontal
from textual.widget import Widget

from dspy_tui.tui.widgets.round_chart import METRIC_TITLES, RoundChart, RoundSeries


class ChartRow(Horizontal):
    """`#chart-pane` holding `#chart`, then `side` in a pane titled `side_title` with id `side_id`."""

    def __init__(self, side: Widget, *, side_title: str, side_id: str, id: str) -> None:  # noqa: A002
        super().__init__(id=id)
        self.chart = RoundChart(id="chart")
        self.chart_pane = Container(id="chart-pane", classes="pane")
        self.side_pane = Container(id=side_id, classes="pane")
        self.side = side
        self.side_pane.border_title = side_title
        self._title_chart()

    def compose(self) -> ComposeResult:
        with self.chart_pane:
            yield self.chart
        with self.side_pane:
            yield self.side

    def next_metric(self, state: RoundSeries) -> None:
        """Chart the next metric (dev score, cost, latency, tokens) of `state`, named in the pane's title."""
        self.chart.next_metric()
        self._title_chart()
        self.chart.draw(state)

    def _title_chart(self) -> None:
        self.chart_pane.border_title = f"Round metrics · {METRIC_TITLES[self.chart.metric]}"
