"""How numbers read on screen: one place, so every pane says it the same way (events: event_text.py).

The home screen uses it and must start fast: of the engine it imports only `engine.usd` (no DSPy)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich.text import Text

from dspy_tui.engine.usd import format_usd

if TYPE_CHECKING:
    from dspy_tui.storage.results import ModelResult

PHASE_LABELS = {
    "pending": "pending",
    "baseline": "baseline",
    "optimization": "optimize",
    "cross_model": "cross",
    "benchmark": "bench",
    "report": "report",
}
# one colour per model, shared by the chart lines and the model names in the Models pane
SERIES_COLORS: tuple[tuple[int, int, int], ...] = (
    (90, 160, 230),
    (110, 195, 95),
    (235, 95, 95),
    (235, 190, 60),
    (190, 125, 225),
    (80, 205, 205),
    (245, 145, 65),
    (200, 200, 200),
)
STATUS_STYLES = {
    "running": "bold",
    "converged": "cyan",
    "done": "green",
    "completed": "green",
    "failed": "red",
    "stopped": "yellow",
    "interrupted": "yellow",
    "pending": "dim",
    "starting": "dim",
}


def model_color(index: int) -> tuple[int, int, int]:
    return SERIES_COLORS[index % len(SERIES_COLORS)]


def model_text(model: str, index: int) -> Text:
    r, g, b = model_color(index)
    return Text(model, style=f"rgb({r},{g},{b})")


def score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def delta(value: float | None) -> str:
    """A score's change, signed; no change reads `±0` (a bare `0` after `0.000 → 0.000` read as a stray digit)."""
    if value is None:
        return "-"
    return "±0" if abs(value) < 5e-4 else f"{value:+.3f}"


def money(value: float | None) -> str:
    if value is None:
        return "unpriced"
    return format_usd(value)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def ms(value: float | None) -> str:
    """A latency with a space before its unit: `180 ms`, `3.59 s`, `1,204 s`."""
    if value is None:
        return "-"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s" if value < 100_000 else f"{value / 1000:,.0f} s"


def clock_time(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


SIMULATED = "offline/simulated"  # the price label of an offline model: its cost is simulated, not billed


def is_offline(model: str) -> bool:
    """An `offline/...` model: the simulated provider, whose cost is never a price."""
    return model.startswith("offline/")


def label_without_prices(model: str) -> str:
    """The price label known without the engine's prices (the home screen starts without them):
    an offline model's; "" for any other, not known yet."""
    return SIMULATED if is_offline(model) else ""


def priced_money(value: float | None, label: str) -> Text:
    """A cost that says when it is not a real price: simulated (offline) or unknown (unpriced)."""
    if label == "unpriced":
        return Text("unpriced", style="yellow")
    if value is None:
        return Text("-")
    text = Text(money(value))
    if label == SIMULATED:
        text.append(" sim", style="dim")
    return text


def result_cells(result: ModelResult, labels: Mapping[str, str], key: str | None = None) -> dict[str, object]:
    """The cells every results table shows for one model (95% CI, cost, $/correct, p50, p95), its
    costs qualified by its price label (`labels[key or model]`; offline reads simulated)."""
    label = labels.get(key or result.model, label_without_prices(result.model))
    per_correct = result.cost_per_correct
    return {
        "ci": ci(result.ci),
        "cost": priced_money(result.cost_usd, label),
        "per_correct": "-" if per_correct is None else priced_money(per_correct, label),
        "p50": ms(result.latency_p50_ms),
        "p95": ms(result.latency_p95_ms),
    }


def ci(bounds: tuple[float, float] | None) -> str:
    return "-" if bounds is None else f"{bounds[0]:.2f}-{bounds[1]:.2f}"


def tokens(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M"
    return f"{count / 1000:.1f}k" if count >= 10_000 else str(count)


def day_time(ts: float) -> str:
    """To the second: two sessions started in the same minute read apart."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def fit(text: str, width: int) -> str:
    """`text` cut with an ellipsis to leave one cell of gap in a `width`-wide column."""
    return text if len(text) < width else text[: max(0, width - 2)] + "…"
