"""Small dialogs shared by the screens: confirm, help, model picker, budget, report."""

from __future__ import annotations

from typing import Any, TypeVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    Input,
    Label,
    OptionList,
    SelectionList,
    Static,
)

from dspy_tui.tui.widgets.app_header import AppHeader
from dspy_tui.tui.widgets.key_footer import KeyFooter

T = TypeVar("T")


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
            yield Label(Text(self.question), classes="question")
            with Horizontal(classes="buttons"):
                yield Button(Text(f"{self.yes} (y)"), variant="error", id="yes")
                yield Button(Text(f"{self.no} (n)"), variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


def confirm_leaving(screen: Screen[Any], question: str, yes: str) -> None:
    """Ask before unsaved edits are dropped: `yes` leaves the screen, "Keep editing" stays on it."""

    def answered(leave: bool | None) -> None:
        if leave:
            screen.app.pop_screen()

    screen.app.push_screen(ConfirmScreen(question, yes=yes, no="Keep editing"), answered)


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
            yield Static(
                'Remap a key in settings.toml under \\[keymap], e.g. "live.stop" = "x". Esc closes this.',
                classes="intro",
            )

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


class PickScreen(ModalScreen[str | None]):
    """One choice from a short list (a model, a format); escape picks nothing."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Cancel", id="pick.cancel")]

    def __init__(self, title: str, choices: list[str]) -> None:
        super().__init__()
        self.title_text, self.choices = title, choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog pick") as box:
            box.border_title = self.title_text
            yield OptionList(*[Text(c) for c in self.choices], id="pick-list")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[event.option_index])


class PickManyScreen(ModalScreen[list[str] | None]):
    """Several choices (space toggles, enter or OK confirms); escape keeps what was there."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Cancel", id="pick_many.cancel"),
        Binding("enter", "done", "OK", id="pick_many.ok", priority=True),
    ]

    def __init__(self, title: str, choices: list[tuple[str, str, bool]]) -> None:
        """`choices`: (value, label, selected)."""
        super().__init__()
        self.title_text, self.choices = title, choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog pick") as box:
            box.border_title = self.title_text
            yield SelectionList[str](
                *[(Text(label), value, on) for value, label, on in self.choices], id="pick-many"
            )
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_done()
        else:
            self.dismiss(None)

    def action_done(self) -> None:
        self.dismiss(list(self.query_one(SelectionList).selected))


class InputDialog(ModalScreen[T]):
    """One field with a prompt and OK/Cancel; enter or OK hands the text to `_finish`, which dismisses."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Cancel", id="input.cancel")]

    def __init__(self, title: str, prompt: str, field: Input, ok: str) -> None:
        super().__init__()
        self.title_text, self.prompt, self.field, self.ok = title, prompt, field, ok

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = self.title_text
            yield Label(Text(self.prompt), classes="question")
            yield self.field
            with Horizontal(classes="buttons"):
                yield Button(self.ok, variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._finish(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._finish(self.field.value)
        else:
            self.dismiss(None)

    def _finish(self, value: str) -> None:
        raise NotImplementedError


class SecretScreen(InputDialog[str | None]):
    """A secret typed into a masked field; the value goes to the caller only, never to a log."""

    def __init__(self, title: str, prompt: str) -> None:
        super().__init__(
            title,
            prompt,
            Input(password=True, placeholder="paste the key; it is not shown", id="secret"),
            "Save",
        )

    def _finish(self, value: str) -> None:
        if not value.strip():
            self.notify("The key is empty; type or paste it, or press escape.", severity="warning")
            return
        self.dismiss(value.strip())


class BudgetScreen(InputDialog[float | None]):
    """A larger budget for a session its budget stopped; more than it spent, or it would stop at once."""

    def __init__(self, prompt: str, spent_usd: float, suggested_usd: float) -> None:
        super().__init__(
            "Resume with a larger budget",
            prompt,
            Input(f"{suggested_usd:.2f}", placeholder="new budget in USD", type="number", id="budget"),
            "Resume",
        )
        self.spent_usd = spent_usd

    def _finish(self, value: str) -> None:
        try:
            budget = float(value)
        except ValueError:
            budget = 0.0
        if not budget > self.spent_usd:
            self.notify(
                f"Give a budget above the ${self.spent_usd:.4f} already spent, or press escape.",
                severity="warning",
            )
            return
        self.dismiss(budget)


class ReportScreen(Screen[None]):
    """A stored Markdown report, rendered; its tables fit the width (report_view.py says how)."""

    DEFAULT_CSS = """
    ReportScreen #report { padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="report.back")]

    def __init__(self, title: str, markdown: str) -> None:
        super().__init__()
        self.title_text, self.markdown = title, markdown

    def compose(self) -> ComposeResult:
        from dspy_tui.tui.widgets.report_view import PipeTable, ReportTable, report_parts

        yield AppHeader()
        with VerticalScroll(id="report", can_focus=True):
            for part in report_parts(self.markdown):
                if isinstance(part, PipeTable):
                    yield ReportTable(part)
                else:
                    yield Static(part, classes="report-prose")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = self.title_text


class EventScreen(ModalScreen[None]):
    """One event in full, as the engine published and stored it (JSON)."""

    BINDINGS = [Binding("escape,enter,q", "app.pop_screen", "Close", id="event.close")]

    def __init__(self, title: str, data: dict[str, object]) -> None:
        super().__init__()
        self.title_text, self.data = title, data

    def compose(self) -> ComposeResult:
        import json

        from rich.syntax import Syntax

        with VerticalScroll(classes="dialog help") as box:
            box.border_title = self.title_text
            yield Static(
                Syntax(
                    json.dumps(self.data, indent=2, ensure_ascii=False),
                    "json",
                    word_wrap=True,
                    background_color="default",
                )
            )
