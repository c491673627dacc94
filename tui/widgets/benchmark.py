"""The final benchmark table shown when a session ends, with where its report and programs are."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from dspy_tui.tui import format as fmt
from dspy_tui.tui.widgets.table import Col, FitTable

if TYPE_CHECKING:
    from dspy_tui.storage.results import ModelResult

COLUMNS = (  # at 80 columns p95, then $/correct give way
    Col("model", "Model", most=40, least=14),
    Col("test", "Test"),
    Col("ci", "95% CI", drop=1),
    Col("cost", "Cost"),
    Col("per_correct", "$/correct", drop=2),
    Col("p50", "p50"),
    Col("p95", "p95", drop=3),
)


class BenchmarkView(Vertical):
    def __init__(self, models: list[str], *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._index = {m: i for i, m in enumerate(models)}
        self.table = FitTable(COLUMNS, id="bench-table")
        self.where = Static(id="bench-where")

    def compose(self) -> ComposeResult:
        yield self.table
        yield self.where

    def show(
        self,
        rows: list[ModelResult],
        report_paths: dict[str, str],
        exports_dir: str | None,
        labels: dict[str, str],
    ) -> None:
        """`labels`: each model's price label, so offline costs read `$0 sim` as in the session detail."""
        cells = []
        best = max((r.test for r in rows if r.test is not None), default=None)
        for r in sorted(rows, key=lambda r: -(r.test if r.test is not None else -1)):
            test = Text(fmt.score(r.test), style="bold green" if best is not None and r.test == best else "")
            cells.append(
                (
                    r.model,
                    {
                        "model": fmt.model_text(r.model, self._index.get(r.model, 0)),
                        "test": test,
                        **fmt.result_cells(r, labels),
                    },
                )
            )
        self.table.set_rows(cells)
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
