"""Plain progress lines for headless runs whose stdout is not a terminal (CI logs, `| cat`).

A progress bar redraws itself with ANSI codes, which a log file shows as noise or, buffered,
not at all until the end. Here every model's step is one flushed line as it happens
(baseline, each round, transfer, test, converged, degraded, failed), and a status line comes
every `interval_s` seconds so a long round still shows the run is alive. A provider that
throttles the run gets a line when it starts to (then at most one per `interval_s` while it
goes on) and one when it stops, so a slow run says why.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

from dspy_tui.engine import events as ev
from dspy_tui.engine.provider_stats import describe

HEARTBEAT_S = 10.0


class PlainProgress:
    """Subscribe `on_event` to the session's bus; use as a context manager for the status lines."""

    def __init__(self, models: list[str], rounds: int, out: TextIO, interval_s: float = HEARTBEAT_S) -> None:
        self.out = out
        self.rounds = rounds
        self.interval_s = interval_s
        self.started = time.monotonic()
        self.state = {m: "starting" for m in models}
        self._baselined: set[str] = set()
        self._throttled: dict[str, float] = {}  # provider -> when its last throttling line went out
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="dspy-tui-progress", daemon=True)

    def __enter__(self) -> PlainProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def line(self, text: str) -> None:
        elapsed = int(time.monotonic() - self.started)
        with self._lock:
            self.out.write(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {text}\n")
            self.out.flush()

    def _set(self, model: str, state: str) -> None:
        self.state[model] = state
        self.line(f"{model}: {state}")

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.line("running: " + "; ".join(f"{m} {s}" for m, s in self.state.items()))

    def on_event(self, e: ev.Event) -> None:
        model = e.model or ""
        if isinstance(e, ev.PhaseStarted):
            self.line(f"{model}: phase {e.phase} started" if model else f"phase {e.phase} started")
        elif isinstance(e, ev.RoundCompleted):
            if model not in self._baselined:
                self._baselined.add(model)
                step = "baseline"
            elif e.round == 0:
                step = "cross-model transfer"
            else:
                step = f"round {e.round}/{self.rounds}"
            self._set(model, f"{step} dev {e.dev_score:.3f} (best {e.best_dev_score:.3f})")
        elif isinstance(e, ev.BenchmarkProgress) and e.test_score is not None:
            self._set(model, f"test {e.test_score:.3f}")
        elif isinstance(e, ev.ModelConverged):
            self._set(model, f"converged at round {e.round}: {e.reason}")
        elif isinstance(e, ev.ModelDegraded):
            self._set(model, f"degraded: {e.reason}")
        elif isinstance(e, ev.ModelFailed):
            self._set(model, f"failed: {e.error}")
        elif isinstance(e, ev.ModelThrottled):
            self._set(model, e.text())
        elif isinstance(e, ev.ProviderStats):
            self._throttling(e)
        elif isinstance(e, ev.BudgetWarning):
            self.line(f"budget warning: ${e.spent_usd:.4f} of ${e.budget_usd:.4f} spent")

    def _throttling(self, e: ev.ProviderStats) -> None:
        now = time.monotonic()
        for provider, status in e.by_provider().items():
            if status.throttled:
                last = self._throttled.get(provider)
                if last is None or now - last >= self.interval_s:
                    self._throttled[provider] = now
                    figures, warnings = describe(status)
                    self.line(f"{provider} throttled: " + " · ".join(figures + warnings))
            elif self._throttled.pop(provider, None) is not None:
                self.line(f"{provider} no longer throttled")
