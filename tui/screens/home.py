"""Home: the sessions in the database, newest first; filter them, open, resume, compare.

The list (and its filter) is read in a thread worker; SQLite may be busy with
a running session and the database may hold thousands of sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static

from dspy_tui.storage.paths import Paths
from dspy_tui.tui import format as fmt
from dspy_tui.tui.app_api import services
from dspy_tui.tui.screens.key_table import key_table
from dspy_tui.tui.screens.styled_once import StyledOnceScreen
from dspy_tui.tui.widgets.app_header import AppHeader
from dspy_tui.tui.widgets.key_footer import KeyFooter
from dspy_tui.tui.widgets.table import Col, FitTable

if TYPE_CHECKING:
    from dspy_tui.engine.service import SessionRow

EMPTY_TEXT = (
    "[b]No sessions yet.[/b]\n\n"
    "Press [b]n[/b] then [b]F5[/b] to run a real DSPy optimization on three built-in offline models: "
    "no API key, no network, $0.\n"
    "Add keys for hosted models later with [b]k[/b] (or [b]dspy-tui keys set PROVIDER[/b])."
)
NO_MATCH_TEXT = (
    "No session matches the filter. [b]/[/b] edits it; Clear in the filter bar shows every session."
)
HELP = (
    "Every session stored on this machine, newest first. n sets up a new one, enter opens the selected "
    "one, r resumes a stopped or interrupted one (calls already paid for come from the cache). Space marks "
    "sessions and c compares the marked ones; / filters by text, task, model, status and dates."
)
RESUMABLE = ("interrupted", "stopped", "failed", "completed")  # completed: a seed's run goes on
STATUS_STYLES = {
    "completed": "green",
    "running": "bold",
    "failed": "red",
    "stopped": "yellow",
    "interrupted": "yellow",
}
MARK = "●"
MARK_STYLE = "bold cyan"
COLUMNS = (  # at 80 columns Task, then Models, then the id give way
    Col("mark", " "),
    Col("name", "Name", most=30, least=12),
    Col("id", "ID", drop=2),
    Col("started", "Started"),
    Col("status", "Status"),
    Col("models", "Models", drop=3, most=28, least=14),
    Col("best", "Best test"),
    Col("cost", "Cost"),
    Col("task", "Task", drop=4, most=22),
)
COLUMN_LABELS = {c.key: c.label for c in COLUMNS}
SORTS: tuple[tuple[str, Callable[[SessionRow], Any], bool], ...] = (  # (column, sort value, largest first)
    ("started", lambda r: r.created_at, True),
    ("name", lambda r: r.name.lower(), False),
    ("status", lambda r: r.status, False),
    ("best", lambda r: r.best_test_score, True),
    ("cost", lambda r: r.cost_usd, True),
)
LIST_LIMIT = 2000  # rows shown at once; the filter narrows the rest
# keys over the listed sessions: hidden while the list is known to be empty (they would do nothing)
NEEDS_A_SESSION = frozenset({"open_session", "resume", "mark", "mark_all", "compare", "delete", "sort"})


def short_models(models: str | None) -> str:
    """ "a/x, a/y, b/z" -> "a/x +2": the first model and how many more."""
    names = [m.strip() for m in (models or "").split(",") if m.strip()]
    if not names:
        return ""
    return names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "")


class SessionsTable(FitTable):
    """The list; its enter is named in the footer (a DataTable's own enter binding is hidden)."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Open", id="home.open_row", tooltip="Open the selected session")
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "select_cursor":  # it is focused while the list is empty, too: the screen's Open decides
            return self.screen.check_action("open_session", parameters)
        return True


class HomeScreen(StyledOnceScreen[None]):
    # Most important first: at 80 columns the footer keeps the first
    BINDINGS = key_table(
        "home",
        """
        # key | action          | id       | label       | flags  | tooltip
        n     | app.new_session | new      | New session |        | Set up and start a session
        enter | open_session    | open     | Open        |        | Open the selected session
        r     | resume          | resume   | Resume      |        | Resume the selected stopped session
        space | mark            | mark     | Mark        |        | Mark the session to compare it
        c     | compare         | compare  | Compare     |        | Compare the marked sessions
        l     | live            | live     | Live        |        | Back to the session running here
        slash | filter          | filter   | Filter      |        | Filter by text, task, model, status, date
        d     | delete          | delete   | Delete      |        | Delete the selected session (asks first)
        q     | app.quit        | quit     | Quit        |        |
        k     | app.keys        | keys     | Keys        |        | API keys: see, set and delete them
        a     | mark_all        | mark_all | Mark all    |        | Mark every session shown (or clear the marks)
        o     | sort            | sort     | Sort        | hidden | Sort by started, name, status, best test or cost
        s     | app.settings    | settings | Settings    |        | Settings: default budget, concurrency, theme
        """,
    )
    HELP = HELP
    AUTO_FOCUS = "#sessions"  # never a filter field: typing there would eat the keys

    class Listed(Message):
        def __init__(self, rows: list[SessionRow], total: int) -> None:
            super().__init__()
            self.rows, self.total = rows, total

    def __init__(self, paths: Paths) -> None:
        super().__init__()
        self.paths = paths
        self.rows: dict[str, SessionRow] = {}
        self.marked: list[str] = []  # in the order they were marked
        self._run_listed: str | None = None  # the session run here that the cursor was last put on
        self.session_filter: Any = None  # a history.SessionFilter once the user filters
        self.total = 0
        self.filter_bar: Any = None  # a FilterBar, mounted on the first `/`
        self.sort = 0  # an index into SORTS
        self._listed: list[SessionRow] = []
        self.listed_once = False  # until the first list arrives its keys are shown: most homes have sessions

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static(id="running-banner")
        yield Static(id="list-status")
        yield Static(EMPTY_TEXT, id="empty")
        yield SessionsTable(COLUMNS, id="sessions")
        yield KeyFooter(compact=True)  # ten keys: they fit in 120 columns only compact

    def on_mount(self) -> None:
        table = self.query_one(FitTable)
        table.display = False
        for widget in ("#empty", "#running-banner", "#list-status"):
            self.query_one(widget).display = False

    def on_screen_resume(self) -> None:
        # once the screen is drawn: the worker's first import (sqlite-utils) would compete with the first paint
        self.call_after_refresh(self.load_sessions)
        self._show_banner()

    def _show_banner(self) -> None:
        banner = self.query_one("#running-banner", Static)
        runner = services(self).session_run
        banner.display = runner is not None and runner.running
        if runner is not None and runner.running:
            banner.update(
                Text.assemble(
                    ("● ", "green"),
                    (runner.state.name, "bold"),
                    " is running: select it and press enter to watch it.",
                )
            )

    # -- the list (thread worker) -------------------------------------------------------
    @work(thread=True, exclusive=True, group="home-load")
    def load_sessions(self) -> None:
        """Read off the UI thread; SQLite may be busy with a running session."""
        from dspy_tui.engine.service import SessionService  # not tui.runner: it imports the engine's events

        try:
            rows, total = SessionService(self.paths).list_sessions(self.session_filter, LIST_LIMIT)
        except Exception as exc:  # noqa: BLE001 - a broken database is one sentence on screen
            self.app.call_from_thread(self.notify, f"Cannot read the sessions: {exc}", severity="error")
            return
        self.post_message(self.Listed(rows, total))

    def on_home_screen_listed(self, message: Listed) -> None:
        rows = self._listed = message.rows
        table = self.query_one(FitTable)
        runner = services(self).session_run
        selected = self.selected_id()
        run_id = runner.session_id if runner is not None else None
        if run_id != self._run_listed and any(r.id == run_id for r in rows):
            selected = self._run_listed = run_id  # a session started here since the last list: r, d act on it
        keys_before = self._list_keys()
        self.rows = {r.id: r for r in rows}
        self.total = message.total
        self.listed_once = True
        if (
            self.session_filter is None or self.session_filter.empty
        ):  # every session is listed: drop deleted marks
            self.marked = [sid for sid in self.marked if sid in self.rows or len(rows) < self.total]
        label, value, descending = SORTS[self.sort]
        known = sorted((r for r in rows if value(r) is not None), key=value, reverse=descending)
        table.set_rows(
            ((r.id, self._cells(r)) for r in known + [r for r in rows if value(r) is None]),
            labels={label: COLUMN_LABELS[label] + (" ▼" if descending else " ▲")},
        )
        filtered = self.session_filter is not None and not self.session_filter.empty
        table.display = bool(rows)
        empty = self.query_one("#empty", Static)
        empty.update(NO_MATCH_TEXT if filtered else EMPTY_TEXT)
        empty.display = not rows
        if selected in self.rows:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        if rows and (self.filter_bar is None or not self.filter_bar.display):
            table.focus()
        self._show_list_status()
        self._show_banner()
        if self._list_keys() != keys_before:
            self.refresh_bindings()  # the keys over sessions come or go (check_action)

    def _cells(self, r: SessionRow) -> dict[str, object]:
        return {
            "mark": Text(MARK, style=MARK_STYLE) if r.id in self.marked else "",
            "name": r.name,
            "id": Text(r.id, style="dim"),
            "started": fmt.day_time(r.created_at),
            "status": Text(r.status, style=STATUS_STYLES.get(r.status, "")),
            "models": short_models(r.models),
            "best": fmt.score(r.best_test_score),
            "cost": _cost(r),
            "task": r.task or "",
        }

    def _show_list_status(self) -> None:
        line = Text()
        flt = self.session_filter
        if flt is not None and not flt.empty:
            line.append("Filter ", style="dim")
            line.append(flt.describe(), style="italic")
            line.append(f"  {self.total} session(s)", style="dim")
        if len(self.rows) < self.total:
            line.append(f"  showing the newest {len(self.rows)} of {self.total}", style="yellow")
        if self.marked:
            line.append(f"  {len(self.marked)} marked", style="bold")
            line.append(
                " (c compares them)" if len(self.marked) > 1 else " (mark another to compare)", style="dim"
            )
        status = self.query_one("#list-status", Static)
        status.update(line)
        status.display = bool(line)

    def selected_id(self) -> str | None:
        return self.query_one(FitTable).cursor_key()

    # -- opening and resuming ---------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            services(self).open_session(str(event.row_key.value))

    def action_open_session(self) -> None:
        sid = self.selected_id()
        if sid is None:
            self.notify("No session yet: press n to start one.")
            return
        services(self).open_session(sid)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "live":  # only while a session runs (or ran) in this window
            return services(self).session_run is not None
        if action in NEEDS_A_SESSION:
            return self._list_keys()[0]
        if action == "filter":
            return self._list_keys()[1]
        return True

    def _list_keys(self) -> tuple[bool, bool]:
        """Whether the keys over the list apply (it lists sessions, or is not read yet), and the
        filter key (also while a filter is open or set: it may be what hides every session)."""
        listed = bool(self.rows) or not self.listed_once
        filtering = self.filter_bar is not None and (
            self.filter_bar.display or self.session_filter is not None
        )
        return listed, listed or filtering

    def action_live(self) -> None:
        services(self).show_live()

    def action_sort(self) -> None:
        self.sort = (self.sort + 1) % len(SORTS)
        self.post_message(self.Listed(self._listed, self.total))
        self.notify(f"Sorted by {COLUMN_LABELS[SORTS[self.sort][0]].lower()}.", timeout=2)

    def action_delete(self) -> None:
        from dspy_tui.tui.screens.delete_session import delete_session

        sid = self.selected_id()
        if sid is not None:
            row = self.rows[sid]
            delete_session(self, self.paths, sid, row.name, row.status, self._reload)

    def _reload(self) -> None:
        self.load_sessions()

    def action_resume(self) -> None:
        sid = self.selected_id()
        if sid is None:
            self.notify("No session to resume yet: press n to start one.")
            return
        row = self.rows[sid]
        app = services(self)
        if row.status in RESUMABLE:
            app.resume_session(sid)
        elif app.session_run is not None and app.session_run.session_id == sid and app.session_run.running:
            app.show_live()
        else:
            from dspy_tui.tui.screens.modals import ConfirmScreen

            def answered(yes: bool | None) -> None:
                if yes:
                    app.resume_session(sid)

            self.app.push_screen(
                ConfirmScreen(
                    "This session is marked running but does not run in this window. If no other dspy-tui "
                    "runs it (it was cut off), resume it?",
                    yes="Resume",
                    no="Cancel",
                ),
                answered,
            )

    # -- marking and comparing --------------------------------------------------------
    def action_mark(self) -> None:
        sid = self.selected_id()
        if sid is None:
            return
        if sid in self.marked:
            self.marked.remove(sid)
        else:
            self.marked.append(sid)
        self._show_mark(sid)
        self._show_list_status()
        table = self.query_one(DataTable)
        if table.cursor_row < table.row_count - 1:  # like a file manager: on to the next row
            table.move_cursor(row=table.cursor_row + 1, animate=False)

    def action_mark_all(self) -> None:
        shown = list(self.rows)
        self.marked = [] if all(sid in self.marked for sid in shown) else shown
        for sid in shown:
            self._show_mark(sid)
        self._show_list_status()

    def _show_mark(self, sid: str) -> None:
        self.query_one(FitTable).set_row(
            sid, {"mark": Text(MARK, style=MARK_STYLE) if sid in self.marked else ""}
        )

    def action_compare(self) -> None:
        if len(self.marked) < 2:
            self.notify(
                "Mark two or more sessions with space, then press c to compare them.", severity="warning"
            )
            return
        services(self).compare_sessions(list(self.marked))

    # -- the filter ---------------------------------------------------------------------
    def action_filter(self) -> None:
        from dspy_tui.tui.widgets.filter_bar import FilterBar

        if self.filter_bar is None:
            self.filter_bar = FilterBar(id="filter-bar")
            self.mount(self.filter_bar, before="#list-status")
        bar = self.filter_bar
        bar.display = not bar.display
        if bar.display:
            self.call_after_refresh(lambda: bar.query_one("#filter-text").focus())
        else:
            self.query_one(DataTable).focus()

    def on_input_submitted(self) -> None:
        self.query_one(DataTable).focus()  # enter in a filter field: on to the list

    def on_filter_bar_changed(self, message: Any) -> None:
        if message.session_filter != self.session_filter:
            self.session_filter = message.session_filter
            self.load_sessions()


def _cost(r: SessionRow) -> object:
    """`$0 sim` for a session of offline models only: their cost is simulated, not a price. (Home
    reads no prices, so it starts without the engine; unpriced hosted models still read `$0`.)"""
    models = [m for m in (r.models or "").split(", ") if m]
    if models and all(fmt.is_offline(m) for m in models):
        return fmt.priced_money(r.cost_usd, fmt.SIMULATED)
    return fmt.money(r.cost_usd)
