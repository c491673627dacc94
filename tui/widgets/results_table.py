"""A stored session's per-model results: baseline to test score, with what each model cost and took."""

from __future__ import annotations

from rich.text import Text

from dspy_tui.tui import format as fmt
from dspy_tui.tui.history import ModelResult
from dspy_tui.tui.widgets.table import Col, FitTable

COLUMNS = (  # at 80 columns the latency and token detail gives way first
    Col("model", "Model", most=40, least=16),
    Col("status", "Status"),
    Col("baseline", "Base", drop=3),
    Col("best", "Best dev", drop=4),
    Col("test", "Test"),
    Col("ci", "95% CI", drop=2),
    Col("cost", "Cost"),
    Col("per_correct", "$/correct", drop=5),
    Col("one_off", "One-off", drop=8),  # what getting the program cost, apart from the benchmark
    Col("p50", "p50"),
    Col("p95", "p95", drop=6),
    Col("tokens", "Tokens in/out", drop=7),
    Col("errors", "Err", drop=1),
    Col("price", "Price", drop=9),  # where the price comes from: list 2026-11, litellm 1.x, config, ...
)


class ResultsTable(FitTable):
    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(COLUMNS, id=id)

    def show(self, models: list[ModelResult], labels: dict[str, str], order: list[str]) -> None:
        """One row per model in config order (its chart colour), the best test score in bold."""
        best = max((m.test for m in models if m.test is not None), default=None)
        index = {m: i for i, m in enumerate(order)}
        rows = []
        for m in models:
            rows.append(
                (
                    m.model,
                    {
                        "model": fmt.model_text(m.model, index.get(m.model, 0)),
                        "status": fmt.status_text(m.status),
                        "baseline": fmt.score(m.baseline),
                        "best": fmt.score(m.best_dev),
                        "test": Text(
                            fmt.score(m.test),
                            style="bold green" if best is not None and m.test == best else "",
                        ),
                        **fmt.result_cells(m, labels),
                        "one_off": fmt.priced_money(m.one_off_cost_usd, labels.get(m.model, "")),
                        "tokens": f"{fmt.tokens(m.tokens_in)}/{fmt.tokens(m.tokens_out)}",
                        "errors": Text(str(m.errors), style="red" if m.errors else ""),
                        "price": Text(labels.get(m.model, ""), style="dim"),
                    },
                )
            )
        self.set_rows(rows)

    def selected_model(self) -> str | None:
        return self.cursor_key()
