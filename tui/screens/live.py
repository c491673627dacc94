"""Live session: Models, Round metrics, Cost and Events, fed by batched engine events.

The screen never waits on the engine: a timer drains the runner's event
buffer a few times a second, folds the batch into the LiveState and touches
only the widgets whose data changed. Reports and exports are read and
written in thread workers.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Static

from dspy_tui.storage.paths import Paths
from dspy_tui.tui import format as fmt
from dspy_tui.tui.live_state import LOGGED_TYPES
from dspy_tui.tui.runner import SessionRunner, one_sentence, service_for
from dspy_tui.tui.screens.export_program import export_program
from dspy_tui.tui.screens.key_table import key_table
from dspy_tui.tui.screens.modals import ConfirmScreen, ReportScreen
from dspy_tui.tui.widgets.app_header import AppHeader
from dspy_tui.tui.widgets.benchmark import BenchmarkView
from dspy_tui.tui.widgets.chart_row import ChartRow
from dspy_tui.tui.widgets.cost_panel import CostPanel
from dspy_tui.tui.widgets.events_pane import EventsPane
from dspy_tui.tui.widgets.filter_panel import FilterPanel
from dspy_tui.tui.widgets.key_footer import KeyFooter
from dspy_tui.tui.widgets.models_table import ModelsTable
from dspy_tui.tui.widgets.providers_footer import ProvidersFooter

STYLES = Path(__file__).parents[1] / "styles"
FLUSH_INTERVAL_S = 0.25
HELP = (
    "Models: one row per model, updated as calls and rounds finish. Round metrics: dev score per round "
    "(m switches to cost, latency, tokens). Cost: spent against the budget and the projection. "
    "Events: everything that happened (f filters). Esc goes back home; the session keeps running."
)


class LiveScreen(Screen[None]):
    CSS_PATH = STYLES / "live.tcss"  # parsed when the screen is first shown, not at start-up
    AUTO_FOCUS = "#models"
    # At 80 columns the footer drops from the end (Metric first)
    BINDINGS = key_table(
        "live",
        """
        # key  | action         | id      | label   | flags | tooltip
        s      | stop           | stop    | Stop    |       | Stop the session now (it stays resumable)
        r      | report         | report  | Report  |       | Open the report (when the session is done)
        e      | export         | export  | Export  |       | Write a model's best program as DSPy JSON
        session filter
        session calls hidden
        session search
        b      | toggle_results | results | Results |       | Switch between the final benchmark and the models
        escape | back           | back    | Home    |       | Back home; the session keeps running
        q      | app.quit       | quit    | Quit    |       | Quit (asks first while the session runs)
        session metric
        """,
    )
    HELP = HELP

    def __init__(self, runner: SessionRunner, paths: Paths, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.runner = runner
        self.paths = paths
        self.clock = clock
        self.results_shown = False
        self._ticked = 0.0  # when the clock-driven cells were last redrawn
        # held, not queried: the engine worker may deliver history before the screen is composed
        models = list(runner.state.models)
        self.status_line = Static(id="live-status")
        self.providers_line = ProvidersFooter(id="providers")
        self.models_pane = Container(id="models-pane", classes="pane")
        self.switcher = ContentSwitcher(initial="models")
        self.models_table = ModelsTable(models, id="models")
        self.benchmark = BenchmarkView(models, id="benchmark")
        self.cost = CostPanel(id="cost")
        self.chart_row = ChartRow(self.cost, side_title="Cost", side_id="cost-pane", id="middle")
        self.chart = self.chart_row.chart
        self.events_pane = EventsPane(id="events-pane")
        self.log_view = self.events_pane.log_view
        self.filter_panel = FilterPanel(models, list(LOGGED_TYPES), id="filter-panel")

    # -- layout ---------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield self.status_line
        with self.models_pane, self.switcher:
            yield self.models_table
            yield self.benchmark
        yield self.providers_line
        yield self.chart_row
        yield self.events_pane
        yield self.filter_panel
        yield KeyFooter()

    def on_mount(self) -> None:
        self.models_pane.border_title = "Models"
        self.sub_title = self.runner.state.name
        self.set_interval(FLUSH_INTERVAL_S, self.flush)
        self.render_all()
        if self.runner.done.is_set():
            self.show_results()

    # -- updates ----------------------------------------------------------------
    def render_all(self) -> None:
        """Draw everything from the state (first paint, a new history, a new filter)."""
        state = self.runner.state
        state.take_changes()  # everything is drawn below
        self.models_table.labels = self.runner.price_labels
        self.models_table.sync(state, self.clock())
        self.chart.draw(state)
        self.cost.show(state, self.runner.price_labels)
        self.events_pane.show(state)
        self._show_status()
        self._show_providers()

    def flush(self) -> None:
        """Fold the buffered events into the state and touch what changed: the one place widgets update."""
        state = self.runner.state
        events = self.runner.buffer.drain()
        if events:
            state.apply(events)
        changes = state.take_changes()
        now = self.clock()
        if now - self._ticked >= 1.0:  # ETA, elapsed and "retrying in N s" move with the clock
            self._ticked = now
            self.models_table.sync(state, now)
            self._show_providers()
        elif changes.models or changes.providers:
            self.models_table.sync(state, now, changes.models)
            self._show_providers()
        if changes.chart:
            self.chart.draw(state)
        if changes.cost or changes.models:
            self.cost.show(state, self.runner.price_labels)
        if changes.new_events:
            self.events_pane.add(changes.new_events)
        elif changes.models:
            self.events_pane.refresh_counts()
        self._show_status()

    def _show_providers(self) -> None:
        """A line per hosted provider: in flight, RPM/TPM, throttled share, 429s, a pause."""
        self.providers_line.show(self.runner.state, self.clock(), 1)  # the cost pane needs the rows

    def _show_status(self) -> None:
        state = self.runner.state
        line = Text(" ")
        line.append(state.name, style="bold")
        line.append("  ")
        status = fmt.status_text(state.status)
        if state.stop_reason:  # said with the status: a second `stopped: user` repeated it
            status.append(f": {state.stop_reason}")
        line.append(status)
        if state.phase and not state.finished:
            line.append(f"  phase {state.phase.replace('_', ' ')}")
            line.append(f"  {state.progress():.0%} of steps", style="dim")
        line.append(f"  {fmt.duration(state.elapsed(self.clock()))}", style="dim")
        if state.error:
            line.append(f"  {state.error}", style="red")
        self.status_line.update(line)

    def apply_history(self, history: object, labels: dict[str, str]) -> None:
        """Called (from the engine worker, through the app) before a resumed session runs."""
        from dspy_tui.tui.live_state import LiveState

        self.runner.price_labels = labels
        if isinstance(history, LiveState):
            self.runner.state = history
        self.render_all()
        # DSPy and the task are loaded by now and live as long as the session: move them out of the
        # garbage collector's sight, or each full collection of that large heap stalls the UI for 100+ ms
        gc.freeze()

    def show_results(self) -> None:
        """The session ended: the final benchmark table and where the report and programs are."""
        self.flush()
        runner = self.runner
        exports = self.paths.exports_dir / runner.session_id
        self.benchmark.show(runner.results, runner.state.report_paths, str(exports), runner.price_labels)
        self._set_results_shown(runner.state.status == "completed")
        self.refresh_bindings()

    def _set_results_shown(self, shown: bool) -> None:
        self.results_shown = shown
        self.switcher.current = "benchmark" if shown else "models"
        self.models_pane.border_title = "Final benchmark" if shown else "Models"
        (self.benchmark.table if shown else self.models_table).focus()

    # -- actions ------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer stop while running, report and results once done (the footer follows)."""
        if action == "stop":
            return self.runner.running
        if action in ("report", "toggle_results"):
            return self.runner.done.is_set()
        return True

    def action_stop(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.runner.stop()
                self.notify("Stopping: calls in flight are cancelled; resume it later from home (r).")

        self.app.push_screen(
            ConfirmScreen(
                "Stop this session now? Everything so far is kept and it can be resumed.",
                yes="Stop",
                no="Keep running",
            ),
            answered,
        )

    def action_report(self) -> None:
        self._load_report()

    @work(thread=True, group="report", exclusive=True)
    def _load_report(self) -> None:
        try:
            markdown = service_for(self.paths).stored_report(self.runner.session_id)
        except Exception as exc:  # noqa: BLE001 - shown as one sentence
            self.app.call_from_thread(self.notify, one_sentence(exc), severity="error")
            return
        if markdown is None:
            self.app.call_from_thread(
                self.notify,
                "This session has no report: only completed sessions write one.",
                severity="warning",
            )
            return
        self.app.call_from_thread(self.app.push_screen, ReportScreen(self.runner.state.name, markdown))

    def action_export(self) -> None:
        export_program(
            self,
            self.paths,
            self.runner.session_id,
            list(self.runner.state.models),
            self.models_table.selected_model(),
        )

    def action_filter(self) -> None:
        if self.filter_panel.display:
            self.filter_panel.action_close()
        else:
            self.filter_panel.open(self.log_view.filter)

    def on_filter_panel_applied(self, message: FilterPanel.Applied) -> None:
        self.events_pane.show(self.runner.state, message.event_filter)
        self._show_status()

    def action_calls(self) -> None:
        self.events_pane.toggle_calls()

    def action_search(self) -> None:
        self.events_pane.open_search()

    def action_metric(self) -> None:
        self.chart_row.next_metric(self.runner.state)

    def action_toggle_results(self) -> None:
        self._set_results_shown(not self.results_shown)

    def action_back(self) -> None:
        self.app.pop_screen()
