"""One whole session in a fresh database, timed the way the session benchmarks time it: `run()` alone."""

from __future__ import annotations

import time
from pathlib import Path

from dspy_tui.engine.config import SessionConfig
from dspy_tui.engine.session import Session
from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore


def fresh_session(config: SessionConfig, folder: str) -> Session:
    """A session whose database and files live in `folder` (a temporary directory)."""
    paths = Paths.under(Path(folder))
    return Session(config, store=SessionStore(paths.db_path), paths=paths)


def timed_run(session: Session) -> float:
    """Prepare the session, then the wall seconds of its run; one that does not complete ends the benchmark."""
    session.prepare()
    start = time.perf_counter()
    outcome = session.run()
    wall = time.perf_counter() - start
    if outcome != "completed":
        raise SystemExit(f"the session ended {outcome}")
    return wall
