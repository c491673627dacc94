"""The live screen's line per hosted provider: what holds its calls back.

While the session runs, from the engine's `provider_stats` samples:
`openai  in-flight 12/16 · 310/500 RPM · 48k TPM · throttled 62% · 4×429 · rate-limited,
retrying in 37 s`. Before the first sample and once the session is over (when "the last
minute" no longer means anything), the session's totals from its calls: `openai  120 calls ·
4×429 · waited 62%`. Throttled providers come first; past `max_lines` (the screen gives one:
the cost pane needs its rows) the rest share the last line in short:
`openai 6/16 throttled 4%  │  groq 6/16`, tighter when they would not fit the width (80 columns
cut the fourth provider): `anthropic 8/8 throttled 62% retry 37 s │ openai 6/16 │ groq 6/16`.
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


def short_part(provider: str, status: LimiterStatus | None, rows: list[ModelRow], tight: int = 0) -> Text:
    """`openai 6/16 throttled 4%`: one provider among others on a shared line.

    Tighter (when the line would not fit): 1 shows a provider that is not throttled by its slots
    alone, 2 also says a pause as `retry 37 s`."""
    part = Text(provider, style="bold")
    if status is None:
        return part.append(f" {sum(r.calls for r in rows)} calls")
    part.append(f" {status.in_flight}/{status.limit}")
    if tight and not status.throttled:
        return part
    share = status.throttled_share
    if share is not None and share >= 0.005:
        part.append(f" throttled {share:.0%}")
    if status.paused_s >= 1:
        pause = f"retry {status.paused_s:.0f} s" if tight >= 2 else status.pause_text()
        part.append(f" {pause}", style="yellow")
    return part


def shared_line(parts: list[tuple[str, LimiterStatus | None, list[ModelRow]]], width: int | None) -> Text:
    """Providers side by side, as short as `width` needs (cut with … past the tightest form)."""
    line = Text()
    for tight, gap in ((0, "  │  "), (1, " │ "), (2, " │ ")):
        line = Text(gap, style="dim").join(short_part(*part, tight=tight) for part in parts)
        if width is None or line.cell_len <= width:
            break
    return line


def provider_lines(state: LiveState, now: float, max_lines: int, width: int | None = None) -> Text:
    """A full line per provider, throttled first; past `max_lines` the rest share the last line,
    in as short a form as `width` cells need."""
    hosted = {p: rows for p, rows in state.providers().items() if p != "offline"}
    live = {} if state.finished else state.provider_stats
    throttled = {p for p, s in live.items() if s.throttled}
    order = sorted(hosted, key=lambda p: p not in throttled)  # stable: model order otherwise
    full = order if len(order) <= max_lines else order[: max_lines - 1]
    name_width = max((len(p) for p in full), default=0)
    lines = []
    for provider in full:
        line = Text(provider.ljust(name_width + 2), style="bold")
        status = live.get(provider)
        lines.append(
            line.append(live_line(status) if status is not None else totals_line(hosted[provider], now))
        )
    rest = order[len(full) :]
    if rest:
        lines.append(shared_line([(p, live.get(p), hosted[p]) for p in rest], width))
    return Text("\n").join(lines)


class ProvidersFooter(Static):
    """One line per hosted provider, under the models; hidden when every model is offline."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._last: tuple[LiveState, float, int] | None = None

    def show(self, state: LiveState, now: float, max_lines: int) -> None:
        self._last = (state, now, max_lines)
        width = self.app.size.width - self.styles.gutter.width  # it spans the screen, less its padding
        text = provider_lines(state, now, max_lines, width)
        text.no_wrap, text.overflow = True, "ellipsis"
        self.update(text)
        self.display = bool(text)

    def on_resize(self) -> None:
        if self._last is not None:
            self.show(*self._last)
