"""Home: the sessions in the database, newest first; start, open or resume one."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from dspy_tui.storage.paths import Paths

EMPTY_TEXT = (
    "[b]No sessions yet.[/b]\n\n"
    "Press [b]n[/b] then [b]F5[/b] to run a real DSPy optimization on three built-in offline models: "
    "no API key, no network, $0.\n"
    "Add keys for hosted models later with [b]dspy-tui keys set PROVIDER[/b]."
)
HELP = (
    "Every session stored on this machine, newest first. n sets up a new one, enter opens the selected "
    "one, r resumes a stopped or interrupted one (calls already paid for come from the cache)."
)
RESUMABLE = ("interrupted", "stopped", "failed")
STATUS_STYLES = {"completed": "green", "running": "bold", "failed": "red", "stopped": "yellow",
                 "interrupted": "yellow"}


def short_models(models: str | None) -> str:
    """"a/x, a/y, b/z" -> "a/x +2": the first model and how many more."""
    names = [m.strip() for m in (models or "").split(",") if m.strip()]
    if not names:
        return ""
    return names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "")


class HomeScreen(Screen[None]):
    BINDINGS = [
        Binding("n", "new_session", "New session", id="home.new", tooltip="Set up and start a session"),
        Binding("enter", "open_session", "Open", id="home.open", tooltip="Open the selected session"),
        Binding("r", "resume", "Resume", id="home.resume", tooltip="Resume the selected stopped session"),
        Binding("k", "keys", "Keys", id="home.keys", tooltip="API keys"),
        Binding("q", "app.quit", "Quit", id="home.quit"),
    ]
    HELP = HELP

    def __init__(self, paths: Paths) -> None:
        super().__init__()
        self.paths = paths
        self.rows: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="running-banner")
        yield Static(EMPTY_TEXT, id="empty")
        yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Name", key="name")
        table.add_column("Started", key="started")
        table.add_column("Status", key="status")
        table.add_column("Models", key="models")
        table.add_column("Best test", key="best")
        table.add_column("Cost", key="cost")
        table.display = False
        self.query_one("#empty").display = False
        self.query_one("#running-banner").display = False

    def on_screen_resume(self) -> None:
        self.load_sessions()
        self._show_banner()

    def _show_banner(self) -> None:
        banner = self.query_one("#running-banner", Static)
        runner = getattr(self.app, "runner", None)
        banner.display = runner is not None and runner.running
        if runner is not None and runner.running:
            banner.update(Text.assemble(("● ", "green"), (runner.state.name, "bold"),
                                        " is running: select it and press enter to watch it."))

    @work(thread=True, exclusive=True, group="home-load")
    def load_sessions(self) -> None:
        """Read off the UI thread; SQLite may be busy with a running session."""
        from dspy_tui.storage.sessions import SessionStore

        try:
            store = SessionStore(self.paths.db_path)
            try:
                rows = store.list_sessions()
            finally:
                store.close()
        except Exception as exc:  # noqa: BLE001 - a broken database is one sentence on screen
            self.app.call_from_thread(self.notify, f"Cannot read the sessions: {exc}", severity="error")
            return
        self.app.call_from_thread(self._show_sessions, rows)

    def _show_sessions(self, rows: list[dict[str, Any]]) -> None:
        table = self.query_one(DataTable)
        runner = getattr(self.app, "runner", None)
        selected = runner.session_id if runner is not None else self.selected_id()  # the session run here
        table.clear()
        self.rows = {r["id"]: r for r in rows}
        for r in rows:
            best = "-" if r["best_test_score"] is None else f"{r['best_test_score']:.3f}"
            started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created_at"]))
            status = Text(r["status"], style=STATUS_STYLES.get(r["status"], ""))
            table.add_row(r["name"], started, status, short_models(r["models"]), best,
                          f"${r['cost_usd']:.4f}", key=r["id"])
        table.display = bool(rows)
        self.query_one("#empty").display = not rows
        if selected in self.rows:
            table.move_cursor(row=table.get_row_index(selected))
        if rows:
            table.focus()
        self._show_banner()

    def selected_id(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        value = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(value) if value is not None else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.app.open_session(str(event.row_key.value))  # type: ignore[attr-defined]

    def action_new_session(self) -> None:
        from dspy_tui.tui.screens.new_session import NewSessionScreen

        self.app.push_screen(NewSessionScreen(self.paths))

    def action_open_session(self) -> None:
        sid = self.selected_id()
        if sid is None:
            self.notify("No session yet: press n to start one.")
            return
        self.app.open_session(sid)  # type: ignore[attr-defined]

    def action_resume(self) -> None:
        sid = self.selected_id()
        if sid is None:
            self.notify("No session to resume yet: press n to start one.")
            return
        row = self.rows[sid]
        app: Any = self.app
        if row["status"] == "completed":
            self.notify("This session is completed; enter opens its results.", severity="warning")
        elif row["status"] in RESUMABLE:
            app.resume_session(sid)
        elif app.runner is not None and app.runner.session_id == sid and app.runner.running:
            app.show_live()
        else:
            from dspy_tui.tui.screens.modals import ConfirmScreen

            def answered(yes: bool | None) -> None:
                if yes:
                    app.resume_session(sid)

            app.push_screen(ConfirmScreen(
                "This session is marked running but does not run in this window. If no other dspy-tui "
                "runs it (it was cut off), resume it?", yes="Resume", no="Cancel"), answered)

    def action_keys(self) -> None:
        self.notify("The keys screen is coming; for now use `dspy-tui keys set PROVIDER` in a terminal.")
