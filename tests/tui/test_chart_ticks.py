"""Each y label of a chart names the value its row holds, at the small heights the compare screen gives.

plotext puts seven ticks on the y axis whatever the height; where several fall on one row the last
drawn wins. On the compare screen at 80x24 the score chart had 3 rows labelled 1.00, 0.67, 0.17: the
0.000 scores sat on the row labelled 0.17 and the 0.7s on the one labelled 0.67 (it holds 0.5).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from textual.app import App, ComposeResult
from textual.pilot import Pilot

from dspy_tui.tui.widgets.cached_plot import CachedPlot
from dspy_tui.tui.widgets.history_charts import Point, ScoreCostChart, TrendChart
from dspy_tui.tui.widgets.round_chart import RoundChart

WIDTH = 60
ROWS = range(2, 7)  # the plot rows checked


@dataclass
class OneRound:
    """A RoundSeries of one model: `ys` at rounds 0, 1, ..."""

    ys: list[float]
    rounds: int = 1
    cross_model: bool = False
    models: Iterable[str] = ("offline/small",)

    def series(self, model: str, metric: str) -> tuple[list[int], list[float]]:
        return list(range(len(self.ys))), self.ys


class ChartApp(App[None]):
    def __init__(self, chart: CachedPlot) -> None:
        super().__init__()
        self.chart = chart

    def compose(self) -> ComposeResult:
        self.chart.styles.height = "100%"
        yield self.chart


def canvas(chart: CachedPlot) -> list[tuple[str, str]]:
    """The plot rows, bottom first: (y label, what the row draws right of the y axis)."""
    lines = chart.render().plain.splitlines()  # type: ignore[union-attr]
    bottom = next(i for i, line in enumerate(lines) if "└" in line)
    axis = lines[bottom].index("└")
    rows = []
    for line in reversed(lines[:bottom]):
        if len(line) <= axis or line[axis] not in "│┤":
            break
        rows.append((line[:axis].strip(), line[axis + 1 :]))
    return rows


def centre(row: int, rows: int, lower: float, upper: float) -> float:
    """What plotext draws on that row: floor(0.5 + (rows - 1)(v - lower)/(upper - lower)) is `row`."""
    return lower + (upper - lower) * row / (rows - 1)


async def each_height(chart: CachedPlot, draw: Callable[[float], None]) -> list[list[tuple[str, str]]]:
    """The chart's rows at every terminal height giving it 2-6 plot rows, drawn with one point at 0.5."""
    seen: dict[int, list[tuple[str, str]]] = {}
    app = ChartApp(chart)
    async with app.run_test(size=(WIDTH, 4)) as pilot:
        for height in range(4, 16):
            await pilot.resize_terminal(WIDTH, height)
            draw(0.5)
            await pilot.pause()
            rows = canvas(chart)
            if len(rows) in ROWS:
                seen[len(rows)] = rows
                await each_label_holds_its_value(chart, draw, pilot, rows)
    assert sorted(seen) == list(ROWS)
    return list(seen.values())


async def each_label_holds_its_value(
    chart: CachedPlot, draw: Callable[[float], None], pilot: Pilot[None], rows: list[tuple[str, str]]
) -> None:
    """The bottom and top rows are labelled 0.00 and 1.00, each label is its row's value and a
    point at a label's value is drawn on that label's row."""
    labelled = [(r, label) for r, (label, _) in enumerate(rows) if label]
    assert labelled[0] == (0, "0.00") and labelled[-1] == (len(rows) - 1, "1.00"), rows
    for r, label in labelled:
        assert float(label) == round(centre(r, len(rows), 0, 1), 2), (label, r, rows)
        draw(float(label))
        await pilot.pause()
        drawn_on = [i for i, (_, plot) in enumerate(canvas(chart)) if "●" in plot]
        assert drawn_on == [r], (label, drawn_on, rows)


async def test_a_score_at_0_is_drawn_on_the_row_labelled_0_on_the_score_cost_chart() -> None:
    chart = ScoreCostChart()
    await each_height(chart, lambda score: chart.draw([Point(cost_usd=0.01, score=score, color_index=0)]))


async def test_each_y_label_of_the_trend_chart_names_its_rows_score() -> None:
    chart = TrendChart()
    await each_height(chart, lambda score: chart.draw({"offline/small": [(1_767_000_000.0, score)]}))


async def test_each_y_label_of_the_round_chart_names_its_rows_dev_score() -> None:
    chart = RoundChart()
    await each_height(chart, lambda score: chart.draw(OneRound([score])))


async def test_the_round_charts_cost_axis_labels_name_their_rows_costs() -> None:
    chart = RoundChart()
    chart.metric = "cost"
    app = ChartApp(chart)
    async with app.run_test(size=(WIDTH, 4)) as pilot:
        for height in range(4, 11):
            await pilot.resize_terminal(WIDTH, height)
            chart.draw(OneRound([0.0, 0.02]))
            await pilot.pause()
            rows = canvas(chart)
            labelled = [(r, label) for r, (label, _) in enumerate(rows) if label]
            if len(rows) < 2:
                continue
            assert labelled[0][0] == 0 and float(labelled[0][1]) == 0, rows
            assert labelled[-1][0] == len(rows) - 1, rows
            for r, label in labelled:
                decimals = len(label.partition(".")[2])
                assert float(label) == round(centre(r, len(rows), 0, 0.02 * 1.1), decimals), (label, rows)
