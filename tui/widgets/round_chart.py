"""The Round metrics pane: one line per model, dev score (or cost, latency, tokens) per round.

It draws anything shaped like `RoundSeries`: a live session's state, or the
rounds of several stored sessions overlaid on the compare screen. There is no
legend inside the plot (with five models it hid the lines): each model's line
has the colour of its name in the table above. Each round is a marker on its line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from dspy_tui.tui.format import model_color
from dspy_tui.tui.widgets.axis_rows import plain_labels, score_labels, whole_labels
from dspy_tui.tui.widgets.cached_plot import CachedPlot

METRICS = ("dev", "cost", "latency", "tokens")
METRIC_TITLES = {
    "dev": "dev score",
    "cost": "cost per round (USD)",
    "latency": "latency p50 per round (ms)",
    "tokens": "tokens per round",
}


class RoundSeries(Protocol):
    """What the chart needs: the round count, whether a cross-model trial follows, and one series per line."""

    @property
    def rounds(self) -> int: ...

    @property
    def cross_model(self) -> bool: ...

    @property
    def models(self) -> Iterable[str]: ...

    def series(self, model: str, metric: str) -> tuple[list[int], list[float]]: ...


class RoundChart(CachedPlot):
    """Redrawn only when a round finishes or the metric changes, never per call."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.metric = "dev"
        self.empty_title = "waiting for the first round"
        self.points_drawn = 0  # how many points the last draw plotted

    def next_metric(self) -> str:
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        return self.metric

    def draw(
        self,
        state: RoundSeries,
        colors: Callable[[int, str], int] | None = None,
        markers: Callable[[str], str] | None = None,
    ) -> None:
        """`colors(i, name)` picks a line's colour index (default: its place in the list); `markers(name)`
        its round marker (default ●: on the compare screen, one per session)."""
        plt = self.plt
        self.clear()
        last_x = state.rounds + (1 if state.cross_model else 0)
        ticks = list(range(0, last_x + 1))
        labels = ["base", *(str(r) for r in range(1, state.rounds + 1))] + (
            ["cross"] if state.cross_model else []
        )
        plt.xaxes(
            lower=True, upper=False
        )  # the pane's border frames the plot: no box inside it, one more row
        plt.yaxes(left=True, right=False)
        plt.xticks(ticks, labels)
        plt.xlim(0, max(1, last_x))
        self.points_drawn = 0
        highest = 0.0
        for i, model in enumerate(state.models):
            xs, ys = state.series(model, self.metric)
            if xs:
                self.points_drawn += len(xs)
                color = model_color(colors(i, model) if colors else i)
                plt.plot(xs, ys, marker="braille", color=color)
                marker = markers(model) if markers else "●"
                plt.scatter(xs, ys, marker=marker, color=color)  # the rounds themselves, not only the line
                highest = max(highest, *ys)
        self._metric_axis(highest)
        if not self.points_drawn:
            plt.title(self.empty_title)
        self.redrawn()

    def _metric_axis(self, highest: float) -> None:
        """Scores 0-1; other metrics from 0 (all-zero costs read 0, not -1 to 1); tokens in whole numbers."""
        if self.metric == "dev":
            self.y_axis(0, 1, score_labels)
        elif highest == 0:
            self.y_axis(0, 1, whole_labels, most=1)
        else:
            self.y_axis(0, highest * 1.1, whole_labels if self.metric == "tokens" else plain_labels)
