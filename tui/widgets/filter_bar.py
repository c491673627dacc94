"""Home's filter bar: text, task, model, status and a date range, read into a SessionFilter.

Mounted the first time the user presses `/`, so the home screen's first
paint does not pay for six more widgets. It tells the screen about a new
filter shortly after the last edit, never on every key press.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Button, Input, Select

from dspy_tui.tui.history import FilterError, SessionFilter, parse_day

STATUSES = ("completed", "running", "stopped", "interrupted", "failed")
DEBOUNCE_S = 0.3


class FilterBar(Horizontal):
    # fmt: off
    BINDINGS = [  # one key a line
        Binding("escape", "close", "Close", id="filter_bar.close", tooltip="Back to the list; the filter stays"),
    ]
    # fmt: on

    class Changed(Message):
        def __init__(self, session_filter: SessionFilter) -> None:
            super().__init__()
            self.session_filter = session_filter

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search name, task, model, error", id="filter-text", compact=True)
        yield Input(placeholder="task", id="filter-task", compact=True)
        yield Input(placeholder="model", id="filter-model", compact=True)
        yield Select([(s, s) for s in STATUSES], prompt="any status", id="filter-status", compact=True)
        yield Input(placeholder="from YYYY-MM-DD", id="filter-since", compact=True)
        yield Input(placeholder="to YYYY-MM-DD", id="filter-until", compact=True)
        yield Button("Clear", id="filter-clear", compact=True)

    def action_close(self) -> None:
        self.display = False
        self.screen.focus_next()  # the list

    @on(Input.Changed)
    @on(Select.Changed)
    def _edited(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_S, self.apply)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.apply()

    @on(Button.Pressed, "#filter-clear")
    def clear(self) -> None:
        for field in self.query(Input).results(Input):
            field.value = ""
        self.query_one(Select).clear()
        self.apply()

    def read(self) -> SessionFilter:
        """The filter the fields describe; FilterError with one sentence for a date it cannot read."""

        def text(selector: str) -> str:
            return self.query_one(selector, Input).value.strip()

        status = self.query_one(Select).value
        return SessionFilter(
            text=text("#filter-text"),
            task=text("#filter-task"),
            model=text("#filter-model"),
            status=status if isinstance(status, str) else "",
            since=parse_day(text("#filter-since"), "From"),
            until=parse_day(text("#filter-until"), "To", end=True),
        )

    def apply(self) -> None:
        """Tell the screen; a bad date is said at once and the list keeps its last filter."""
        try:
            flt = self.read()
        except FilterError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.post_message(self.Changed(flt))
