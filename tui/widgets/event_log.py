"""The Events pane: typed events as lines, bounded, filtered by model and kind.

It keeps events, not rendered lines, and renders only the rows on screen
(a virtual scroll view, with a small cache of rendered rows). Holding 2,000
rendered lines instead would keep tens of thousands of small objects alive,
and the garbage collector's full passes over them stall the UI.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from dspy_tui.engine import events as ev
from dspy_tui.tui.format import event_line
from dspy_tui.tui.live_state import MAX_EVENTS


@dataclass
class EventFilter:
    model: str | None = None  # None: every model
    kinds: frozenset[str] = field(default_factory=frozenset)  # empty: every kind

    def accepts(self, e: ev.Event) -> bool:
        if self.model is not None and e.model != self.model:
            return False
        return not self.kinds or e.type in self.kinds

    def describe(self) -> str:
        parts = []
        if self.model:
            parts.append(self.model)
        if self.kinds:
            parts.append(", ".join(sorted(self.kinds)) if len(self.kinds) <= 3 else f"{len(self.kinds)} kinds")
        return " · ".join(parts)


class EventLog(ScrollView, can_focus=True):
    """Follows the newest event while scrolled to the end; scroll up to read back."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.filter = EventFilter()
        self._items: deque[tuple[int, ev.Event]] = deque(maxlen=MAX_EVENTS)
        self._rendered: LRUCache[int, Strip] = LRUCache(256)  # by event sequence number
        self._following = True

    @property
    def shown(self) -> list[ev.Event]:
        """The events the log holds under its filter, oldest first."""
        return [e for _, e in self._items]

    def add(self, items: Iterable[tuple[int, ev.Event]]) -> None:
        """Append new events that pass the filter."""
        before = len(self._items)
        self._items.extend(item for item in items if self.filter.accepts(item[1]))
        if len(self._items) != before or len(self._items) == MAX_EVENTS:
            self._resized()

    def reset(self, items: Iterable[tuple[int, ev.Event]], event_filter: EventFilter | None = None) -> None:
        """Show the kept events again, under a new filter."""
        if event_filter is not None:
            self.filter = event_filter
        self._items.clear()
        self._rendered.clear()
        self._items.extend(item for item in items if self.filter.accepts(item[1]))
        self._following = True
        self._resized()

    def _resized(self) -> None:
        self.virtual_size = Size(0, len(self._items))
        if self._following:  # once the new size is laid out, show the newest line
            self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)
        self.refresh()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._following = new_value >= self.max_scroll_y  # scrolled up: stay put until back at the end

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._rendered.clear()

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.size.width
        style = self.rich_style
        if index >= len(self._items):
            return Strip.blank(width, style)
        seq, event = self._items[index]
        strip = self._rendered.get(seq)
        if strip is None:
            text = event_line(event)
            strip = Strip(text.render(self.app.console), text.cell_len).apply_style(style)
            self._rendered[seq] = strip
        return strip.crop_extend(0, width, style)
