"""A plotext chart built once per drawing and size, not on every render.

Textual renders a widget again on each layout pass that touches it (its pane resized to the same
size, a scrollbar appearing next to it, the footer filling in), and plotext builds the whole
figure each time: 10-20 ms of pure Python per render, rendered five times on opening Detail. The
built figure is kept until the chart is drawn again, its size changes or the theme does.
"""

from __future__ import annotations

from typing import Any

from textual.app import RenderResult
from textual_plotext import PlotextPlot


class CachedPlot(PlotextPlot):
    _drawn = 0  # bumped by each drawing: what the kept figure was built from
    _built: tuple[tuple[Any, ...], RenderResult] | None = None

    def redrawn(self) -> None:
        """The chart's data or axes changed (a subclass's `draw`): build it again on the next render."""
        self._drawn += 1
        self.refresh()

    def render(self) -> RenderResult:
        key = (self.size, self._drawn, self.app.theme, self.theme)
        if self._built is None or self._built[0] != key:
            self._built = (key, super().render())
        return self._built[1]
