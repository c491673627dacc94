"""Every screen of the app, reached as a user would, over hard data (issue 16's "Done when").

Five models with long ids, hosted prices and latencies over a second: two finished sessions of one
name in the database, and a scripted live session with a rate-limited model. `reach(pilot, name)`
opens the screen `name` from the app's start; the snapshot and layout tests go through it, so a
screen added here is covered by both at 120x40 and 80x24.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input
from tui_support import (
    T0,
    ScriptedSession,
    _history_session,
    fixed_clock,
    home_lists,
    make_config,
    script,
    wait_for,
)

from dspy_tui.engine import events as ev
from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens.compare import CompareScreen
from dspy_tui.tui.screens.detail import DetailScreen
from dspy_tui.tui.screens.keys import KeysScreen
from dspy_tui.tui.screens.live import LiveScreen
from dspy_tui.tui.screens.modals import ConfirmScreen, HelpScreen, ReportScreen
from dspy_tui.tui.screens.new_session import NewSessionScreen
from dspy_tui.tui.screens.settings import SettingsScreen

WIDE = [
    "anthropic/claude-3-5-haiku-20241022",
    "openai/gpt-4o-mini-2024-07-18",
    "gemini/gemini-1.5-flash-002",
    "groq/llama-3.1-70b-versatile",
    "offline/base",
]
SIZES = [(120, 40), (80, 24)]
HISTORY_SCREENS = ["home", "help", "delete", "keys", "settings", "new_session", "detail", "report", "compare"]
LIVE_SCREENS = ["live", "stop", "live_finished"]
SCREENS = HISTORY_SCREENS + LIVE_SCREENS


def slow_wide_session(store: SessionStore, sid: str, name: str, created: float) -> str:
    _history_session(
        store,
        sid,
        name,
        "demo:sentiment",
        created,
        [f"sent-{i:02d}" for i in range(40)],
        {
            m: (0.4 + 0.02 * k, 0.0 if m.startswith("offline/") else 0.0421 + k * 0.01, 20 + k)
            for k, m in enumerate(WIDE)
        },
    )
    for k, m in enumerate(WIDE):
        store.update_model(
            sid,
            m,
            results={
                "benchmark_latency_p50_ms": 3592.0 + 10 * k,
                "benchmark_latency_p95_ms": 12_199.0 + 1000 * k,
                "tokens_in": 243_100 + k,
                "tokens_out": 10_194,
            },
        )
    return sid


def insert_wide_history(store: SessionStore) -> list[str]:
    """Two sessions with one name in the same minute: the id and the seconds tell them apart."""
    return [
        slow_wide_session(store, "wide0aaaaaaa", "same name", T0 - 100),
        slow_wide_session(store, "wide1bbbbbbb", "same name", T0 - 95),
    ]


def slow_events(models: list[str], finished: bool) -> list[ev.Event]:
    out = []
    for e in script(models, rounds_done=3 if finished else 2, finished=finished):
        if isinstance(e, ev.CallCompleted):
            e = e.model_copy(update={"latency_ms": e.latency_ms * 30})
        elif isinstance(e, ev.RoundCompleted):
            e = e.model_copy(update={"latency_p50_ms": (e.latency_p50_ms or 0) * 30, "tokens_in": 243_100})
        out.append(e)
    return out


def wide_live_session(store: SessionStore, paths: Paths, *, finished: bool) -> ScriptedSession:
    events = slow_events(WIDE, finished)
    if not finished:  # a long status: the Model column must keep its share (issue 16, seen at 80 columns)
        events.append(ev.ModelThrottled(model=WIDE[1], reason="rate limited", retry_in_s=74, ts=T0 + 58))
    return ScriptedSession(store, paths, events, hold=not finished, config=make_config(WIDE, budget=0.5))


def wide_app(name: str, paths: Paths, store: SessionStore) -> DspyTuiApp:
    """The app `reach(…, name)` starts from: home over the wide history, or a live wide session."""
    if name in LIVE_SCREENS:
        session = wide_live_session(store, paths, finished=name == "live_finished")
        return DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    insert_wide_history(store)
    return DspyTuiApp(paths, clock=fixed_clock)


def still(pilot: Pilot[Any]) -> None:
    """No blinking cursors: a snapshot must not depend on the moment it is taken."""
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False


async def reach(pilot: Pilot[Any], name: str) -> None:
    """Open screen `name` from the start of `wide_app(name, …)` and wait until its data is drawn."""
    app = pilot.app
    if name in LIVE_SCREENS:
        await live_screen(pilot, finished=name == "live_finished")
        if name == "stop":
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the stop question")
        if name == "live_finished":  # the session's end toast: posted as the engine's worker ends
            await wait_for(
                pilot, lambda: not any(w.group == "engine" and not w.is_finished for w in app.workers)
            )
            await pilot.pause()  # Textual's notify is a message: handled here, before the clear
        app.clear_notifications()
        await wait_for(pilot, lambda: not app.screen.query("Toast"), what="no toast left")
        await pilot.pause(0.2)
        return
    await home_lists(pilot, 2)
    for keys, ready in OPEN[name]:
        await pilot.press(*keys)
        await wait_for(pilot, lambda ready=ready: ready(app.screen), timeout=60, what=f"the {name} screen")
    app.clear_notifications()  # a toast's end depends on how fast the screen came (`Rendering the report…`)
    still(pilot)
    await pilot.pause(0.3)


async def live_screen(pilot: Pilot[Any], *, finished: bool) -> None:
    app = pilot.app

    def shown() -> bool:
        screen = app.screen
        if not isinstance(screen, LiveScreen):
            return False
        session = screen.runner.session
        assert isinstance(session, ScriptedSession)
        if finished:
            return screen.results_shown
        return session.published == len(session.events) and bool(screen.runner.price_labels)

    await wait_for(pilot, shown, what="the live screen's data")
    screen = app.screen
    assert isinstance(screen, LiveScreen)
    screen.flush()  # every published event folded in now, not at the next timer tick


def _new_session_ready(screen: object) -> bool:
    return (
        isinstance(screen, NewSessionScreen)
        and screen.estimates is not None
        and len(screen.query_one("#models").options) > 3
    )


def _detail_ready(screen: object) -> bool:
    return isinstance(screen, DetailScreen) and screen.detail is not None


OPEN: dict[str, list[tuple[tuple[str, ...], Callable[[object], bool]]]] = {  # keys from home, then ready
    "home": [((), lambda s: True)],
    "help": [(("question_mark",), lambda s: isinstance(s, HelpScreen))],
    "delete": [(("d",), lambda s: isinstance(s, ConfirmScreen))],
    "keys": [(("k",), lambda s: isinstance(s, KeysScreen) and s.available is not None)],
    "settings": [(("s",), lambda s: isinstance(s, SettingsScreen))],
    "new_session": [(("n",), _new_session_ready)],
    "detail": [(("enter",), _detail_ready)],
    "report": [(("enter",), _detail_ready), (("r",), lambda s: isinstance(s, ReportScreen))],
    "compare": [(("space", "space", "c"), lambda s: isinstance(s, CompareScreen) and s.verdicts is not None)],
}
