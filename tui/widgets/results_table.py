"""A stored session's per-model results: baseline to test score, with what each model cost and took."""

from __future__ import annotations

from rich.text import Text

from dspy_tui.tui import format as fmt
from dspy_tui.tui.history import ModelResult
from dspy_tui.tui.widgets.table import PlainTable

# (key, label, width): fixed widths with a space of gap, so the table reads the same at any size
COLUMNS = (
    ("status", "Status", 10), ("baseline", "Base", 6), ("best", "Best dev", 9), ("test", "Test", 6),
    ("ci", "95% CI", 10), ("cost", "Cost", 11), ("per_correct", "$/correct", 11), ("p50", "p50", 8),
    ("p95", "p95", 8), ("tokens", "Tokens in/out", 14), ("errors", "Err", 4),
)


class ResultsTable(PlainTable):
    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id, cursor_type="row", zebra_stripes=True, cell_padding=0)

    def show(self, models: list[ModelResult], labels: dict[str, str], order: list[str]) -> None:
        """One row per model in config order (its chart colour), the best test score in bold."""
        self.clear(columns=True)
        self.add_column("Model", key="model", width=max([5, *(len(m.model) for m in models)]) + 2)
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)
        best = max((m.test for m in models if m.test is not None), default=None)
        index = {m: i for i, m in enumerate(order)}
        for m in models:
            label = labels.get(m.model, "offline/simulated" if m.offline else "")
            test = Text(fmt.score(m.test), style="bold green" if best is not None and m.test == best else "")
            errors = Text(str(m.errors), style="red" if m.errors else "")
            self.add_row(
                fmt.model_text(m.model, index.get(m.model, 0)), fmt.status_text(m.status), fmt.score(m.baseline),
                fmt.score(m.best_dev), test, fmt.ci(m.ci), fmt.priced_money(m.cost_usd, label),
                fmt.priced_money(m.cost_per_correct, label) if m.cost_per_correct is not None else "-",
                fmt.ms(m.latency_p50_ms), fmt.ms(m.latency_p95_ms),
                f"{fmt.tokens(m.tokens_in)}/{fmt.tokens(m.tokens_out)}", errors, key=m.model,
            )

    def selected_model(self) -> str | None:
        if not self.row_count:
            return None
        value = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return str(value) if value is not None else None
