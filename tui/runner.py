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
from typing import TYPE_CHECKING, Any

from dspy_tui.storage.paths import Paths
from dspy_tui.tui.live_state import EventBuffer, LiveState, replay

if TYPE_CHECKING:
    from dspy_tui.engine.service import SessionService
    from dspy_tui.storage.results import ModelResult

log = logging.getLogger(__name__)


class SessionRunner:
    """One session shown by the app: running here (`session` set) or read back from the database."""

    def __init__(self, state: LiveState, session: Any | None = None) -> None:
        self.state = state
        self.session = session
        self.buffer = EventBuffer()
        self.done = threading.Event()
        self.outcome: str | None = None
        self.error: str | None = None
        self.results: list[ModelResult] = []
        self.price_labels: dict[str, str] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._stored = False  # the state already holds the session's stored events (a resume)
        if session is not None:
            self._unsubscribe = session.bus.subscribe(self.buffer.append)
        else:
            self.done.set()

    @classmethod
    def for_session(cls, session: Any, stored: LiveState | None = None) -> SessionRunner:
        """A runner for a prepared engine Session (fresh, or resumed from its `stored` state)."""
        runner = cls(
            stored or LiveState.from_config(session.session_id, session.config.model_dump(mode="json")),
            session,
        )
        runner._stored = stored is not None
        return runner

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

    def run(
        self, service: SessionService, before_run: Callable[[LiveState | None, dict[str, str]], None]
    ) -> str:
        """The engine worker's body: labels and history, then the whole session; never raises."""
        from dspy_tui.engine.service import price_labels

        assert self.session is not None
        outcome = "failed"
        started = False
        config = self.session.config.model_dump(mode="json")
        try:
            labels = price_labels(config)
            history = None
            if self.session.resumed and not self._stored:
                history = load_state(service, self.session_id)
            before_run(history, labels)
            started = True
            outcome = service.start(self.session)
        except BaseException as exc:  # noqa: BLE001 - the UI shows one sentence; the session keeps its state
            log.exception("session %s ended with an error", self.session_id)
            self.error = one_sentence(exc)
            if not started:  # prepared (stored as running) but never run: leave it resumable
                outcome = "stopped"
                _abandon(service, self.session)
        finally:
            try:
                self.results = service.results(self.session_id, config)
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
def load_state(service: SessionService, session_id: str) -> LiveState:
    """A session's live state rebuilt from its stored events."""
    session = service.session(session_id)
    state = LiveState.from_config(session_id, session.config)
    replay(state, service.events(session_id))
    if not state.finished and session.status != "running":
        state.status = session.status  # interrupted: no end event was stored
    state.error = state.error or session.error or ""
    return state


def _abandon(service: SessionService, session: Any) -> None:
    try:
        service.abandon(session)
    except Exception:  # noqa: BLE001 - the status is a courtesy; the run already failed
        log.exception("could not mark session %s interrupted", session.session_id)


def service_for(paths: Paths) -> SessionService:
    """The session service over the app's data directory (cheap: it opens the database per call)."""
    from dspy_tui.engine.service import SessionService

    return SessionService(paths)
