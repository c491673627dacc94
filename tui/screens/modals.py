"""Small dialogs shared by the screens: confirm, help, model picker, report."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    Footer,
    Header,
    Label,
    MarkdownViewer,
    OptionList,
    Static,
)


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no; escape means no."""

    BINDINGS = [
        Binding("escape", "answer(False)", "Cancel", id="confirm.cancel"),
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="question")
            with Horizontal(classes="buttons"):
                yield Button(self.yes, variant="error", id="yes")
                yield Button(self.no, variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class HelpScreen(ModalScreen[None]):
    """The keys of the screen underneath, with their ids (remap them in settings.toml [keymap]).

    The app installs one and refills it on every `?`, so opening it composes nothing.
    """

    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close", id="help.close")]

    def __init__(self) -> None:
        super().__init__()
        self.box = VerticalScroll(classes="dialog help")
        self.intro = Static(classes="intro")
        self.keys = Static()

    def compose(self) -> ComposeResult:
        with self.box:
            yield self.intro
            yield self.keys
            yield Static("Remap a key in settings.toml under \\[keymap], e.g. \"live.stop\" = \"x\". "
                         "Esc closes this.", classes="intro")

    def fill(self, title: str, intro: str, keys: list[tuple[str, str, str]]) -> None:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        table.add_column(style="dim")
        for key, description, binding_id in keys:
            table.add_row(key, description, binding_id)
        self.box.border_title = title
        self.intro.update(intro)
        self.intro.display = bool(intro)
        self.keys.update(table)


class PickModelScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "Cancel", id="pick.cancel")]

    def __init__(self, title: str, models: list[str]) -> None:
        super().__init__()
        self.title_text, self.models = title, models

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog pick") as box:
            box.border_title = self.title_text
            yield OptionList(*self.models, id="pick-list")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.models[event.option_index])


class ReportScreen(Screen[None]):
    """A stored Markdown report, rendered."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="report.back")]

    def __init__(self, title: str, markdown: str) -> None:
        super().__init__()
        self.title_text, self.markdown = title, markdown

    def compose(self) -> ComposeResult:
        yield Header()
        yield MarkdownViewer(self.markdown, show_table_of_contents=False, id="report")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.title_text
