"""The Events pane: typed events as sentences, bounded, filtered by model, kind and text.

LM calls are folded by default (the pane shows a counter line per model instead; `c` shows
each call); `/` searches the text; a cursor row and enter open an event's full JSON.

It keeps events, not rendered lines, and renders only the rows on screen
(a virtual scroll view, with a small cache of rendered rows). Holding 2,000
rendered lines instead would keep tens of thousands of small objects alive,
and the garbage collector's full passes over them stall the UI.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from dspy_tui.engine import events as ev
from dspy_tui.tui.event_text import event_line
from dspy_tui.tui.live_state import MAX_EVENTS


@dataclass(frozen=True)
class EventFilter:
    model: str | None = None  # None: every model
    kinds: frozenset[str] = field(default_factory=frozenset)  # empty: every kind
    calls: bool = False  # show each LM call (folded into per-model counters otherwise)
    text: str = ""  # only events whose line contains this (case-insensitive)

    def accepts(self, e: ev.Event) -> bool:
        if self.model is not None and e.model != self.model:
            return False
        if self.kinds and e.type not in self.kinds:
            return False
        if isinstance(e, ev.CallCompleted) and not self.calls and e.type not in self.kinds:
            return False
        if isinstance(e, ev.CostUpdated) and e.budget_usd is None and e.type not in self.kinds:
            return False  # with no budget to measure it against it repeats the cost pane, each round
        return not self.text or self.text.lower() in event_line(e).plain.lower()

    def describe(self) -> str:
        """The filters on, for the pane's title; empty when every event but the folded calls is shown."""
        parts = []
        if self.model:
            parts.append(f"model {self.model}")
        if self.kinds:
            kinds = [k.replace("_", " ") for k in sorted(self.kinds)]
            parts.append(", ".join(kinds) if len(kinds) <= 3 else f"{len(kinds)} kinds")
        if self.text:
            parts.append(f"search “{self.text}”")
        return " · ".join(parts)


class EventLog(ScrollView, can_focus=True):
    """Follows the newest event while scrolled to the end; scroll up to read back; enter opens one."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False, id="events.up"),
        Binding("down", "cursor(1)", "Down", show=False, id="events.down"),
        Binding("enter", "open", "Event JSON", id="events.open", tooltip="Show the selected event in full"),
    ]

    class Opened(Message):
        def __init__(self, event: ev.Event) -> None:
            super().__init__()
            self.event = event

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.filter = EventFilter()
        self.cursor: int | None = None  # a row index once the user moves in the log
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
        self.cursor = None
        self._resized()

    def action_cursor(self, step: int) -> None:
        if not self._items:
            return
        last = len(self._items) - 1
        self.cursor = last if self.cursor is None else max(0, min(last, self.cursor + step))
        self._following = self.cursor == last
        top, height = round(self.scroll_y), max(1, self.size.height)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)
        self.refresh()

    def action_open(self) -> None:
        if self._items:
            index = len(self._items) - 1 if self.cursor is None else self.cursor
            self.post_message(self.Opened(self._items[index][1]))

    def _resized(self) -> None:
        self.virtual_size = Size(0, len(self._items))
        if self._following:  # once the new size is laid out, show the newest line
            self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)
        self.refresh()

    def on_resize(self) -> None:
        if self._following:  # a new height (the first layout, a terminal resize) moves the end
            self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._following = new_value >= self.max_scroll_y  # scrolled up: stay put until back at the end

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._rendered.clear()

    def render_line(self, y: int) -> Strip:
        # following, the newest lines are drawn before the scroll to them (after the next layout)
        # lands: the log's first frame showed the oldest events, then jumped to the newest
        top = max(0, len(self._items) - self.size.height) if self._following else self.scroll_offset.y
        index = top + y
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
        if strip.cell_length > width > 1:  # cut: say so (enter opens the whole event)
            strip = Strip.join([strip.crop(0, width - 1), Strip([Segment("…", style)], 1)])
        strip = strip.crop_extend(0, width, style)
        if index == self.cursor and self.has_focus:
            strip = strip.apply_style(Style(reverse=True))
        return strip
