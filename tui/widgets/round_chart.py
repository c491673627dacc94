"""The Round metrics pane: one line per model, dev score (or cost, latency, tokens) per round."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from dspy_tui.tui.format import model_color
from dspy_tui.tui.live_state import LiveState

LEGEND_MIN_HEIGHT = 14
METRICS = ("dev", "cost", "latency", "tokens")
METRIC_TITLES = {
    "dev": "dev score", "cost": "cost per round (USD)", "latency": "latency p50 per round (ms)",
    "tokens": "tokens per round",
}


class RoundChart(PlotextPlot):
    """Redrawn only when a round finishes or the metric changes, never per call."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.metric = "dev"
        self._state: LiveState | None = None
        self.points_drawn = 0  # how many points the last draw plotted

    def next_metric(self) -> str:
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        return self.metric

    def on_resize(self) -> None:
        if self._state is not None:
            self.draw(self._state)

    def draw(self, state: LiveState) -> None:
        self._state = state
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        last_x = state.rounds + (1 if state.cross_model else 0)
        ticks = list(range(0, last_x + 1))
        labels = ["base", *(str(r) for r in range(1, state.rounds + 1))] + (["cross"] if state.cross_model else [])
        plt.xticks(ticks, labels)
        plt.xlim(0, max(1, last_x))
        self.points_drawn = 0
        legend = self.size.height >= LEGEND_MIN_HEIGHT  # small charts rely on the model colours instead
        for i, model in enumerate(state.models):
            xs, ys = state.series(model, self.metric)
            if xs:
                self.points_drawn += len(xs)
                plt.plot(xs, ys, label=model if legend else None, marker="braille", color=model_color(i))
        if self.metric == "dev":
            plt.ylim(0, 1)
        if not self.points_drawn:
            plt.title("waiting for the first round")
        self.refresh()
