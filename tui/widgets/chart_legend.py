"""The compare charts' key, drawn under the plot: a legend inside a plotext plot covers its lines and dots.

One entry per model in its colour (the same colour in the table and every chart) and one per session
with its marker (the scatter's dots, the round lines' points, the table's Session column).

On a short screen (the app's "-short" breakpoint) the key has one line: at 80x24 the full key of
eight models took three and left the score chart three plot rows (a fourth, the last session's
name, was cut). What does not fit is read in the table: each row is a dot of the chart, its Session
column starts with the session's marker and its Model column is written in the model's colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from dspy_tui.tui.format import model_text

TALL_LINES = 3  # what the full key may take when the screen is tall


class ChartLegend(Widget):
    """Models by colour, then sessions by marker, in the lines the screen leaves it; never cut: what
    does not fit is named as read in the table."""

    DEFAULT_CSS = "ChartLegend { height: auto; }"

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.models: Mapping[str, int] = {}
        self.sessions: Sequence[tuple[str, str]] = ()

    def show(self, models: Mapping[str, int], sessions: Sequence[tuple[str, str]]) -> None:
        """`models`: name -> colour index; `sessions`: (marker, name) each (a single session's is left out)."""
        self.models, self.sessions = models, sessions
        self.refresh(layout=True)

    def key(self, width: int) -> Text:
        """The whole key if it fits the lines the screen leaves it; else the sessions by marker and a
        pointer to the table for the colours; else the markers, pointing to the table for both."""
        lines = 1 if self.screen.has_class("-short") else TALL_LINES
        pointer = Text(f"{len(self.models)} models: colours as in the table", style="dim")
        models = [model_text(f"━ {name}", color) for name, color in self.models.items()]
        for key in (self._entries(models, width), self._entries([pointer], width)):
            if width <= 0 or len(key.wrap(self.app.console, width)) <= lines:
                return key
        if len(self.sessions) < 2:
            return Text("colours as in the table's Model column", style="dim")
        markers = " ".join(marker for marker, _ in self.sessions)
        return Text(f"{markers} and colours as in the table's Session and Model columns", style="dim")

    def _entries(self, models: list[Text], width: int) -> Text:
        """The models' entries then the sessions', each kept whole on a line ("━" with its model's name)."""
        entries = list(models)
        if len(self.sessions) > 1:
            entries += [Text(f"{marker} {name}", style="dim") for marker, name in self.sessions]
        text = Text()
        column = 0
        for entry in entries:
            if column and column + 2 + entry.cell_len > width > 0:
                text.append("\n")
                column = 0
            elif column:
                text.append("  ")
                column += 2
            text.append_text(entry)
            column += entry.cell_len
        return text

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.key(width).wrap(self.app.console, width)) if self.models or self.sessions else 0

    def render(self) -> Text:
        return self.key(self.size.width)
