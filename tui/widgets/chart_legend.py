"""The compare charts' key, drawn under the plot: a legend inside a plotext plot covers its lines and dots.

One entry per model in its colour (the same colour in the table and every chart) and one per session
with its marker (the scatter's dots, the round lines' points, the table's Session column).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.widgets import Static

from dspy_tui.tui.format import model_text


class ChartLegend(Static):
    """Models by colour, then sessions by marker; wraps onto more lines rather than hiding an entry."""

    def show(self, models: Mapping[str, int], sessions: Sequence[tuple[str, str]]) -> None:
        """`models`: name -> colour index; `sessions`: (marker, name) each (a single session's is left out)."""
        text = Text()
        for name, color in models.items():
            if text:
                text.append("  ")
            text.append_text(model_text(f"━ {name}", color))
        if len(sessions) > 1:
            text.append("   ")
            text.append("  ".join(f"{marker} {name}" for marker, name in sessions), style="dim")
        self.update(text)
