"""Running a session without the TUI: rich progress bars per model, or JSON lines.

Ctrl-C (SIGINT) or SIGTERM stops the session cleanly: in-flight calls are
cancelled, everything recorded so far stays, and `dspy-tui resume ID` goes on.
"""

from __future__ import annotations

import contextlib
import io
import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from dspy_tui.engine import events as ev
from dspy_tui.engine.budget import spending_words
from dspy_tui.engine.session import DISK_FULL_REASON, Session
from dspy_tui.storage.db import DISK_FULL_MESSAGE

from .progress import PlainProgress

if TYPE_CHECKING:
    from dspy_tui.engine.service import SessionService

OUTCOME_EXIT = {"completed": 0, "budget": 3, "stopped": 1, "failed": 1}
EXIT_MODEL_PROBLEM = 4  # completed, but at least one model failed or was degraded


class _Progress:
    """One rich progress bar per model: baseline + rounds + transfer + benchmark steps, and what holds
    the model's calls back while something does (`rate-limited, retrying in 37 s`, `throttled 62%`)."""

    def __init__(self, session: Session) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.fields[model]:<28}"),
            BarColumn(),
            TextColumn("{task.fields[status]:<40}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("[yellow]{task.fields[waiting]}"),
            console=self.console,
        )
        steps = 1 + session.config.rounds + (1 if session.config.cross_model else 0) + 1
        self.tasks = {
            m: self.progress.add_task("", total=steps, model=m, status="starting", waiting="")
            for m in session.runs
        }
        self.steps = steps

    def __enter__(self) -> _Progress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def on_event(self, e: ev.Event) -> None:
        task = self.tasks.get(e.model or "")
        if isinstance(e, ev.RoundCompleted) and task is not None:
            label = "baseline" if e.round == 0 else f"round {e.round}"
            self.progress.update(
                task, advance=1, status=f"{label}: dev {e.dev_score:.3f} best {e.best_dev_score:.3f}"
            )
        elif isinstance(e, ev.ModelConverged) and task is not None:
            self.progress.update(task, status=f"converged at round {e.round}")
        elif isinstance(e, ev.ModelDegraded):
            self.console.print(f"[yellow]{e.model} degraded:[/yellow] {e.reason}")
        elif isinstance(e, ev.ModelFailed) and task is not None:
            self.progress.update(task, status=f"failed: {e.error[:60]}")
            self.console.print(f"[red]{e.model} failed:[/red] {e.error}")
        elif isinstance(e, ev.ModelThrottled) and task is not None:
            self.progress.update(task, waiting=e.text())
        elif isinstance(e, ev.ProviderStats):
            for status in e.limiters:  # each model's own limiter, sampled while a figure changes
                if (held := self.tasks.get(status.model)) is not None:
                    self.progress.update(held, waiting=_waiting_text(status))
        elif isinstance(e, ev.BenchmarkProgress) and task is not None and e.test_score is not None:
            self.progress.update(task, completed=self.steps, status=f"test {e.test_score:.3f}")
        elif isinstance(e, ev.BudgetWarning):
            self.console.print(
                f"[yellow]budget warning:[/yellow] ${e.spent_usd:.4f} of ${e.budget_usd:.4f} spent"
            )


def _waiting_text(status: ev.LimiterStatus) -> str:
    """What holds a model's calls back now, for its bar: the pause first, then the share of the last
    minute spent queued on our side; empty once it is not throttled."""
    if not status.throttled:
        return ""
    share = status.throttled_share
    queued = f"throttled {share:.0%}" if share is not None and share >= 0.005 else ""
    return " · ".join(part for part in (status.pause_text(), queued) if part)


class _StdoutToLog(io.TextIOBase):
    """DSPy's optimizers print() progress; headless, stdout belongs to our output (JSON lines)."""

    def __init__(self) -> None:
        self.log = logging.getLogger("dspy.stdout")

    def write(self, text: str) -> int:
        if text.strip():
            self.log.info(text.rstrip())
        return len(text)


def _json_writer(out: TextIO) -> Callable[[ev.Event], None]:
    lock = threading.Lock()

    def write(e: ev.Event) -> None:
        line = e.model_dump_json() + "\n"
        with lock:
            out.write(line)
            out.flush()

    return write


def run_headless(service: SessionService, session: Session, *, json_lines: bool) -> int:
    """Run a prepared session in this process; returns the exit code."""
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in stop_signals:
            previous[sig] = signal.signal(sig, lambda *_: service.stop(session, "signal"))
    real_stdout = sys.stdout
    try:
        with contextlib.redirect_stdout(_StdoutToLog()):
            if json_lines:
                unsubscribe: Callable[[], None] = session.bus.subscribe(_json_writer(real_stdout))
                outcome = service.start(session)
                unsubscribe()
            else:
                with _progress_for(session, real_stdout) as progress:
                    unsubscribe = session.bus.subscribe(progress.on_event)
                    outcome = service.start(session)
                    unsubscribe()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    _summary(service, session, outcome, quiet=json_lines)
    code = exit_code(session, outcome)
    if code == EXIT_MODEL_PROBLEM:
        hurt = [
            f"{r.model} {'failed' if r.status == 'failed' else 'degraded'}"
            for r in session.runs.values()
            if r.status == "failed" or r.degraded
        ]
        print(
            f"dspy-tui: session {session.session_id} completed, but {', '.join(hurt)} (exit code 4).",
            file=sys.stderr,
        )
    return code


def exit_code(session: Session, outcome: str) -> int:
    """OUTCOME_EXIT, except 4 when the session completed but a model failed or was degraded."""
    if outcome == "completed" and any(r.status == "failed" or r.degraded for r in session.runs.values()):
        return EXIT_MODEL_PROBLEM
    return OUTCOME_EXIT[outcome]


def _progress_for(session: Session, out: TextIO) -> _Progress | PlainProgress:
    """Bars on a terminal; plain lines on stdout when it is a pipe or a file (CI)."""
    if out.isatty():
        return _Progress(session)
    return PlainProgress(list(session.runs), session.config.rounds, out)


def _summary(service: SessionService, session: Session, outcome: str, *, quiet: bool) -> None:
    sid = session.session_id
    if outcome == "budget":
        print(
            f"dspy-tui: session {sid} stopped by its budget: {spending_words(session.budget)}; "
            f"`dspy-tui report {sid}` shows what was reached, `dspy-tui resume {sid} --budget USD` "
            "continues with more.",
            file=sys.stderr,
        )
    elif outcome == "stopped" and session.stop_reason == DISK_FULL_REASON:
        print(
            f"dspy-tui: session {sid} interrupted: {DISK_FULL_MESSAGE} (`dspy-tui resume {sid}`).",
            file=sys.stderr,
        )
        return
    elif outcome == "stopped":
        print(f"dspy-tui: session {sid} stopped; resume it with `dspy-tui resume {sid}`.", file=sys.stderr)
    elif outcome == "failed":
        err = service.session(sid).error or "see the log"
        print(f"dspy-tui: session {sid} failed: {err}", file=sys.stderr)
    if quiet or outcome == "failed":
        return
    totals = session.store.call_totals(sid)
    refused = f", {totals['refused_by_budget']} refused by the budget" if totals["refused_by_budget"] else ""
    print(f"session {sid} {outcome}; {cost_words(session)}; {totals['calls']} calls sent{refused}")
    for run in session.runs.values():
        test = "-" if run.test_score is None else f"{run.test_score:.3f}"
        base = "-" if run.baseline is None else f"{run.baseline:.3f}"
        best = "-" if run.best_dev is None else f"{run.best_dev:.3f}"
        print(f"  {run.model:<28} {run.status:<10} baseline {base}  best dev {best}  test {test}")
    for fmt, path in session.report_paths.items():
        print(f"  report ({fmt}): {path}")


def cost_words(session: Session) -> str:
    """The session's cost as a user should read it: offline and unpriced models are not "$0.0000"."""
    from dspy_tui.engine import pricing

    labels = [pricing.price_label(pricing.resolve_price(m.id, m.price)) for m in session.config.models]
    return pricing.cost_words(f"spent {spending_words(session.budget)}", labels)
