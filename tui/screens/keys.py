"""Keys: every provider's API key status (keyring, environment, missing), masked; set and delete them.

Keys live in the OS keyring, never in our database or files. Every keyring
call runs in a thread worker (a keyring can be slow or ask the desktop for
an unlock), and only masked keys ever reach the screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from dspy_tui.tui.screens.key_table import key_table
from dspy_tui.tui.screens.modals import ConfirmScreen, SecretScreen
from dspy_tui.tui.widgets.app_header import AppHeader
from dspy_tui.tui.widgets.key_footer import KeyFooter
from dspy_tui.tui.widgets.table import Col, FitTable

COLUMNS = (
    Col("provider", "Provider"),
    Col("source", "Key from"),
    Col("key", "Key"),
    Col("env", "Environment variables", drop=1, least=20),
)

HELP = (
    "Each provider's key: from the OS keyring, from an environment variable, or missing. s stores a key in "
    "the keyring (typed into a masked field), d deletes the keyring's copy (after asking). A key in the "
    "environment wins only when the keyring has none."
)


@dataclass(frozen=True)
class KeyRow:
    provider: str
    source: str  # "keyring" | "env:NAME" | "missing"
    masked: str
    env: tuple[str, ...]


class KeysScreen(Screen[None]):
    AUTO_FOCUS = "#keys"
    CSS_PATH = Path(__file__).parents[1] / "styles" / "keys.tcss"
    BINDINGS = key_table(
        "keys",
        """
        # key  | action     | id     | label      | flags | tooltip
        s      | set_key    | set    | Set key    |       | Store the selected provider's key in the keyring
        d      | delete_key | delete | Delete key |       | Delete its key from the keyring
        escape | back       | back   | Back       |       | Back
        """,
    )
    HELP = HELP

    class Loaded(Message):
        def __init__(self, rows: list[KeyRow], available: bool, backend: str) -> None:
            super().__init__()
            self.rows, self.available, self.backend = rows, available, backend

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, KeyRow] = {}
        self.available: bool | None = None  # None until the keyring has been asked

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static("Asking the keyring…", id="keyring-note")
        yield FitTable(COLUMNS, id="keys")
        yield Static("Keys are never written to the database, a log or a report.", id="keys-help")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "API keys"
        self.load()

    # -- keyring (thread workers) ---------------------------------------------------------
    @work(thread=True, exclusive=True, group="keys-load")
    def load(self) -> None:
        from dspy_tui.storage import keys

        available = keys.keyring_available()
        backend = keys.keyring_backend_name()
        rows = [KeyRow(s.provider, s.source, s.masked, keys.KEY_ENV[s.provider]) for s in keys.list_keys()]
        self.post_message(self.Loaded(rows, available, backend))

    def on_keys_screen_loaded(self, message: Loaded) -> None:
        self.available = message.available
        table = self.query_one(FitTable)
        selected = self.selected_provider()
        self.rows = {r.provider: r for r in message.rows}
        rows = []
        for r in message.rows:
            if r.source == "keyring":
                source = Text("keyring", style="green")
            elif r.source.startswith("env:"):
                source = Text(f"environment ({r.source.removeprefix('env:')})", style="cyan")
            else:
                source = Text("missing", style="red")
            rows.append(
                (
                    r.provider,
                    {
                        "provider": r.provider,
                        "source": source,
                        "key": r.masked or "-",
                        "env": ", ".join(r.env),
                    },
                )
            )
        table.set_rows(rows)
        if selected in self.rows:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        note = self.query_one("#keyring-note", Static)
        note.set_class(not message.available, "-missing")
        if message.available:
            note.update(
                Text.assemble(
                    ("Keyring ", "dim"),
                    message.backend,
                    ("   s sets the selected provider's key, d deletes it.", "dim"),
                )
            )
        else:
            names = ", ".join(env[0] for env in (r.env for r in message.rows))
            note.update(
                Text.assemble(
                    ("This machine has no OS keyring backend, ", "bold"),
                    "so dspy-tui cannot store keys here (it never writes them to a plain file). Set each key as an "
                    f"environment variable in the shell that starts dspy-tui instead: {names}. "
                    "Keys found there are shown below.",
                )
            )
        self.refresh_bindings()

    def selected_provider(self) -> str | None:
        return self.query_one(FitTable).cursor_key()

    # -- actions ------------------------------------------------------------------------------
    def action_back(self) -> None:
        self.app.pop_screen()

    def _no_keyring(self, provider: str) -> bool:
        """Without a keyring backend, say where the key goes instead (the footer keys do not just do nothing)."""
        if self.available:
            return False
        env = (
            self.rows[provider].env[0]
            if provider in self.rows and self.rows[provider].env
            else "its variable"
        )
        self.notify(
            f"This machine has no OS keyring backend, so keys cannot be stored here: set {env} in the "
            "shell that starts dspy-tui.",
            severity="warning",
            timeout=8,
        )
        return True

    def action_set_key(self) -> None:
        provider = self.selected_provider()
        if provider is None or self._no_keyring(provider):
            return
        row = self.rows[provider]
        prompt = (
            f"The {provider} API key, stored in the OS keyring. It is used when no key is given "
            f"explicitly, before {', '.join(row.env)}."
        )

        def answered(value: str | None) -> None:
            if value:
                self._store(provider, value)

        def ask_for_key(replace: bool | None = True) -> None:
            if replace:
                self.app.push_screen(SecretScreen(f"Set the {provider} key", prompt), answered)

        if row.source == "keyring":  # the stored key would be gone: ask first
            self.app.push_screen(
                ConfirmScreen(
                    f"The keyring already holds the {provider} key ({row.masked}). Replace it with a new one?",
                    yes="Replace",
                    no="Keep it",
                ),
                ask_for_key,
            )
        else:
            ask_for_key()

    @work(thread=True, group="keys-write")
    def _store(self, provider: str, value: str) -> None:
        from dspy_tui.storage import keys

        try:
            keys.set_key(provider, value)
        except keys.KeyStoreError as exc:  # its message never holds the key
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        masked = keys.resolve(provider).masked
        self.app.call_from_thread(self.notify, f"Stored the {provider} key in the keyring ({masked}).")
        self.load()

    def action_delete_key(self) -> None:
        provider = self.selected_provider()
        if provider is None or self._no_keyring(provider):
            return
        row = self.rows[provider]
        if row.source != "keyring":
            where = (
                f"it comes from the environment variable {row.source.removeprefix('env:')}; unset it in "
                "your shell"
                if row.source.startswith("env:")
                else "there is none"
            )
            self.notify(f"The keyring holds no {provider} key: {where}.", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(provider)

        self.app.push_screen(
            ConfirmScreen(
                f"Delete the {provider} key ({row.masked}) from the OS keyring? Sessions with {provider} models "
                "will need it again.",
                yes="Delete",
                no="Keep it",
            ),
            answered,
        )

    @work(thread=True, group="keys-write")
    def _delete(self, provider: str) -> None:
        from dspy_tui.storage import keys

        try:
            deleted = keys.delete_key(provider)
        except keys.KeyStoreError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(
            self.notify,
            f"Deleted the {provider} key from the keyring."
            if deleted
            else f"There was no {provider} key in the keyring.",
        )
        self.load()
