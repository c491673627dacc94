"""Compare: several sessions' models side by side, their final benchmarks, and charts.

One row per model of each session: test score with its 95% CI, cost, cost
per correct answer, latency, and whether it differs significantly from the
best row tested on the same examples (paired bootstrap). Rows tested on
different examples (another task or split) are labelled not comparable.
The data comes in two steps from a thread worker: the table and charts
first, then the bootstrap verdicts and price labels.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Container, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from dspy_tui.storage.paths import Paths
from dspy_tui.tui import format as fmt
from dspy_tui.tui.history import CompareData, CompareRounds, Entry, Verdict, trend, unique_names
from dspy_tui.tui.runner import one_sentence
from dspy_tui.tui.screens.key_table import key_table
from dspy_tui.tui.screens.modals import PickManyScreen
from dspy_tui.tui.screens.read_first import ReadFirstScreen
from dspy_tui.tui.widgets.app_header import AppHeader
from dspy_tui.tui.widgets.chart_legend import ChartLegend
from dspy_tui.tui.widgets.history_charts import Point, ScoreCostChart, TrendChart
from dspy_tui.tui.widgets.key_footer import KeyFooter
from dspy_tui.tui.widgets.round_chart import METRIC_TITLES, RoundChart
from dspy_tui.tui.widgets.table import Col, FitTable

STYLES = Path(__file__).parents[1] / "styles"
CHARTS = ("scatter", "rounds", "trend")
MARKERS = ("●", "◆", "■", "▲", "★", "✚", "◉", "▼")
# the bootstraps are pure-Python CPU work: started at once, they would take half the GIL from the UI thread
# while it draws the table and charts (measured: 0.33 s to draw alone, about 0.6-1 s sharing)
JUDGE_AFTER_S = 0.25
HELP = (
    "One row per model of each marked session. Test is the score on the held-out test split with its 95% "
    "confidence interval. vs best: the gap to the best row tested on the same examples, by paired bootstrap "
    "(sig = the 95% interval of the gap excludes 0). Rows in different sets (another task or split) are not "
    "comparable. o or a click on a header sorts; p picks which models to show; v switches the chart."
)


@dataclass(frozen=True)
class Column:
    col: Col  # how it is laid out
    value: Callable[[Entry, Verdict | None], Any]  # what the column sorts by
    descending: bool = False  # the first sort on this column puts the largest first

    @property
    def key(self) -> str:
        return self.col.key


def _verdict_value(e: Entry, v: Verdict | None) -> float | None:
    return v.diff if v is not None else (0.0 if e.group and e.result.test is not None else None)


COLUMNS = (  # at 80 columns: session, model, test, vs best and cost stay
    Column(Col("session", "Session", most=24, least=10), lambda e, v: e.session_name.lower()),
    Column(Col("model", "Model", most=40, least=14), lambda e, v: e.result.model),
    Column(Col("set", "Set", drop=6), lambda e, v: e.group or "~"),
    Column(Col("test", "Test"), lambda e, v: e.result.test, descending=True),
    Column(
        Col("ci", "95% CI", drop=5), lambda e, v: e.result.ci[0] if e.result.ci else None, descending=True
    ),
    Column(Col("verdict", "vs best"), _verdict_value, descending=True),
    Column(Col("cost", "Cost"), lambda e, v: e.result.cost_usd),
    Column(Col("per_correct", "$/correct", drop=3), lambda e, v: e.result.cost_per_correct),
    Column(Col("p50", "p50", drop=4), lambda e, v: e.result.latency_p50_ms),
    Column(Col("p95", "p95", drop=7), lambda e, v: e.result.latency_p95_ms),
    Column(Col("date", "Started", drop=8), lambda e, v: e.created_at, descending=True),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}


class CompareScreen(ReadFirstScreen):
    CSS_PATH = STYLES / "compare.tcss"
    AUTO_FOCUS = "#compare-table"
    BINDINGS = key_table(
        "compare",
        """
        # key  | action     | id     | label       | flags | tooltip
        o      | sort       | sort   | Sort        |       | Sort by the next column (a header click sorts too)
        p      | pick       | pick   | Pick models |       | Choose which models of the sessions to show
        v      | next_chart | chart  | Chart       |       | Switch the chart: score vs cost, rounds, trend
        m      | metric     | metric | Metric      |       | Chart dev score, cost, latency or tokens per round
        escape | back       | back   | Back        |       | Back to the sessions
        """,
    )
    HELP = HELP

    class Judged(Message):
        def __init__(
            self, verdicts: dict[str, Verdict], labels: dict[str, str], seeds: list[dict[str, Any]]
        ) -> None:
            super().__init__()
            self.verdicts, self.labels, self.seeds = verdicts, labels, seeds

    def __init__(self, paths: Paths, session_ids: list[str]) -> None:
        super().__init__()
        self.paths = paths
        self.session_ids = session_ids
        self.data: CompareData | None = None
        self.shown: set[str] = set()  # entry keys on screen (all, until the user picks)
        self.names: dict[str, str] = {}  # entry key -> the unique name charts show
        self.model_colors: dict[str, int] = {}
        self.session_marks: dict[str, str] = {}
        self.verdicts: dict[str, Verdict] | None = None  # None until the bootstrap is done
        self.seed_summaries: list[dict[str, Any]] = []  # repeated runs among the sessions (engine/repeats.py)
        self.labels: dict[str, str] = {}
        self.sort_key = "test"
        self.sort_reverse = True
        self.notice = Static("Reading the sessions…", id="compare-notice")
        self.table = FitTable([c.col for c in COLUMNS], id="compare-table")
        self.scatter = ScoreCostChart(id="scatter-chart")
        self.rounds_chart = RoundChart(id="rounds-chart")
        self.rounds_chart.empty_title = "no rounds recorded"
        self.trend_chart = TrendChart(id="trend-chart")
        self.legend = ChartLegend(id="chart-legend")

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield self.notice
        with Container(id="table-pane", classes="pane") as pane:
            pane.border_title = "Final benchmarks"
            yield self.table
        with TabbedContent(id="charts", initial="scatter"):
            with TabPane("Score vs cost", id="scatter"):
                yield self.scatter
            with TabPane("Rounds · dev score", id="rounds"):
                yield self.rounds_chart
            with TabPane("Trend", id="trend"):
                yield self.trend_chart
        yield self.legend
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"Compare {len(self.session_ids)} sessions"

    # -- reading (thread workers: the data by screens/read_first.py, then the verdicts) ----
    def read(self) -> CompareData:
        from dspy_tui.tui.history import load_compare
        from dspy_tui.tui.runner import service_for

        return load_compare(service_for(self.paths), self.session_ids)

    def read_failed(self, message: str) -> None:
        self.notify(f"Cannot compare: {message}", severity="error")

    @work(thread=True, exclusive=True, group="compare-judge")
    def judge(self, data: CompareData) -> None:
        """The paired bootstraps and the price labels: CPU work and DSPy's import, after the first draw."""
        from dspy_tui.engine import import_dspy
        from dspy_tui.tui.history import cost_labels, seed_summaries, significance
        from dspy_tui.tui.runner import service_for

        import_dspy()  # another worker may be importing it too

        try:
            verdicts = significance(data.entries)
            labels = cost_labels(data)
            seeds = seed_summaries(service_for(self.paths), data)
        except Exception as exc:  # noqa: BLE001 - the table stays; the verdicts say why they are missing
            self.app.call_from_thread(
                self.notify, f"No significance tests: {one_sentence(exc)}", severity="error"
            )
            return
        self.post_message(self.Judged(verdicts, labels, seeds))

    def show_read(self, data: CompareData) -> None:
        self.data = data
        self.shown = {e.key for e in data.entries}
        self.names = unique_names(data.entries)
        self.model_colors = {}
        self.session_marks = {}
        for e in data.entries:
            self.model_colors.setdefault(e.result.model, len(self.model_colors))
            self.session_marks.setdefault(e.session_id, MARKERS[len(self.session_marks) % len(MARKERS)])
        self._show_notice()
        self.redraw()
        self.set_timer(JUDGE_AFTER_S, lambda: self.judge(data))

    async def on_compare_screen_judged(self, message: Judged) -> None:
        self.verdicts, self.labels = message.verdicts, message.labels
        self.fill_table()
        if message.seeds:
            await self._show_seeds(message.seeds)

    async def _show_seeds(self, summaries: list[dict[str, Any]]) -> None:
        """Seeds of one repeated run, paired as the CLI pairs them, in their own tab (v reaches it)."""
        from dspy_tui.engine.repeats import render_text

        tabs = self.query_one(TabbedContent)
        text = "\n\n".join(render_text(s) for s in summaries)
        await tabs.add_pane(
            TabPane("Over seeds", VerticalScroll(Static(Text(text), id="seeds-text")), id="seeds")
        )
        self.seed_summaries = summaries  # once its tab is mounted (a test waiting for it then reads the tab)
        self._show_notice()

    # -- drawing ------------------------------------------------------------------------
    @property
    def entries(self) -> list[Entry]:
        return [e for e in self.data.entries if e.key in self.shown] if self.data else []

    def _color(self, entry: Entry) -> int:
        """One colour per model, the same in the table and every chart."""
        return self.model_colors.get(entry.result.model, 0)

    def _marker(self, entry: Entry) -> str:
        """One marker per session: the scatter's dots and the table's Session column."""
        return self.session_marks.get(entry.session_id, MARKERS[0])

    def _draw_rounds(self) -> None:
        entries = self.entries
        colors = {self.names[e.key]: self._color(e) for e in entries}
        marks = {self.names[e.key]: self._marker(e) for e in entries}
        self.rounds_chart.draw(
            CompareRounds(entries, self.names), lambda i, name: colors.get(name, i), lambda name: marks[name]
        )

    def redraw(self) -> None:
        self.fill_table()
        self.draw_charts()

    def _show_notice(self) -> None:
        data = self.data
        assert data is not None
        text = Text()
        if data.missing:
            text.append(f"{len(data.missing)} session(s) no longer in the database. ", style="yellow")
        if not data.groups:
            text.append(
                "No model has a test score, so there is nothing to test for significance.", style="dim"
            )
        elif data.comparable:
            task, n = next(iter(data.groups.values()))
            text.append("Comparable: ", style="bold green")
            text.append(
                f"every tested model ran on the same {n} test examples of {task}; "
                "vs best is a paired bootstrap on them."
            )
        else:
            text.append("Not comparable across sets: ", style="bold yellow")
            text.append("these models were tested on different examples (")
            text.append("; ".join(f"{g}: {task}, {n} examples" for g, (task, n) in data.groups.items()))
            text.append("). Scores of different sets are not comparable; vs best compares within a set only.")
        for summary in self.seed_summaries:
            seeds = ", ".join(str(x) for x in summary["seeds"])
            text.append(f"\nSeeds {seeds} of one repeated run: ", style="bold")
            text.append("mean ± CI over seeds and the leader paired over (seed, example) in Over seeds (v).")
        self.notice.update(text)

    def fill_table(self) -> None:
        table = self.table
        cursor = self.table.cursor_key()
        column = COLUMN_BY_KEY[self.sort_key]
        entries = self.entries
        present = [e for e in entries if column.value(e, self._verdict(e)) is not None]
        absent = [e for e in entries if column.value(e, self._verdict(e)) is None]  # no value: always last
        present.sort(key=lambda e: column.value(e, self._verdict(e)), reverse=self.sort_reverse)
        if self.data is not None and not self.data.comparable:  # rows of one test set stay together
            order = {g: i for i, g in enumerate(self.data.groups)}
            present.sort(key=lambda e: order.get(e.group, len(order)))
            absent.sort(key=lambda e: order.get(e.group, len(order)))
        best = {
            g: max(
                (e.result.test for e in entries if e.group == g and e.result.test is not None), default=None
            )
            for g in {e.group for e in entries}
        }
        rows = []
        for e in present + absent:
            r = e.result
            top = r.test is not None and e.group != "" and r.test == best.get(e.group)
            rows.append(
                (
                    e.key,
                    {
                        "session": f"{self._marker(e)} {e.session_name}",
                        "model": fmt.model_text(r.model, self._color(e)),
                        "set": e.group or "-",
                        "test": Text(fmt.score(r.test), style="bold green" if top else ""),
                        "verdict": self._verdict_text(e),
                        **fmt.result_cells(r, self.labels, e.key),
                        "date": fmt.day_time(e.created_at),
                    },
                )
            )
        arrow = " ▼" if self.sort_reverse else " ▲"
        table.set_rows(rows, labels={self.sort_key: COLUMN_BY_KEY[self.sort_key].col.label + arrow})
        if cursor is not None and cursor in table.rows:
            table.move_cursor(row=table.get_row_index(cursor), animate=False)

    def _verdict(self, e: Entry) -> Verdict | None:
        return (self.verdicts or {}).get(e.key)

    def _verdict_text(self, e: Entry) -> Text:
        if not e.group or e.result.test is None:
            return Text("-", style="dim")
        if self.verdicts is None:
            return Text("…", style="dim")
        v = self.verdicts.get(e.key)
        if v is None:
            return Text("best", style="bold green")
        if v.significant:
            return Text(f"{v.diff:+.3f} sig", style="red" if v.diff < 0 else "green")
        return Text(f"{v.diff:+.3f} n.s.", style="dim")

    def draw_charts(self) -> None:
        entries = self.entries
        sessions = {e.session_id: e for e in entries}
        names = Counter(e.session_name for e in sessions.values())
        self.legend.show(
            {e.result.model: self._color(e) for e in entries},
            [
                (self._marker(e), e.session_name + (f" ({sid})" if names[e.session_name] > 1 else ""))
                for sid, e in sessions.items()
            ],
        )
        points = [
            Point(e.result.cost_usd, e.result.test, self._color(e), self._marker(e))
            for e in entries
            if e.result.test is not None
        ]
        self.scatter.draw(points)
        self._draw_rounds()
        tasks = {e.task for e in entries}
        if len(tasks) > 1:
            note = "Not comparable: the sessions are of different tasks, so there is no trend to follow."
        elif len(sessions) < 2:
            note = "A trend needs two or more sessions of the same task."
        else:
            note = ""
        self.trend_chart.draw(trend(entries), note, self.model_colors)

    # -- actions -------------------------------------------------------------------------
    def action_sort(self) -> None:
        keys = [c.key for c in COLUMNS]
        self._sort_by(keys[(keys.index(self.sort_key) + 1) % len(keys)])

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
            self.fill_table()
        else:
            self._sort_by(key)

    def _sort_by(self, key: str) -> None:
        self.sort_key = key
        self.sort_reverse = COLUMN_BY_KEY[key].descending
        self.fill_table()

    def action_next_chart(self) -> None:
        tabs = self.query_one(TabbedContent)
        charts = CHARTS + (("seeds",) if self.seed_summaries else ())
        tabs.active = charts[(charts.index(tabs.active) + 1) % len(charts)]

    def action_metric(self) -> None:
        metric = self.rounds_chart.next_metric()
        self.query_one(TabbedContent).get_tab("rounds").label = f"Rounds · {METRIC_TITLES[metric]}"
        self.query_one(TabbedContent).active = "rounds"
        if self.data is not None:
            self._draw_rounds()

    def action_pick(self) -> None:
        if self.data is None:
            return
        choices = [(e.key, self.names[e.key], e.key in self.shown) for e in self.data.entries]
        self.app.push_screen(PickManyScreen("Show which models?", choices), self._picked)

    def _picked(self, keys: list[str] | None) -> None:
        if keys is None:
            return
        if not keys:
            self.notify("Keep at least one model on screen.", severity="warning")
            return
        self.shown = set(keys)
        self.redraw()

    def action_back(self) -> None:
        self.app.pop_screen()
