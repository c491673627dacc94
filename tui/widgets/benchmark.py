"""The final benchmark table shown when a session ends, with where its report and programs are."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from dspy_tui.tui import format as fmt
from dspy_tui.tui.runner import BenchmarkRow
from dspy_tui.tui.widgets.table import PlainTable

# (label, width): fixed widths with one space of gap, so 80 columns hold the table
COLUMNS = (("Test", 6), ("95% CI", 10), ("Cost", 9), ("$/correct", 10), ("p50", 8), ("p95", 8))


class BenchmarkView(Vertical):
    def __init__(self, models: list[str], *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._index = {m: i for i, m in enumerate(models)}
        self.table = PlainTable(id="bench-table", cursor_type="row", zebra_stripes=True,
                                                      cell_padding=0)
        self.table.add_column("Model", width=max([5, *(len(m) for m in models)]) + 2)
        for label, width in COLUMNS:
            self.table.add_column(label, width=width)
        self.where = Static(id="bench-where")

    def compose(self) -> ComposeResult:
        yield self.table
        yield self.where

    def show(self, rows: list[BenchmarkRow], report_paths: dict[str, str], exports_dir: str | None) -> None:
        table = self.table
        table.clear()
        best = max((r.test_score for r in rows if r.test_score is not None), default=None)
        for r in sorted(rows, key=lambda r: -(r.test_score if r.test_score is not None else -1)):
            test = Text(fmt.score(r.test_score), style="bold green" if best is not None and r.test_score == best else "")
            ci = "-" if r.ci is None else f"{r.ci[0]:.2f}-{r.ci[1]:.2f}"
            table.add_row(fmt.model_text(r.model, self._index.get(r.model, 0)), test, ci, fmt.money(r.cost_usd),
                          "-" if r.cost_per_correct is None else fmt.money(r.cost_per_correct),
                          fmt.ms(r.latency_p50_ms), fmt.ms(r.latency_p95_ms), key=r.model)
        where = Text()
        if report_paths:
            where.append("Report  ", style="dim")
            where.append(report_paths.get("md") or next(iter(report_paths.values())))
            where.append("  (r opens it)", style="dim")
        else:
            where.append("No report yet: it is written when a session completes.", style="dim")
        if exports_dir:
            where.append("\nPrograms ", style="dim")
            where.append(exports_dir)
        self.where.update(where)
