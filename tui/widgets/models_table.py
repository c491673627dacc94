"""The Models pane: one row per model, updated cell by cell as events arrive."""

from __future__ import annotations

from rich.text import Text

from dspy_tui.tui import format as fmt
from dspy_tui.tui.live_state import LiveState, ModelRow
from dspy_tui.tui.widgets.table import Col, FitTable

COLUMNS = (  # at 80 columns the round, the last gain and the error count give way
    Col("model", "Model", most=40, least=14), Col("phase", "Phase"), Col("round", "Rnd", drop=2),
    Col("best", "Best"), Col("delta", "Last Δ", drop=3), Col("calls", "Calls"), Col("errors", "Err", drop=1),
    Col("cost", "Cost"), Col("status", "Status"),
)


def cells(row: ModelRow, index: int, label: str) -> dict[str, object]:
    """`label`: the model's price label (`offline/simulated` reads `$0 sim`, as in the session detail)."""
    return {
        "model": fmt.model_text(row.model, index),
        "phase": fmt.PHASE_LABELS.get(row.phase, row.phase),
        "round": str(row.round),
        "best": fmt.score(row.best_dev),
        "delta": fmt.delta(row.last_delta),
        "calls": str(row.calls),
        "errors": Text(str(row.errors), style="red" if row.errors else ""),
        "cost": fmt.priced_money(row.cost_usd, "unpriced" if row.unpriced_calls else label),
        "status": fmt.status_text(row.status),
    }


class ModelsTable(FitTable):
    """Rows keyed by model; `sync` rewrites only the cells whose text changed."""

    def __init__(self, models: list[str], *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(COLUMNS, id=id)
        self._shown: dict[tuple[str, str], str] = {}
        self._index = {m: i for i, m in enumerate(models)}
        self.labels: dict[str, str] = {}  # model -> price label, once the runner knows them

    def sync(self, state: LiveState, models: set[str] | None = None) -> None:
        for name in models if models is not None else state.models:
            row = state.models.get(name)
            if row is None:
                continue
            label = self.labels.get(name, "offline/simulated" if name.startswith("offline/") else "")
            values = cells(row, self._index.get(name, 0), label)
            changed = {k: v for k, v in values.items() if self._shown.get((name, k)) != str(v)}
            if changed:
                self._shown.update({(name, k): str(v) for k, v in changed.items()})
                self.set_row(name, changed)

    def selected_model(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return key.value
