"""Session detail: a stored session in full, and what can be done with it.

Setup, per-model results, round curves, cross-model transfers and the event
log, read from the database in a thread worker; then the report (rendered
fresh from the database), exports, a re-run of the same setup and deleting
it (after a confirmation).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Container
from textual.widgets import Static

from dspy_tui.storage.paths import Paths
from dspy_tui.tui import format as fmt
from dspy_tui.tui.app_api import services
from dspy_tui.tui.history import SessionDetail, config_summary
from dspy_tui.tui.live_state import LOGGED_TYPES
from dspy_tui.tui.runner import one_sentence, service_for
from dspy_tui.tui.screens.delete_session import delete_session
from dspy_tui.tui.screens.export_program import export_program
from dspy_tui.tui.screens.key_table import key_table
from dspy_tui.tui.screens.modals import ConfirmScreen, PickScreen, ReportScreen
from dspy_tui.tui.screens.read_first import ReadFirstScreen
from dspy_tui.tui.widgets.app_header import AppHeader
from dspy_tui.tui.widgets.chart_row import ChartRow
from dspy_tui.tui.widgets.events_pane import EventsPane
from dspy_tui.tui.widgets.filter_panel import FilterPanel
from dspy_tui.tui.widgets.key_footer import KeyFooter
from dspy_tui.tui.widgets.results_table import ResultsTable

STYLES = Path(__file__).parents[1] / "styles"
ALL_FORMATS = "md, json and html"
HELP = (
    "A stored session: its setup, each model's results (test score with its 95% confidence interval, cost, "
    "cost per correct answer, latency), the dev score per round, what the cross-model step changed, and "
    "its events. r opens the report, x writes it to files, e writes a model's program, F5 runs the same "
    "setup again as a new session, d deletes the session (after asking)."
)


class DetailScreen(ReadFirstScreen):
    CSS_PATH = STYLES / "detail.tcss"  # parsed when the screen is first shown
    AUTO_FOCUS = "#results"
    BINDINGS = key_table(
        "detail",
        """
        # key  | action         | id            | label   | flags  | tooltip
        r      | report         | report        | Report  |        | Open the report, rendered from the database
        x      | export_report  | export_report | Export  |        | Write the report as Markdown, JSON or HTML
        e      | export_program | export        | Program |        | Write a model's optimized program as DSPy JSON
        t      | metrics        | metrics       | Metrics |        | All 14 metrics of every model, with the reason where one cannot be computed
        f5     | rerun          | rerun         | Re-run  |        | Run the same setup again as a new session
        d      | delete         | delete        | Delete  |        | Delete this session (asks first)
        session calls hidden
        session search
        session metric hidden
        session filter hidden
        escape | back           | back          | Back    | hidden | Back to the sessions
        """,
    )
    HELP = HELP

    def __init__(self, paths: Paths, session_id: str) -> None:
        super().__init__()
        self.paths = paths
        self.session_id = session_id
        self.detail: SessionDetail | None = None
        self.status_line = Static("Loading the session…", id="detail-status")
        self.setup = Static(id="setup")
        self.results = ResultsTable(id="results")
        self.transfers = Static(id="transfers")
        self.chart_row = ChartRow(
            self.transfers, side_title="Cross-model transfers", side_id="transfers-pane", id="detail-middle"
        )
        self.chart = self.chart_row.chart
        self.chart.empty_title = "no rounds recorded"
        self.events_pane = EventsPane(id="events-pane")
        self.log_view = self.events_pane.log_view
        self.filter_panel: FilterPanel | None = None

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield self.status_line
        yield self.setup
        with Container(id="results-pane", classes="pane") as pane:
            pane.border_title = "Results"
            yield self.results
        yield self.chart_row
        yield self.events_pane
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = self.session_id

    # -- reading (a thread worker: screens/read_first.py) ------------------------------
    def read(self) -> SessionDetail:
        from dspy_tui.tui.history import load_detail

        return load_detail(self.paths, self.session_id)

    def read_failed(self, message: str) -> None:
        self.status_line.update(Text(message, style="red"))
        self.notify(message, severity="error")

    def show_read(self, detail: SessionDetail) -> None:
        self.detail = detail
        session, state = detail.session, detail.state
        self.sub_title = session.name
        order = list(state.models)
        self.results.show(detail.models, detail.price_labels, order)
        self.chart.draw(state)
        self.events_pane.show(state)
        self.transfers.update(self._transfers_text(detail, order))
        self._show_status()
        setup = Text()
        for label, value in config_summary(detail.config):
            if setup:
                setup.append("  ·  ", style="dim")
            setup.append(f"{label} ", style="dim")
            setup.append(value)
        self.setup.update(setup)
        self.refresh_bindings()

    def _show_status(self) -> None:
        assert self.detail is not None
        session, state = self.detail.session, self.detail.state
        line = Text(" ")
        line.append(session.name, style="bold")
        line.append("  ")
        line.append(fmt.status_text(session.status))
        line.append(f"  {fmt.day_time(session.created_at)}", style="dim")
        elapsed = state.elapsed(session.updated_at)
        if elapsed is not None:
            line.append(f"  ran {fmt.duration(elapsed)}", style="dim")
        line.append(f"  id {session.id}", style="dim")
        if session.error:
            line.append(f"  {session.error}", style="red")
        self.status_line.update(line)

    @staticmethod
    def _transfers_text(detail: SessionDetail, order: list[str]) -> Text | Group:
        """A model's transfer in three lines, each cut with `…` when the pane is narrower: a long id was
        broken mid-word onto the next line (`anthropic/claude-3-5-hai` / `ku-20241022  not kept`)."""
        lines = []
        index = {m: i for i, m in enumerate(order)}
        for m in detail.models:
            t = m.transfer
            if not t:
                continue
            gain = (t.get("after") or 0.0) - (t.get("before") or 0.0)
            kept = t.get("kept")
            verdict = Text.assemble(
                "  ",
                ("kept" if kept else "not kept", "bold" if kept else "dim"),
                (f" ← {t.get('source_model', '?')}", "dim"),
            )
            scores = Text(f"  {fmt.score(t.get('before'))} → {fmt.score(t.get('after'))} ")
            scores.append(fmt.delta(gain), style="green" if gain > 0 else "dim")
            lines += [fmt.model_text(m.model, index.get(m.model, 0)), verdict, scores]
        for line in lines:
            line.no_wrap, line.overflow = True, "ellipsis"
        if lines:
            return Group(*lines)
        cross = detail.config.get("cross_model", True) and len(detail.models) > 1
        return Text("No transfer was tried." if cross else "Cross-model learning was off.", style="dim")

    # -- actions ---------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Everything but going back waits for the session to be read."""
        if action in ("back",):
            return True
        detail = self.detail or self.read_ahead
        if detail is None:
            return None  # shown, greyed out
        if action == "export_program":
            return bool(detail.programs) or None
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_calls(self) -> None:
        self.events_pane.toggle_calls()

    def action_search(self) -> None:
        self.events_pane.open_search()

    def action_metric(self) -> None:
        if self.detail is None:
            return
        self.chart_row.next_metric(self.detail.state)

    async def action_filter(self) -> None:
        if self.detail is None:
            return
        panel = self.filter_panel
        if panel is None:  # built on the first `f`: most opens of a session never filter its events
            panel = self.filter_panel = FilterPanel(
                list(self.detail.state.models), list(LOGGED_TYPES), id="filter-panel"
            )
            await self.mount(panel)
        if panel.display:
            panel.action_close()
        else:
            panel.open(self.log_view.filter)

    def on_filter_panel_applied(self, message: FilterPanel.Applied) -> None:
        if self.detail is not None:
            self.events_pane.show(self.detail.state, message.event_filter)
            self._show_status()

    def action_metrics(self) -> None:
        self._show_metrics()

    @work(thread=True, group="detail-metrics", exclusive=True)
    def _show_metrics(self) -> None:
        """The metrics and the report's Cost section, read from the database off the UI thread."""
        assert self.detail is not None
        try:
            costs = service_for(self.paths).render_report(self.session_id, "cost")
        except Exception as exc:  # noqa: BLE001 - the metrics still show, the cost table says why not
            costs = f"The cost table could not be read: {one_sentence(exc)}\n"
        markdown = metrics_markdown(self.detail, costs)
        screen = ReportScreen(f"{self.detail.session.name} · metrics and cost", markdown)
        self.app.call_from_thread(self.app.push_screen, screen)

    def action_report(self) -> None:
        self.notify("Rendering the report…", timeout=2)
        self._render_report()

    @work(thread=True, group="detail-report", exclusive=True)
    def _render_report(self) -> None:
        try:
            markdown = service_for(self.paths).render_report(self.session_id, "md")
        except Exception as exc:  # noqa: BLE001 - one sentence
            self.app.call_from_thread(self.notify, one_sentence(exc), severity="error")
            return
        name = self.detail.session.name if self.detail else self.session_id
        self.app.call_from_thread(self.app.push_screen, ReportScreen(name, markdown))

    def action_export_report(self) -> None:
        self.app.push_screen(
            PickScreen("Write the report as", [ALL_FORMATS, "md", "json", "html"]), self._export_report
        )

    def _export_report(self, choice: str | None) -> None:
        if choice:
            self._write_reports(("md", "json", "html") if choice == ALL_FORMATS else (choice,))

    @work(thread=True, group="detail-export")
    def _write_reports(self, formats: tuple[str, ...]) -> None:
        try:
            written = service_for(self.paths).write_reports(self.session_id, formats)
        except Exception as exc:  # noqa: BLE001 - I/O and export errors read as one sentence
            self.app.call_from_thread(self.notify, one_sentence(exc), severity="error")
            return
        self.app.call_from_thread(
            self.notify, "Wrote " + ", ".join(str(p) for p in written.values()) + ".", timeout=8
        )

    def action_export_program(self) -> None:
        if self.detail is not None:
            export_program(
                self, self.paths, self.session_id, list(self.detail.programs), self.results.selected_model()
            )

    def action_rerun(self) -> None:
        if self.detail is None:
            return
        config = self.detail.config
        budget = config.get("budget_usd")
        models = [m["id"] if isinstance(m, dict) else str(m) for m in config.get("models", [])]
        question = (
            f"Run {self.detail.session.name} again as a new session: {len(models)} model(s), "
            f"{config.get('rounds', 5)} rounds, budget {'none' if budget is None else fmt.money(budget)}? "
            "This session stays as it is."
        )
        self.app.push_screen(ConfirmScreen(question, yes="Run again", no="Cancel"), self._rerun_answer)

    def _rerun_answer(self, yes: bool | None) -> None:
        if yes and self.detail is not None:
            services(self).start_new(self.detail.config)

    def action_delete(self) -> None:
        if self.detail is not None:
            session = self.detail.session
            delete_session(self, self.paths, self.session_id, session.name, session.status, self._deleted)

    def _deleted(self) -> None:
        if self.is_current:
            self.app.pop_screen()


def metrics_markdown(detail: SessionDetail, costs: str = "") -> str:
    """The 14 metrics as one table, a column per model: the same rows the report and
    `sessions show` print (engine.metrics.metric_rows), so every front end agrees; then `costs`,
    the report's own Cost section (each phase's spend, one-off, cost per correct, price source)."""
    from dspy_tui.engine.metrics import metric_rows  # not at import: the home screen starts without it

    models = detail.models
    columns = [[text for _, text in metric_rows(m.stored.metrics)] for m in models]
    labels = [label for label, _ in metric_rows(None)]

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| metric | " + " | ".join(cell(m.model) for m in models) + " |", "|---|" + "---|" * len(models)]
    for row, label in enumerate(labels):
        lines.append(f"| {label} | " + " | ".join(cell(col[row]) for col in columns) + " |")
    return "\n".join(lines) + "\n" + (f"\n## Cost by phase\n\n{costs}" if costs else "")
