"""SVG snapshots of every screen at 120x40 (some at 80x24), with a fixed clock, time zone, data and no animation.

Regenerate after an intended change with
`pytest tests/tui/test_snapshots.py --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input
from tui_support import (
    MODELS,
    ScriptedSession,
    fixed_clock,
    insert_history,
    insert_sessions,
    script,
    wait_for,
)

from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens.compare import CompareScreen
from dspy_tui.tui.screens.detail import DetailScreen
from dspy_tui.tui.screens.home import HomeScreen
from dspy_tui.tui.screens.keys import KeysScreen
from dspy_tui.tui.screens.live import LiveScreen
from dspy_tui.tui.screens.new_session import NewSessionScreen
from dspy_tui.tui.screens.settings import SettingsScreen
from dspy_tui.tui.settings import Settings, save_settings

SIZE = (120, 40)


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """A relative data dir, so paths shown on screen read the same in every run."""
    monkeypatch.chdir(tmp_path)
    return Paths.under(Path("home"))


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


async def live_mid_run(pilot: Pilot[Any], session: ScriptedSession) -> None:
    """The live screen once every event the held session publishes is drawn, with the price labels."""
    app = pilot.app
    await wait_for(
        pilot, lambda: isinstance(app.screen, LiveScreen) and session.published == len(session.events)
    )
    await wait_for(pilot, lambda: bool(app.screen.runner.price_labels), what="the price labels")
    app.screen.flush()  # every published event folded in now, not at the next timer tick
    await pilot.pause()


def test_live_mid_run(snap_compare: Any, paths: Paths, store: SessionStore) -> None:
    app, session = live_app(paths, store, finished=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=lambda pilot: live_mid_run(pilot, session))


def test_live_finished(snap_compare: Any, paths: Paths, store: SessionStore) -> None:
    app, session = live_app(paths, store, finished=True)

    async def ready(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.results_shown)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_live_mid_run_80x24(snap_compare: Any, paths: Paths, store: SessionStore) -> None:
    app, session = live_app(paths, store, finished=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=lambda pilot: live_mid_run(pilot, session))


# -- history: detail, compare, keys, settings (fixed sessions inserted into the database) ---------------
async def history_home(pilot: Pilot[Any]) -> list[str]:
    await home_loaded(pilot, 3)
    table = pilot.app.screen.query_one("#sessions", DataTable)
    return [str(table.coordinate_to_cell_key((i, 0)).row_key.value) for i in range(table.row_count)]


async def oldest_detail(pilot: Pilot[Any]) -> None:
    """The detail of the oldest session (three models, transfers, errors), loaded."""
    await history_home(pilot)
    await pilot.press("down", "down", "enter")
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None)
    await pilot.pause(0.3)


def test_detail(snap_compare: Any, paths: Paths, store: SessionStore) -> None:
    insert_history(store)
    assert snap_compare(DspyTuiApp(paths, clock=fixed_clock), terminal_size=SIZE, run_before=oldest_detail)


def test_detail_80x24(snap_compare: Any, paths: Paths, store: SessionStore) -> None:
    insert_history(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    assert snap_compare(app, terminal_size=(80, 24), run_before=oldest_detail)


async def compared(pilot: Pilot[Any], *keys: str) -> None:
    """From home, `keys` mark sessions and open the compare screen; back once its verdicts are in."""
    await history_home(pilot)
    await pilot.press(*keys)
    app = pilot.app
    await wait_for(
        pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.verdicts is not None, timeout=30
    )


def test_compare(snap_compare: Any, paths: Paths, store: SessionStore) -> None:
    """The two sentiment sessions: comparable, with verdicts and the score-vs-cost chart."""
    insert_history(store)

    async def ready(pilot: Pilot[Any]) -> None:
        await compared(pilot, "down", "space", "space", "c")
        await pilot.pause(0.3)

    assert snap_compare(DspyTuiApp(paths, clock=fixed_clock), terminal_size=SIZE, run_before=ready)


def test_compare_not_comparable_rounds(snap_compare: Any, paths: Paths, store: SessionStore) -> None:
    """All three sessions (two test sets), on the overlaid round curves."""
    insert_history(store)

    async def ready(pilot: Pilot[Any]) -> None:
        await compared(pilot, "a", "c")
        await pilot.press("v")
        await pilot.pause(0.3)

    assert snap_compare(DspyTuiApp(paths, clock=fixed_clock), terminal_size=SIZE, run_before=ready)


def test_keys(snap_compare: Any, paths: Paths, memory_keyring: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    memory_keyring.set_password("dspy-tui", "openai", "sk-proj-stored-in-keyring-AB12")
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-from-the-environment-CD34")

    async def ready(pilot: Pilot[Any]) -> None:
        await home_loaded(pilot, 0)
        await pilot.press("k")
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, KeysScreen) and app.screen.available is not None)
        await pilot.pause(0.2)

    assert snap_compare(DspyTuiApp(paths, clock=fixed_clock), terminal_size=SIZE, run_before=ready)


def test_settings(snap_compare: Any, paths: Paths) -> None:
    save_settings(paths.settings_path, Settings(budget_usd=1.5, concurrency=6, keymap={"live.stop": "x"}))

    async def ready(pilot: Pilot[Any]) -> None:
        await home_loaded(pilot, 0)
        await pilot.press("s")
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsScreen))
        still(pilot)
        await pilot.pause(0.2)

    assert snap_compare(DspyTuiApp(paths, clock=fixed_clock), terminal_size=SIZE, run_before=ready)
