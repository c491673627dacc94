"""Home: the sessions in the database, newest first."""

from __future__ import annotations

import time
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from dspy_tui.storage.paths import Paths

EMPTY_TEXT = (
    "No sessions yet.\n"
    "Press [b]n[/b] then [b]F5[/b] to run a real optimization on the built-in offline models: "
    "no API key, no network, $0."
)


class HomeScreen(Screen[None]):
    BINDINGS = [
        Binding("n", "new_session", "New session", id="home.new"),
        Binding("enter", "open_session", "Open", id="home.open"),
        Binding("r", "resume", "Resume", id="home.resume"),
        Binding("k", "keys", "Keys", id="home.keys"),
        Binding("q", "app.quit", "Quit", id="app.quit"),
    ]

    def __init__(self, paths: Paths) -> None:
        super().__init__()
        self.paths = paths

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(EMPTY_TEXT, id="empty")
        yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Name", "Started", "Status", "Models", "Best test", "Cost")
        table.display = False
        self.load_sessions()

    @work(thread=True, exclusive=True, group="home-load")
    def load_sessions(self) -> None:
        """Read off the UI thread; SQLite may be busy with a running session."""
        from dspy_tui.storage.sessions import SessionStore

        store = SessionStore(self.paths.db_path)
        try:
            rows = store.list_sessions()
        finally:
            store.close()
        self.app.call_from_thread(self._show_sessions, rows)

    def _show_sessions(self, rows: list[dict[str, Any]]) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for r in rows:
            best = "" if r["best_test_score"] is None else f"{r['best_test_score']:.3f}"
            started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created_at"]))
            table.add_row(r["name"], started, r["status"], r["models"] or "", best,
                          f"${r['cost_usd']:.4f}", key=r["id"])
        table.display = bool(rows)
        self.query_one("#empty").display = not rows

    def action_new_session(self) -> None:
        self.notify("The new-session screen is not built yet; use `dspy-tui run` for now.")

    def action_open_session(self) -> None:
        self.notify("Session detail is not built yet.")

    def action_resume(self) -> None:
        self.notify("Resume from the app is not built yet; use `dspy-tui resume ID`.")

    def action_keys(self) -> None:
        self.notify("The keys screen is not built yet; use `dspy-tui keys`.")
