"""A plotext chart built once per drawing and size, not on every render.

Textual renders a widget again on each layout pass that touches it (its pane resized to the same
size, a scrollbar appearing next to it, the footer filling in), and plotext builds the whole
figure each time: 10-20 ms of pure Python per render, rendered five times on opening Detail. The
built figure is kept until the chart is drawn again, its size changes or the theme does.
The y ticks are chosen then too: which values land on which row depends on the height.
"""

from __future__ import annotations

from typing import Any

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from dspy_tui.tui.widgets.axis_rows import MOST_LABELS, Labeller, canvas_rows, plain_labels, row_ticks


class CachedPlot(PlotextPlot):
    _drawn = 0  # bumped by each drawing: what the kept figure was built from
    _built: tuple[tuple[Any, ...], RenderResult] | None = None
    _y_axis: tuple[float, float, Labeller, int] | None = None  # the y range its ticks are set from

    def clear(self) -> None:
        """Start a drawing: no data, no settings (a subclass's `draw` sets its own)."""
        self.plt.clear_data()
        self.plt.clear_figure()
        self._y_axis = None

    def y_axis(
        self, lower: float, upper: float, labels: Labeller = plain_labels, most: int = MOST_LABELS
    ) -> None:
        """Show lower..upper on the y axis, `most` ticks at most, each on a row that holds its value."""
        self.plt.ylim(lower, upper)
        self._y_axis = (lower, upper, labels, most)

    def redrawn(self) -> None:
        """The chart's data or axes changed (a subclass's `draw`): build it again on the next render."""
        self._drawn += 1
        self.refresh()

    def render(self) -> RenderResult:
        key = (self.size, self._drawn, self.app.theme, self.theme)
        if self._built is None or self._built[0] != key:
            if self._y_axis is not None:
                lower, upper, labels, most = self._y_axis
                ticks = row_ticks(lower, upper, canvas_rows(self.plt.monitor, self.size.height), most)
                self.plt.yticks(ticks, labels(ticks))
            self._built = (key, super().render())
        return self._built[1]
