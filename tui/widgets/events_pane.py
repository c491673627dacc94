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

MAX_LINES = 2  # the counter line's max-height in app.tcss (1 on a short screen: refresh_counts reads it)
SEP = "  ·  "
HINTS = ("c shows each call", "c: each call")


def model_counts(state: LiveState) -> list[tuple[int, Text]]:
    """(calls, `offline/base 14 calls (3 cached, 1 refused)`) for each model that made calls."""
    out = []
    for row in state.models.values():
        if not (row.calls or row.cache_hits or row.refused):
            continue
        part = Text(row.model, style="italic")
        part.append(f" {row.calls} call{'s' if row.calls != 1 else ''}")
        extra = [
            f"{n} {what}"
            for n, what in (
                (row.cache_hits, "cached"),
                (row.errors, "failed"),
                (row.cancelled, "cancelled"),
                (row.refused, "refused by the budget"),
            )
            if n
        ]
        if extra:
            part.append(f" ({', '.join(extra)})", style="dim")
        out.append((row.calls, part))
    return out


def pack(parts: list[Text], hint: str, width: int, lines: int) -> Text | None:
    """`parts` with `·` between those on one line, the hint last; None when they need more lines.

    Rich would break the line inside a part and leave a `·` at a line's end; packed here, a part
    is never split and a separator only ever stands between two parts."""
    rows: list[Text] = []
    for i, part in enumerate([*parts, Text(hint, style="dim")] if hint else parts):
        gap = "   " if hint and i == len(parts) else SEP
        if rows and rows[-1].cell_len + len(gap) + part.cell_len <= width:
            rows[-1].append(gap, style="dim")
            rows[-1].append_text(part)
        elif part.cell_len <= width:
            rows.append(part.copy())
        else:
            return None
    return Text("\n").join(rows) if len(rows) <= lines else None


def calls_line(state: LiveState, width: int, lines: int = MAX_LINES) -> Text:
    """What the folded call lines said, fitted to `lines` lines of `width` cells: as many models as
    fit, the rest summed up (`+3 more, 42 calls`), and the key that unfolds them when it fits."""
    counts = model_counts(state)
    parts = [part for _, part in counts]
    if not parts or width <= 0:
        return Text(SEP).join(parts)
    tries = [(keep, hint) for hint in (*HINTS, "") for keep in range(len(parts), 0, -1)]
    for keep, hint in tries:
        shown = parts[:keep]
        rest = counts[keep:]
        if rest:
            calls = sum(n for n, _ in rest)
            shown = [*shown, Text(f"+{len(rest)} more, {calls} call{'s' if calls != 1 else ''}", style="dim")]
        packed = pack(shown, hint, width, lines)
        if packed is not None:
            return packed
    cut = parts[0].copy()
    cut.truncate(width, overflow="ellipsis")
    return cut


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

    def on_resize(self) -> None:
        self.refresh_counts()  # the counts are packed to the width

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
        folded = self._state is not None and not self.filter.calls
        most = self.calls.styles.max_height
        lines = int(most.value) if most is not None and most.is_cells else MAX_LINES
        line = (
            calls_line(self._state, self.content_size.width, lines)
            if self._state is not None and folded
            else Text()
        )
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
