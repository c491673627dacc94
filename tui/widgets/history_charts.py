"""Charts of the compare screen: test score against cost, and each model's test score over time."""

from __future__ import annotations

import time
from dataclasses import dataclass

from dspy_tui.tui.format import model_color
from dspy_tui.tui.widgets.axis_rows import score_labels
from dspy_tui.tui.widgets.cached_plot import CachedPlot


@dataclass(frozen=True)
class Point:
    cost_usd: float
    score: float
    color_index: int
    marker: str = "●"


class ScoreCostChart(CachedPlot):
    """One dot per model and session: up is better, left is cheaper (the key is a ChartLegend under it)."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.points: list[Point] = []

    def draw(self, points: list[Point]) -> None:
        self.points = points
        plt = self.plt
        self.clear()
        for p in points:
            plt.scatter([p.cost_usd], [p.score], marker=p.marker, color=model_color(p.color_index))
        plt.xlabel("cost (USD)")
        plt.ylabel("test score")
        self.y_axis(0, 1, score_labels)
        top = max((p.cost_usd for p in points), default=0.0)
        plt.xlim(0, top * 1.1 if top > 0 else 1.0)
        if not points:
            plt.title("no model has a test score")
        elif top == 0:
            plt.title("every cost is $0 (offline or unpriced): only the score tells them apart")
        self.redrawn()


class TrendChart(CachedPlot):
    """Each model's test score by session date, for sessions of one task (the key is a ChartLegend under it)."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.lines: dict[str, list[tuple[float, float]]] = {}
        self.note = ""
        self.line_colors: dict[str, int] = {}

    def draw(
        self,
        lines: dict[str, list[tuple[float, float]]],
        note: str = "",
        colors: dict[str, int] | None = None,
    ) -> None:
        """`lines`: model -> (date, score), oldest first; `note` replaces the chart when there is no trend."""
        self.lines, self.note, self.line_colors = lines, note, colors or {}
        plt = self.plt
        self.clear()
        dates = sorted({d for points in lines.values() for d, _ in points})
        if note or not dates:
            plt.title(note or "no test scores to follow")
            self.redrawn()
            return
        position = {d: i for i, d in enumerate(dates)}
        for i, (model, points) in enumerate(lines.items()):
            xs, ys = [position[d] for d, _ in points], [s for _, s in points]
            color = model_color(self.line_colors.get(model, i))
            plt.plot(xs, ys, marker="braille", color=color)
            plt.scatter(xs, ys, marker="●", color=color)  # each session's score, not only the line
        step = max(1, len(dates) // 6)  # at most about six date labels
        shown = list(range(0, len(dates), step))
        plt.xticks(shown, [time.strftime("%m-%d %H:%M", time.localtime(dates[i])) for i in shown])
        plt.xlim(-0.2, max(1, len(dates) - 1) + 0.2)
        self.y_axis(0, 1, score_labels)
        plt.ylabel("test score")
        self.redrawn()
