"""The Events pane of the live and detail screens: a counter line per model, search, the log.

LM calls are many and alike; folded (the default) they read as one line of counts per model
and the log keeps the sentences worth reading. The pane's title says which filters are on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.widgets import Input, Static

from dspy_tui.engine import events as ev
from dspy_tui.tui.live_state import LiveState
from dspy_tui.tui.widgets.event_log import EventFilter, EventLog


def calls_line(state: LiveState) -> Text:
    """`offline/base 14 calls (3 cached, 1 refused)  ·  …`: what the folded call lines said."""
    line = Text()
    for row in state.models.values():
        if not (row.calls or row.cache_hits or row.refused):
            continue
        if line:
            line.append("  ·  ", style="dim")
        line.append(row.model, style="italic")
        line.append(f" {row.calls} call{'s' if row.calls != 1 else ''}")
        extra = [
            f"{n} {what}"
            for n, what in (
                (row.cache_hits, "cached"),
                (row.errors, "failed"),
                (row.refused, "refused by the budget"),
            )
            if n
        ]
        if extra:
            line.append(f" ({', '.join(extra)})", style="dim")
    return line


class EventsPane(Container):
    BINDINGS = [Binding("escape", "clear_search", "Clear search", id="events.clear_search", show=False)]

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id, classes="pane")
        self.log_view = EventLog(id="events")
        self.calls = Static(id="calls-line")
        self.search = Input(
            placeholder="search the events; enter keeps it, escape clears it",
            id="events-search",
            compact=True,
        )
        self._state: LiveState | None = None
        self._shown = 0

    def compose(self) -> ComposeResult:
        yield self.calls
        yield self.search
        yield self.log_view

    def on_mount(self) -> None:
        self.search.display = False
        self._title()

    @property
    def filter(self) -> EventFilter:
        return self.log_view.filter

    def show(self, state: LiveState, event_filter: EventFilter | None = None) -> None:
        """Every kept event of `state` again (first paint, a new filter)."""
        self._state = state
        self.log_view.reset(state.events, event_filter)
        self.refresh_counts()

    def add(self, items: Iterable[tuple[int, ev.Event]]) -> None:
        self.log_view.add(items)
        self.refresh_counts()

    def refresh_counts(self) -> None:
        line = calls_line(self._state) if self._state is not None and not self.filter.calls else Text()
        if line:
            line.append("   c shows each call", style="dim")
        self.calls.update(line)
        self.calls.display = bool(line)
        self._title()

    def _title(self) -> None:
        described = self.filter.describe()
        title = "Events"
        if described:
            title += f" · {described}"
        title += " · each call shown" if self.filter.calls else ""
        self.border_title = title
        self.border_subtitle = f"{len(self.log_view.shown)} shown" if described else ""

    def on_event_log_opened(self, message: EventLog.Opened) -> None:
        from dspy_tui.tui.screens.modals import EventScreen

        e = message.event
        title = e.type.replace("_", " ") + (f" · {e.model}" if e.model else "")
        self.app.push_screen(EventScreen(title, e.model_dump(mode="json")))

    # -- the toggles ------------------------------------------------------------------
    def toggle_calls(self) -> None:
        if self._state is not None:
            self.show(self._state, replace(self.filter, calls=not self.filter.calls))

    def open_search(self) -> None:
        self.search.display = True
        self.search.value = self.filter.text
        self.search.focus()

    @on(Input.Changed, "#events-search")
    def _searched(self, event: Input.Changed) -> None:
        event.stop()
        if self._state is not None and event.value != self.filter.text:
            self.show(self._state, replace(self.filter, text=event.value))

    @on(Input.Submitted, "#events-search")
    def _search_kept(self, event: Input.Submitted) -> None:
        event.stop()
        self.search.display = bool(event.value)
        self.log_view.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_search":
            return self.search.has_focus  # elsewhere escape is the screen's (back)
        return True

    def action_clear_search(self) -> None:
        self.search.value = ""
        self.search.display = False
        self.log_view.focus()
