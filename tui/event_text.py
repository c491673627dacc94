"""How an engine event reads in the Events pane: a sentence, never the event's type name."""

from __future__ import annotations

from rich.text import Text

from dspy_tui.engine import events as ev
from dspy_tui.storage.call_outcomes import outcome
from dspy_tui.tui.format import clock_time, delta, money, ms, score

PHASE_NAMES = {
    "baseline": "baseline",
    "optimization": "optimization",
    "cross_model": "cross-model learning",
    "benchmark": "final benchmark",
    "report": "report",
}


# The events a template words alone: `{name}` is the event's field of that name, a `_usd` one as money.
# Events whose sentence depends on their values are worded in `_describe`.
TEMPLATES: dict[type[ev.Event], tuple[str, str]] = {  # event -> (template, style)
    ev.RoundStarted: ("round {round} started", ""),
    ev.ModelDegraded: ("degraded: {reason}", "yellow"),
    ev.ModelConverged: ("converged after round {round}: {reason}", "cyan"),
    ev.ModelFailed: ("failed: {error}", "bold red"),
    ev.BudgetReserveReached: (
        "optimization ends: {spent_usd} of {budget_usd} spent, the rest ({reserve_usd}) is kept for the "
        "cross-model trial and the benchmark",
        "yellow",
    ),
    ev.BudgetWarning: ("budget warning: {spent_usd} of {budget_usd} spent", "bold yellow"),
    ev.BudgetExhausted: ("budget spent: {spent_usd} of {budget_usd}; no more calls are sent", "bold yellow"),
    ev.SessionCompleted: ("session completed", "bold green"),
    ev.SessionStopped: ("session stopped ({reason})", "bold yellow"),
    ev.SessionFailed: ("session failed: {error}", "bold red"),
}


class _Fields(dict[str, object]):
    """An event's fields as a template reads them (`str.format_map`), each formatted when asked for."""

    def __init__(self, event: ev.Event) -> None:
        super().__init__()
        self.event = event

    def __missing__(self, name: str) -> object:
        value = getattr(self.event, name)
        return money(value) if name.endswith("_usd") else value


def _describe(e: ev.Event) -> tuple[str, str]:
    """(text, style) for one event line."""
    template = TEMPLATES.get(type(e))
    if template is not None:
        return template[0].format_map(_Fields(e)), template[1]
    if isinstance(e, ev.CallCompleted):
        kind = outcome(e.status, e.error_kind, e.cache_hit)
        if kind == "cached":
            return "call answered from the cache (already paid for)", "dim"
        if kind == "refused":
            return "call not sent: the budget has no room for it", "dim yellow"
        if kind == "cancelled":
            return f"call cancelled by the stop after {ms(e.latency_ms)} (a resume sends it again)", "dim"
        if kind == "failed":
            why = (e.error_kind or "an error").replace("_", " ")
            return f"call failed after {ms(e.latency_ms)}: {why}", "red"
        cost = "unpriced" if e.cost_usd is None else money(e.cost_usd)
        waited = f", waited {ms(e.queue_ms)} for a slot" if e.queue_ms >= 1 else ""
        retries = f", {e.retries} retries" if e.retries else ""
        return (
            f"call answered in {ms(e.latency_ms)}: {e.tokens_in or 0} tokens in, {e.tokens_out or 0} out, "
            f"{cost}{waited}{retries}"
        ), "dim"
    if isinstance(e, ev.RoundCompleted):
        label = "baseline" if e.round == 0 else f"round {e.round}"
        left_out = f", {e.errored_examples} errored (not scored)" if e.errored_examples else ""
        left_out += f", {e.unparsed} unparsed (scored wrong)" if e.unparsed else ""
        return (
            f"{label}: dev {score(e.dev_score)} best {score(e.best_dev_score)} ({delta(e.delta)}), "
            f"{e.calls} calls, {money(e.cost_usd)}{left_out}"
        ), "bold"
    if isinstance(e, ev.PhaseStarted):
        return f"{PHASE_NAMES.get(e.phase, e.phase)} started", "bold cyan"
    if isinstance(e, ev.PhaseCompleted):
        return f"{PHASE_NAMES.get(e.phase, e.phase)} done", "cyan"
    if isinstance(e, ev.CostUpdated):
        budget = "" if e.budget_usd is None else f" of {money(e.budget_usd)}"
        return f"spent {money(e.spent_usd)}{budget} so far", "dim"
    if isinstance(e, ev.ModelThrottled):
        return f"{(e.reason or 'rate limited')}: new calls wait {e.retry_in_s:.0f} s", "yellow"
    if isinstance(e, ev.CrossModelTransfer):
        verdict = "kept" if e.kept else "not kept"
        return f"tried {e.source_model}'s program: {score(e.before)} -> {score(e.after)}, {verdict}", ""
    if isinstance(e, ev.BenchmarkProgress):
        if e.test_score is not None:
            return f"test score {score(e.test_score)} on {e.total} examples", "bold green"
        return f"benchmark {e.done}/{e.total}", ""
    if isinstance(e, ev.SessionStarted):
        return ("session resumed" if e.resumed else "session started"), "bold"
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
