"""The Models pane: one row per model, updated cell by cell as events arrive."""

from __future__ import annotations

from rich.text import Text

from dspy_tui.tui import format as fmt
from dspy_tui.tui.live_state import LiveState, ModelRow
from dspy_tui.tui.widgets.table import PlainTable

# (key, label, width): fixed widths (one space of gap included), so updates never resize a column
COLUMNS = (
    ("phase", "Phase", 9), ("round", "Rnd", 4), ("best", "Best", 6), ("delta", "Last Δ", 7),
    ("calls", "Calls", 6), ("errors", "Err", 4), ("cost", "Cost", 9), ("status", "Status", 9),
)


def cells(row: ModelRow, index: int) -> dict[str, str | Text]:
    return {
        "model": fmt.model_text(row.model, index),
        "phase": fmt.PHASE_LABELS.get(row.phase, row.phase),
        "round": str(row.round),
        "best": fmt.score(row.best_dev),
        "delta": fmt.delta(row.last_delta),
        "calls": str(row.calls),
        "errors": Text(str(row.errors), style="red" if row.errors else ""),
        "cost": fmt.money(row.cost_usd) if not row.unpriced_calls else Text("unpriced", style="yellow"),
        "status": fmt.status_text(row.status),
    }


class ModelsTable(PlainTable):
    """Rows keyed by model; `sync` rewrites only the cells whose text changed."""

    def __init__(self, models: list[str], *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id, cursor_type="row", zebra_stripes=True, cell_padding=0)
        self._shown: dict[tuple[str, str], str] = {}
        self._index = {m: i for i, m in enumerate(models)}
        # columns exist from the start: a sync may come before this widget is mounted
        self.add_column("Model", key="model", width=max([5, *(len(m) for m in models)]) + 2)
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def sync(self, state: LiveState, models: set[str] | None = None) -> None:
        for name in models if models is not None else state.models:
            row = state.models.get(name)
            if row is None:
                continue
            values = cells(row, self._index.get(name, 0))
            if name not in self.rows:
                self.add_row(*values.values(), key=name)
                self._shown.update({(name, k): str(v) for k, v in values.items()})
                continue
            for key, value in values.items():
                if self._shown.get((name, key)) != str(value):
                    self._shown[(name, key)] = str(value)
                    self.update_cell(name, key, value)

    def selected_model(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return key.value
