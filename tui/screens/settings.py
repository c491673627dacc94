"""Settings: what a new session starts with, the theme, and where the data lives.

Saved to settings.toml in the config dir (ctrl+s); the theme applies and is
remembered at once. Leaving with unsaved edits asks first.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Input, Label, Select, Static

from dspy_tui.storage.paths import Paths
from dspy_tui.tui.app_api import services
from dspy_tui.tui.screens.key_table import key_table
from dspy_tui.tui.screens.modals import confirm_leaving
from dspy_tui.tui.settings import MAX_CONCURRENCY, Settings
from dspy_tui.tui.widgets.app_header import AppHeader
from dspy_tui.tui.widgets.key_footer import KeyFooter

HELP = (
    "A new session's budget and concurrency start from here (the new-session form can still change the "
    "budget). The theme applies at once. ctrl+s saves to settings.toml, where keys can also be remapped by "
    "binding id under [keymap] (? on any screen lists the ids)."
)


class SettingsScreen(Screen[None]):
    CSS_PATH = Path(__file__).parents[1] / "styles" / "settings.tcss"
    AUTO_FOCUS = "#budget"
    BINDINGS = key_table(
        "settings",
        """
        # key  | action | id   | label | flags    | tooltip
        ctrl+s | save   | save | Save  | priority | Save to settings.toml
        escape | back   | back | Back  |          | Back (asks when there are unsaved edits)
        """,
    )
    HELP = HELP

    def __init__(self, paths: Paths, settings: Settings) -> None:
        super().__init__()
        self.paths = paths
        self.saved = settings

    def compose(self) -> ComposeResult:
        s = self.saved
        yield AppHeader()
        with VerticalScroll(id="settings-form"):
            yield Label("New sessions start with", classes="section")
            with Horizontal(classes="row"):
                yield Label("Budget $", classes="label")
                yield Input(
                    "" if s.budget_usd is None else f"{s.budget_usd:g}",
                    placeholder="none",
                    type="number",
                    id="budget",
                    compact=True,
                )
                yield Label("no cap when empty", classes="note")
            with Horizontal(classes="row"):
                yield Label("Concurrency", classes="label")
                yield Input(
                    "" if s.concurrency is None else str(s.concurrency),
                    placeholder="8",
                    type="integer",
                    id="concurrency",
                    compact=True,
                )
                yield Label(f"calls in flight per session, 1-{MAX_CONCURRENCY}", classes="note")
            yield Static(id="settings-msg", classes="msg")
            yield Label("Look", classes="section")
            with Horizontal(classes="row"):
                yield Label("Theme", classes="label")
                themes = sorted(self.app.available_themes)
                yield Select(
                    [(t, t) for t in themes],
                    value=self.app.theme,
                    allow_blank=False,
                    id="theme",
                    compact=True,
                )
                yield Label("applies at once", classes="note")
            yield Label("Where your data lives", classes="section")
            yield Static(self._locations(), id="locations")
            yield Label("Keys remapped", classes="section")
            yield Static(self._keymap(), id="keymap")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "Settings"
        self.query_one("#settings-form").can_focus = False

    def _locations(self) -> Table:
        p = self.paths
        table = Table.grid(padding=(0, 2))
        table.add_column(style="dim", no_wrap=True)
        table.add_column()
        for label, path in (
            ("Database", p.db_path),
            ("Exports", p.exports_dir),
            ("Logs", p.log_dir),
            ("Settings", p.settings_path),
        ):
            table.add_row(label, str(path))
        table.add_row("", Text("DSPY_TUI_HOME moves all of these at once.", style="dim"))
        return table

    def _keymap(self) -> Text:
        if not self.saved.keymap:
            return Text(
                'None. Add lines like "live.stop" = "x" under [keymap] in the settings file; '
                "? on any screen lists the binding ids.",
                style="dim",
            )
        return Text("\n".join(f"{k} = {v}" for k, v in sorted(self.saved.keymap.items())))

    # -- editing ----------------------------------------------------------------------------
    def edited(self) -> Settings:
        """The settings as the form has them; ValueError with one sentence when a field is wrong."""
        budget_text = self.query_one("#budget", Input).value.strip()
        conc_text = self.query_one("#concurrency", Input).value.strip()
        budget: float | None = None
        concurrency: int | None = None
        if budget_text:
            try:
                budget = float(budget_text)
            except ValueError:
                raise ValueError(f"The budget must be a number of dollars, got {budget_text!r}.") from None
            if not budget > 0:
                raise ValueError("The budget must be more than $0 (leave it empty for no cap).")
        if conc_text:
            try:
                concurrency = int(conc_text)
            except ValueError:
                raise ValueError(f"Concurrency must be a whole number, got {conc_text!r}.") from None
            if not 1 <= concurrency <= MAX_CONCURRENCY:
                raise ValueError(f"Concurrency must be between 1 and {MAX_CONCURRENCY}.")
        return dataclasses.replace(services(self).settings, budget_usd=budget, concurrency=concurrency)

    @on(Input.Changed)
    def _check(self) -> None:
        try:
            self.edited()
        except ValueError as exc:
            self._message(str(exc))
        else:
            self._message("")

    @on(Select.Changed, "#theme")
    def _theme(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.app.theme:
            self.app.theme = event.value  # the app remembers it in settings.toml

    def _message(self, text: str) -> None:
        msg = self.query_one("#settings-msg", Static)
        msg.update(text)
        msg.display = bool(text)

    def action_save(self) -> None:
        try:
            settings = self.edited()
        except ValueError as exc:
            self._message(str(exc))
            self.notify(str(exc), severity="error")
            return
        services(self).update_settings(settings)
        self.saved = settings
        self.notify(f"Saved to {self.paths.settings_path}.")

    def _unsaved(self) -> bool:
        try:
            edited = self.edited()
        except ValueError:
            return True
        return (edited.budget_usd, edited.concurrency) != (self.saved.budget_usd, self.saved.concurrency)

    def action_back(self) -> None:
        if not self._unsaved():
            self.app.pop_screen()
            return
        confirm_leaving(
            self, "Leave without saving your edits to the budget and concurrency?", yes="Discard edits"
        )
