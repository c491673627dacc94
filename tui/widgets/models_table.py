"""The Models pane: one row per model with its progress, updated cell by cell as events arrive.

Like an evaluation harness's task rows: phase, steps done of the model's total, ETA, elapsed,
and what holds it back (its requests in flight against its limiter's cap, 429s, "rate-limited,
retrying in 37 s"), so a model waiting for a slow provider never looks hung.
"""

from __future__ import annotations

from rich.text import Text

from dspy_tui.tui import format as fmt
from dspy_tui.tui.live_state import LiveState, ModelRow
from dspy_tui.tui.widgets.table import Col, FitTable, Worded

COLUMNS = (  # at 80 columns the detail columns give way, highest `drop` first
    Col("model", "Model", most=40, least=14),
    Col("phase", "Phase"),
    Col("steps", "Steps"),
    Col("round", "Rnd", drop=5),
    Col("best", "Best"),
    Col("delta", "Last Δ", drop=7),
    Col("calls", "Calls", drop=2),
    Col("slots", "Slots", drop=3),  # in flight / the limiter's cap now
    Col("limited", "429s", drop=3),
    Col("errors", "Err", drop=4),
    Col("cost", "Cost"),
    Col("eta", "ETA", drop=1),
    Col("elapsed", "Elapsed", drop=6),
    Col("status", "Status", most=32, least=10),
)


def status_cell(row: ModelRow, now: float) -> Text:
    """The status, or what the model waits for while the provider slows it down."""
    if (
        row.throttled_until is not None
        and row.throttled_until > now
        and row.status in ("running", "pending", "converged")
    ):
        wait = max(1, round(row.throttled_until - now))
        reason = row.throttle_reason.replace("_", " ") or "rate limited"
        return Worded(
            f"{reason.replace('rate limited', 'rate-limited')}, retrying in {wait} s",
            f"{SHORT_REASONS.get(reason, reason)}, retry {wait} s",
            style="yellow",
        )
    return fmt.status_text(row.status)


SHORT_REASONS = {"rate limited": "429", "overloaded": "overload", "timeouts": "timeout"}  # at 80 columns


def slots_cell(row: ModelRow) -> Text:
    """`12/16`: requests in flight against the cap; yellow when the cap was cut or calls wait."""
    status = row.limiter
    if status is None or row.finished_at is not None:
        return Text("-", style="dim")
    held = status.limit < status.max_limit or status.throttled
    return Text(f"{status.in_flight}/{status.limit}", style="yellow" if held else "")


def cells(state: LiveState, row: ModelRow, index: int, label: str, now: float) -> dict[str, object]:
    """`label`: the model's price label (`offline/simulated` reads `$0 sim`, as in the session detail)."""
    done, total = state.model_steps(row.model)
    elapsed = None if row.started_at is None else (row.finished_at or now) - row.started_at
    eta = state.eta(row.model, now)
    return {
        "model": fmt.model_text(row.model, index),
        "phase": fmt.PHASE_LABELS.get(row.phase, row.phase),
        "steps": f"{done}/{total}",
        "round": str(row.round),
        "best": fmt.score(row.best_dev),
        "delta": fmt.delta(row.last_delta),
        "calls": str(row.calls),
        "slots": slots_cell(row),
        "limited": Text(str(row.rate_limited), style="yellow" if row.rate_limited else ""),
        "errors": Text(str(row.errors), style="red" if row.errors else ""),
        "cost": fmt.priced_money(row.cost_usd, "unpriced" if row.unpriced_calls else label),
        "eta": "-" if eta is None else fmt.duration(eta),
        "elapsed": fmt.duration(elapsed),
        "status": waiting_cell(state.waiting_for(row.model)) or status_cell(row, now),
    }


def waiting_cell(others: list[str]) -> Text | None:
    """A model done with its rounds waits for the slowest: say for whom, so it does not look hung.
    Where the column is narrow it names the model without its provider: `waiting for groq` read as
    the provider's limiter holding it back, which is the provider line's to say."""
    if not others:
        return None
    if len(others) > 1:
        return Text(f"waiting for {len(others)} models", style="dim")
    name = others[0].split("/", 1)[-1]
    return Worded(f"waiting for {others[0]}", f"waiting for {name}", style="dim")


class ModelsTable(FitTable):
    """Rows keyed by model; `sync` rewrites only the cells whose text changed."""

    def __init__(self, models: list[str], *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(COLUMNS, id=id)
        self._shown: dict[tuple[str, str], str] = {}
        self._index = {m: i for i, m in enumerate(models)}
        self.labels: dict[str, str] = {}  # model -> price label, once the runner knows them

    def sync(self, state: LiveState, now: float, models: set[str] | None = None) -> None:
        for name in models if models is not None else state.models:
            row = state.models.get(name)
            if row is None:
                continue
            label = self.labels.get(name, fmt.label_without_prices(name))
            values = cells(state, row, self._index.get(name, 0), label, now)
            changed = {k: v for k, v in values.items() if self._shown.get((name, k)) != str(v)}
            if changed:
                self._shown.update({(name, k): str(v) for k, v in changed.items()})
                self.set_row(name, changed)

    def selected_model(self) -> str | None:
        return self.cursor_key()
