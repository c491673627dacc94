"""Tick boxes that read without colour: an unticked box is blank, a ticked one holds an X.

Textual's Checkbox and SelectionList draw an X in every box and tell ticked from unticked by
colour alone: in a monochrome terminal (NO_COLOR, a screen reader, `tmux capture-pane`
without -e) every model of the new-session form looked ticked.
"""

from __future__ import annotations

from typing import TypeVar

from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip
from textual.widgets import Checkbox, SelectionList
from textual.widgets.option_list import OptionDoesNotExist

T = TypeVar("T")
TICK = "X"


class TickBox(Checkbox):
    def render(self) -> Content:
        self.BUTTON_INNER = TICK if self.value else " "  # what Textual draws inside the box
        return super().render()


class TickList(SelectionList[T]):
    def render_line(self, y: int) -> Strip:
        line = super().render_line(y)
        try:
            selection = self.get_option_at_index(self.scroll_offset.y + y)
        except OptionDoesNotExist:
            return line
        segments = list(line)
        if selection.value in self._selected or len(segments) < 2 or segments[1].text != TICK:
            return line
        box = segments[1]  # Textual's line: box left side, the box's inner X, right side, the prompt
        segments[1] = Segment(" ", box.style, box.control)
        return Strip(segments, line.cell_length)
