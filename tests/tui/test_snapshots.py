"""SVG snapshots of every screen at 120x40, with a fixed clock, time zone, data and no animation.

Regenerate after an intended change with
`pytest tests/tui/test_snapshots.py --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input
from tui_support import MODELS, ScriptedSession, fixed_clock, insert_sessions, script, wait_for

from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens.home import HomeScreen
from dspy_tui.tui.screens.live import LiveScreen
from dspy_tui.tui.screens.new_session import NewSessionScreen

SIZE = (120, 40)


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """A relative data dir, so paths shown on screen read the same in every run."""
    monkeypatch.chdir(tmp_path)
    return Paths(data_dir=Path("home"), config_dir=Path("home") / "config")


def still(pilot: Pilot[Any]) -> None:
    """No blinking cursors: a snapshot must not depend on the moment it is taken."""
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False


async def home_loaded(pilot: Pilot[Any], rows: int) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
    if rows:
        await wait_for(pilot, lambda: app.screen.query_one("#sessions", DataTable).row_count == rows)
    else:
        await wait_for(pilot, lambda: app.screen.query_one("#empty").display)
    await pilot.pause()


def test_home_first_launch(snap_compare: Any, paths: Paths) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=lambda pilot: home_loaded(pilot, 0))


def test_home_with_sessions(snap_compare: Any, paths: Paths, store: SessionStore) -> None:
    insert_sessions(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=lambda pilot: home_loaded(pilot, 3))


def test_new_session(snap_compare: Any, paths: Paths) -> None:
    async def ready(pilot: Pilot[Any]) -> None:
        await home_loaded(pilot, 0)
        await pilot.press("n")
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        await wait_for(pilot, lambda: app.screen.estimates is not None, timeout=60, what="the estimate")
        await wait_for(pilot, lambda: len(app.screen.query_one("#models").options) > 3, what="the catalogue")
        still(pilot)
        await pilot.pause()

    app = DspyTuiApp(paths, clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def live_app(paths: Paths, store: SessionStore, *, finished: bool) -> tuple[DspyTuiApp, ScriptedSession]:
    events = script(MODELS, rounds_done=3 if finished else 2, finished=finished)
    session = ScriptedSession(store, paths, events, hold=not finished)
    return DspyTuiApp(paths, live_session=session, clock=fixed_clock), session


def test_live_mid_run(snap_compare: Any, paths: Paths, store: SessionStore) -> None:
    app, session = live_app(paths, store, finished=False)

    async def ready(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and session.published == len(session.events))
        await wait_for(pilot, lambda: bool(app.screen.runner.price_labels), what="the price labels")
        await pilot.pause(0.6)  # two flushes

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_live_finished(snap_compare: Any, paths: Paths, store: SessionStore) -> None:
    app, session = live_app(paths, store, finished=True)

    async def ready(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.results_shown)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_live_mid_run_80x24(snap_compare: Any, paths: Paths, store: SessionStore) -> None:
    app, session = live_app(paths, store, finished=False)

    async def ready(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and session.published == len(session.events))
        await wait_for(pilot, lambda: bool(app.screen.runner.price_labels), what="the price labels")
        await pilot.pause(0.6)

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)
