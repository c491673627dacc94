"""The live screen's line per hosted provider: what holds its calls back.

While the session runs, from the engine's `provider_stats` samples:
`openai  in-flight 12/16 · 310/500 RPM · 48k TPM · throttled 62% · 4×429 · rate-limited,
retrying in 37 s`. Before the first sample and once the session is over (when "the last
minute" no longer means anything), the session's totals from its calls: `openai  120 calls ·
4×429 · waited 62%`. Throttled providers come first; past `max_lines` (the screen gives one:
the cost pane needs its rows) the rest share the last line in short:
`openai 6/16 throttled 4%  │  groq 6/16`.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from dspy_tui.engine.events import LimiterStatus
from dspy_tui.engine.provider_stats import describe
from dspy_tui.tui.live_state import LiveState, ModelRow

SEPARATOR = " · "


def live_line(status: LimiterStatus) -> Text:
    figures, warnings = describe(status)
    line = Text(SEPARATOR.join(figures))
    for warning in warnings:
        line.append(SEPARATOR)
        line.append(warning, style="yellow")
    return line


def totals_line(rows: list[ModelRow], now: float) -> Text:
    """What the provider's calls in this session add up to."""
    calls = sum(r.calls for r in rows)
    line = Text(f"{calls} calls")
    limited = sum(r.rate_limited for r in rows)
    if limited:
        line.append(f"{SEPARATOR}{limited}×429", style="yellow")
    waited, busy = sum(r.queue_ms for r in rows), sum(r.latency_ms for r in rows)
    if waited > 0:
        line.append(f"{SEPARATOR}waited {waited / (waited + busy):.0%}", style="dim")
    paused = max((r.throttled_until or 0) - now for r in rows)
    if paused >= 1:
        line.append(f"{SEPARATOR}paused {paused:.0f} s", style="yellow")
    return line


def short_part(provider: str, status: LimiterStatus | None, rows: list[ModelRow]) -> Text:
    """`openai 6/16 throttled 4%`: one provider among others on a shared line."""
    part = Text(provider, style="bold")
    if status is None:
        return part.append(f" {sum(r.calls for r in rows)} calls")
    part.append(f" {status.in_flight}/{status.limit}")
    share = status.throttled_share
    if share is not None and share >= 0.005:
        part.append(f" throttled {share:.0%}")
    if status.paused_s >= 1:
        part.append(f" {status.pause_text()}", style="yellow")
    return part


def provider_lines(state: LiveState, now: float, max_lines: int) -> Text:
    """A full line per provider, throttled first; past `max_lines` the rest share the last line."""
    hosted = {p: rows for p, rows in state.providers().items() if p != "offline"}
    live = {} if state.finished else state.provider_stats
    throttled = {p for p, s in live.items() if s.throttled}
    order = sorted(hosted, key=lambda p: p not in throttled)  # stable: model order otherwise
    full = order if len(order) <= max_lines else order[: max_lines - 1]
    width = max((len(p) for p in full), default=0)
    lines = []
    for provider in full:
        line = Text(provider.ljust(width + 2), style="bold")
        status = live.get(provider)
        lines.append(
            line.append(live_line(status) if status is not None else totals_line(hosted[provider], now))
        )
    rest = order[len(full) :]
    if rest:
        parts = [short_part(p, live.get(p), hosted[p]) for p in rest]
        lines.append(Text("  │  ", style="dim").join(parts))
    return Text("\n").join(lines)


class ProvidersFooter(Static):
    """One line per hosted provider, under the models; hidden when every model is offline."""

    def show(self, state: LiveState, now: float, max_lines: int) -> None:
        text = provider_lines(state, now, max_lines)
        self.update(text)
        self.display = bool(text)
