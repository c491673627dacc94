"""A session as the app holds it: the engine Session (if it runs here), its event buffer and its live state.

Everything in this module that reads SQLite or imports the engine's heavy
parts (pricing pulls in DSPy) is called from thread workers, never from the
UI thread. The bus subscriber only appends to a buffer; the live screen
drains it on a timer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dspy_tui.storage.paths import Paths
from dspy_tui.tui.live_state import EventBuffer, LiveState, replay

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchmarkRow:
    """One model's final benchmark, as stored."""

    model: str
    status: str
    test_score: float | None
    ci: tuple[float, float] | None
    cost_usd: float
    cost_per_correct: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    calls: int


class SessionRunner:
    """One session shown by the app: running here (`session` set) or read back from the database."""

    def __init__(self, state: LiveState, session: Any | None = None) -> None:
        self.state = state
        self.session = session
        self.buffer = EventBuffer()
        self.done = threading.Event()
        self.outcome: str | None = None
        self.error: str | None = None
        self.results: list[BenchmarkRow] = []
        self.price_labels: dict[str, str] = {}
        self._unsubscribe: Callable[[], None] | None = None
        if session is not None:
            self._unsubscribe = session.bus.subscribe(self.buffer.append)
        else:
            self.done.set()

    @classmethod
    def for_session(cls, session: Any) -> SessionRunner:
        """A runner for a prepared engine Session (fresh or resumed)."""
        return cls(LiveState.from_config(session.session_id, session.config.model_dump(mode="json")), session)

    @property
    def session_id(self) -> str:
        return self.state.session_id

    @property
    def running(self) -> bool:
        return self.session is not None and not self.done.is_set()

    def stop(self) -> None:
        """Ask the engine to stop at once; the worker ends soon after and the session stays resumable."""
        if self.session is not None and not self.done.is_set():
            self.session.stop("user")

    def run(self, db_path: Path, before_run: Callable[[LiveState | None, dict[str, str]], None]) -> str:
        """The engine worker's body: labels and history, then the whole session; never raises."""
        assert self.session is not None
        outcome = "failed"
        started = False
        try:
            labels = price_labels(self.session.config.model_dump(mode="json"))
            history = None
            if self.session.resumed:
                history = load_state(db_path, self.session_id)
            before_run(history, labels)
            started = True
            outcome = self.session.run()
        except BaseException as exc:  # noqa: BLE001 - the UI shows one sentence; the session keeps its state
            log.exception("session %s ended with an error", self.session_id)
            self.error = one_sentence(exc)
            if not started:  # prepared (stored as running) but never run: leave it resumable
                outcome = "stopped"
                _mark_interrupted(db_path, self.session_id)
        finally:
            try:
                self.results = load_results(db_path, self.session_id)
            except Exception as exc:  # noqa: BLE001 - results are a view; the run itself is stored
                self.error = self.error or one_sentence(exc)
            self.outcome = outcome
            if self._unsubscribe is not None:
                self._unsubscribe()
            self.done.set()
        return outcome


def one_sentence(exc: BaseException) -> str:
    """A user-facing sentence for an error: its first line, never a traceback."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if text.endswith((".", "!", "?")) else text + "."


# -- database reads (thread workers only) ------------------------------------
def _store(db_path: Path) -> Any:
    from dspy_tui.storage.sessions import SessionStore

    return SessionStore(db_path)


def load_state(db_path: Path, session_id: str) -> LiveState:
    """A session's live state rebuilt from its stored events."""
    store = _store(db_path)
    try:
        session = store.get_session(session_id)
        state = LiveState.from_config(session_id, session["config"])
        replay(state, store.events(session_id))
        if not state.finished and session["status"] != "running":
            state.status = session["status"]  # interrupted: no end event was stored
        state.error = state.error or session["error"] or ""
        return state
    finally:
        store.close()


def _mark_interrupted(db_path: Path, session_id: str) -> None:
    try:
        store = _store(db_path)
        try:
            store.update_status(session_id, "interrupted")
        finally:
            store.close()
    except Exception:  # noqa: BLE001 - the status is a courtesy; the run already failed
        log.exception("could not mark session %s interrupted", session_id)


def load_results(db_path: Path, session_id: str) -> list[BenchmarkRow]:
    store = _store(db_path)
    try:
        models = store.session_models(session_id)
    finally:
        store.close()
    rows = []
    for m in models:
        res = m["results"]
        scores = res.get("test_scores") or []
        correct = sum(scores)
        ci = (m["test_ci_low"], m["test_ci_high"]) if m["test_ci_low"] is not None else None
        rows.append(BenchmarkRow(
            model=m["model"], status=m["status"], test_score=m["test_score"], ci=ci,
            cost_usd=float(m["cost_usd"] or 0.0),
            cost_per_correct=(m["cost_usd"] or 0.0) / correct if correct else None,
            latency_p50_ms=res.get("benchmark_latency_p50_ms") or res.get("latency_p50_ms"),
            latency_p95_ms=res.get("benchmark_latency_p95_ms") or res.get("latency_p95_ms"),
            calls=int(m["calls"] or 0),
        ))
    return rows


def load_report(db_path: Path, session_id: str) -> str | None:
    store = _store(db_path)
    try:
        content: str | None = store.report(session_id, "md")
        return content
    finally:
        store.close()


def stored_report_paths(paths: Paths, session_id: str) -> dict[str, str]:
    out = paths.exports_dir / session_id
    return {fmt: str(out / f"report.{fmt}") for fmt in ("md", "json", "html") if (out / f"report.{fmt}").exists()}


def price_labels(config: dict[str, Any]) -> dict[str, str]:
    """model -> "offline/simulated", "local", "list price …", "override" or "unpriced" (imports pricing: DSPy)."""
    from dspy_tui.engine.pricing import price_for
    from dspy_tui.engine.providers.registry import split_model

    labels = {}
    for m in config.get("models", []):
        model_id = m["id"] if isinstance(m, dict) else str(m)
        override = m.get("price") if isinstance(m, dict) else None
        try:
            provider, name = split_model(model_id)
        except ValueError:
            labels[model_id] = "unpriced"
            continue
        price = price_for(provider, name, {model_id: override} if override else None)
        labels[model_id] = price.label if price else "unpriced"
    return labels


def prepare_session(paths: Paths, config: Any, session_id: str | None = None) -> Any:
    """Build and prepare an engine Session (thread workers only: imports DSPy, reads the keyring)."""
    from dspy_tui.engine.session import Session
    from dspy_tui.storage import keys
    from dspy_tui.storage.sessions import SessionStore

    store = SessionStore(paths.db_path)
    session = Session(config, store=store, paths=paths, keys=keys.get_key, session_id=session_id)
    session.prepare()
    return session


def prepare_resume(paths: Paths, session_id: str) -> Any:
    """The stored config of `session_id`, prepared to resume (thread workers only)."""
    from dspy_tui.engine.config import parse_config

    store = _store(paths.db_path)
    try:
        stored = store.get_session(session_id)
    finally:
        store.close()
    if stored["status"] == "completed":
        raise ValueError(f"Session {session_id} is already completed; open it to see its results.")
    config = parse_config(stored["config"], f"session {session_id}")
    return prepare_session(paths, config, session_id=session_id)
