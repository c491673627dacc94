"""How numbers and events read on screen: one place, so every pane says it the same way."""

from __future__ import annotations

import time

from rich.text import Text

from dspy_tui.engine import events as ev

PHASE_LABELS = {
    "pending": "pending", "baseline": "baseline", "optimization": "optimize", "cross_model": "cross",
    "benchmark": "bench", "report": "report",
}
PHASE_NAMES = {
    "baseline": "baseline", "optimization": "optimization", "cross_model": "cross-model learning",
    "benchmark": "final benchmark", "report": "report",
}
# one colour per model, shared by the chart lines and the model names in the Models pane
SERIES_COLORS: tuple[tuple[int, int, int], ...] = (
    (90, 160, 230), (110, 195, 95), (235, 95, 95), (235, 190, 60), (190, 125, 225), (80, 205, 205),
    (245, 145, 65), (200, 200, 200),
)
STATUS_STYLES = {
    "running": "bold", "converged": "cyan", "done": "green", "completed": "green", "failed": "red",
    "stopped": "yellow", "interrupted": "yellow", "pending": "dim", "starting": "dim",
}


def model_color(index: int) -> tuple[int, int, int]:
    return SERIES_COLORS[index % len(SERIES_COLORS)]


def model_text(model: str, index: int) -> Text:
    r, g, b = model_color(index)
    return Text(model, style=f"rgb({r},{g},{b})")


def score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def delta(value: float | None) -> str:
    if value is None:
        return "-"
    return "0" if abs(value) < 5e-4 else f"{value:+.3f}"


def money(value: float | None) -> str:
    if value is None:
        return "unpriced"
    if value == 0:
        return "$0"
    return f"${value:.4f}" if value < 10 else f"${value:,.2f}"


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


def _describe(e: ev.Event) -> tuple[str, str]:  # noqa: C901 - a table of event wordings
    """(text, style) for one event line."""
    if isinstance(e, ev.CallCompleted):
        if e.cache_hit:
            return "call answered from the cache (already paid for)", "dim"
        if e.status == "refused" or e.error_kind == "BudgetExhausted":
            return "call not sent: the budget has no room for it", "dim yellow"
        if e.status != "ok":
            kind = (e.error_kind or "an error").replace("_", " ")
            return f"call failed after {ms(e.latency_ms)}: {kind}", "red"
        cost = "unpriced" if e.cost_usd is None else money(e.cost_usd)
        waited = f", waited {ms(e.queue_ms)} for a slot" if e.queue_ms >= 1 else ""
        retries = f", {e.retries} retries" if e.retries else ""
        return (f"call answered in {ms(e.latency_ms)}: {e.tokens_in or 0} tokens in, {e.tokens_out or 0} out, "
                f"{cost}{waited}{retries}"), "dim"
    if isinstance(e, ev.RoundCompleted):
        label = "baseline" if e.round == 0 else f"round {e.round}"
        left_out = f", {e.errored_examples} errored (not scored)" if e.errored_examples else ""
        left_out += f", {e.unparsed} unparsed (scored wrong)" if e.unparsed else ""
        return (f"{label}: dev {score(e.dev_score)} best {score(e.best_dev_score)} ({delta(e.delta)}), "
                f"{e.calls} calls, {money(e.cost_usd)}{left_out}"), "bold"
    if isinstance(e, ev.RoundStarted):
        return f"round {e.round} started", ""
    if isinstance(e, ev.PhaseStarted):
        return f"{PHASE_NAMES.get(e.phase, e.phase)} started", "bold cyan"
    if isinstance(e, ev.PhaseCompleted):
        return f"{PHASE_NAMES.get(e.phase, e.phase)} done", "cyan"
    if isinstance(e, ev.CostUpdated):
        budget = "" if e.budget_usd is None else f" of {money(e.budget_usd)}"
        return f"spent {money(e.spent_usd)}{budget} so far", "dim"
    if isinstance(e, ev.ModelThrottled):
        return f"{(e.reason or 'rate limited')}: new calls wait {e.retry_in_s:.0f} s", "yellow"
    if isinstance(e, ev.ModelDegraded):
        return f"degraded: {e.reason}", "yellow"
    if isinstance(e, ev.BudgetReserveReached):
        return (f"optimization ends: {money(e.spent_usd)} of {money(e.budget_usd)} spent, the rest "
                f"({money(e.reserve_usd)}) is kept for the cross-model trial and the benchmark"), "yellow"
    if isinstance(e, ev.ModelConverged):
        return f"converged after round {e.round}: {e.reason}", "cyan"
    if isinstance(e, ev.ModelDegraded):
        return f"degraded: {e.reason}", "bold yellow"
    if isinstance(e, ev.ModelFailed):
        return f"failed: {e.error}", "bold red"
    if isinstance(e, ev.CrossModelTransfer):
        verdict = "kept" if e.kept else "not kept"
        return f"tried {e.source_model}'s program: {score(e.before)} -> {score(e.after)}, {verdict}", ""
    if isinstance(e, ev.BenchmarkProgress):
        if e.test_score is not None:
            return f"test score {score(e.test_score)} on {e.total} examples", "bold green"
        return f"benchmark {e.done}/{e.total}", ""
    if isinstance(e, ev.BudgetWarning):
        return f"budget warning: {money(e.spent_usd)} of {money(e.budget_usd)} spent", "bold yellow"
    if isinstance(e, ev.BudgetExhausted):
        return f"budget spent: {money(e.spent_usd)} of {money(e.budget_usd)}; no more calls are sent", "bold yellow"
    if isinstance(e, ev.SessionStarted):
        return ("session resumed" if e.resumed else "session started"), "bold"
    if isinstance(e, ev.SessionCompleted):
        return "session completed", "bold green"
    if isinstance(e, ev.SessionStopped):
        return f"session stopped ({e.reason})", "bold yellow"
    if isinstance(e, ev.SessionFailed):
        return f"session failed: {e.error}", "bold red"
    if isinstance(e, ev.ReportReady):
        return f"report written: {e.paths.get('md', ', '.join(e.paths.values()))}", "green"
    return e.type.replace("_", " "), ""


def event_line(e: ev.Event) -> Text:
    text, style = _describe(e)
    line = Text(clock_time(e.ts) + " ", style="dim")
    if e.model:
        line.append(e.model + " ", style="italic")
    line.append(text, style=style)
    return line


def priced_money(value: float | None, label: str) -> Text:
    """A cost that says when it is not a real price: simulated (offline) or unknown (unpriced)."""
    if label == "unpriced":
        return Text("unpriced", style="yellow")
    if value is None:
        return Text("-")
    text = Text(money(value))
    if label == "offline/simulated":
        text.append(" sim", style="dim")
    return text


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
