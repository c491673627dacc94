"""The event filter as a side panel of the live screen: composed once, shown and hidden with `f`.

A panel that is already composed answers the key at once; a dialog screen
would be built, styled and laid out on every press.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Label, Select, SelectionList

from dspy_tui.tui.widgets.event_log import EventFilter


class FilterPanel(Vertical):
    BINDINGS = [Binding("escape", "close", "Close", id="filter.close")]

    class Applied(Message):
        def __init__(self, event_filter: EventFilter) -> None:
            super().__init__()
            self.event_filter = event_filter

    def __init__(self, models: list[str], kinds: list[str], *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.kinds = kinds
        self.current = EventFilter()
        self.model_select: Select[str] = Select(
            [(Text(m), m) for m in models], prompt="All models", id="filter-model"
        )
        self.kind_list: SelectionList[str] = SelectionList(
            *[(k.replace("_", " "), k, True) for k in kinds], id="filter-kinds"
        )

    def compose(self) -> ComposeResult:
        yield Label("Model")
        yield self.model_select
        yield Label("Kinds (space toggles)")
        yield self.kind_list
        with Horizontal(classes="buttons"):
            yield Button("Apply", variant="primary", id="apply")
            yield Button("All", id="all")

    def open(self, current: EventFilter) -> None:
        self.current = current  # its folding and search are kept
        if current.model:
            self.model_select.value = current.model
        else:
            self.model_select.clear()
        self.kind_list.deselect_all()
        for kind in self.kinds:
            if not current.kinds or kind in current.kinds:
                self.kind_list.select(kind)
        self.display = True
        self.kind_list.focus()

    def action_close(self) -> None:
        self.display = False
        self.screen.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "all":
            chosen = replace(self.current, model=None, kinds=frozenset())
        else:
            model = self.model_select.value
            selected = frozenset(self.kind_list.selected)
            kinds = frozenset() if selected == frozenset(self.kinds) else selected
            chosen = replace(self.current, model=model if isinstance(model, str) else None, kinds=kinds)
        self.post_message(self.Applied(chosen))
        self.action_close()
