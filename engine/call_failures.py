"""Why a model's calls failed, in words, for the sentence its failure shows.

DSPy's optimizers end a run of failed calls with "Execution cancelled due
to errors or interruption.", which names no cause. The session keeps a
tally of every model's failed calls (from the `CallCompleted` events) so
that its failure can say what happened, e.g. "12 of 20 calls timed out
after 120 s".
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict

from dspy_tui.storage.call_outcomes import outcome

from . import events as ev

CANCELLED_BY_DSPY = "Execution cancelled due to errors or interruption."


class CallFailures:
    """Per model: calls sent and failed calls by kind (the runtime's `error_kind`)."""

    def __init__(self) -> None:
        self._calls: Counter[str] = Counter()
        self._failed: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._lock = threading.Lock()

    def on_event(self, event: ev.Event) -> None:
        """Count calls that were sent: not cache hits, budget refusals, or calls never let out."""
        if not isinstance(event, ev.CallCompleted) or not event.model:
            return
        kind = outcome(event.status, event.error_kind, event.cache_hit)
        if kind not in ("ok", "failed") or event.error_kind == "model_failed":
            return
        with self._lock:
            self._calls[event.model] += 1
            if event.status != "ok":
                self._failed[event.model][event.error_kind or "error"] += 1

    def describe(self, model: str, *, timeout_s: float, base_url: str | None) -> str | None:
        """One sentence on this model's failed calls, most common kind first; None if none failed."""
        with self._lock:
            calls, failed = self._calls[model], Counter(self._failed[model])
        if not failed:
            return None
        where = f" at {base_url}" if base_url else ""
        words = {
            "timeout": f"timed out after {timeout_s:g} s",
            "transport": f"could not connect or lost the connection{where}",
            "rate_limit": "were rate-limited (HTTP 429)",
            "server": "got a server error (HTTP 5xx)",
            "auth": "were refused: the API key was not accepted",
            "billing": "were refused: the account has no credit or quota left",
        }
        parts = [(n, words.get(kind, f"failed ({kind})")) for kind, n in failed.most_common()]
        if len(parts) == 1:
            return f"{parts[0][0]} of {calls} calls {parts[0][1]}."
        return (
            f"{sum(failed.values())} of {calls} calls failed: "
            + ", ".join(f"{n} {w}" for n, w in parts)
            + "."
        )
