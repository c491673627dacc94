"""The Events pane: sentences, folded LM calls, search, visible filters, an event's JSON (issue 16.4)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from textual.pilot import Pilot
from tui_support import MODELS, T0, ScriptedSession, fixed_clock, script, scripted, wait_for

from dspy_tui.engine import events as ev
from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.event_text import event_line
from dspy_tui.tui.screens.live import LiveScreen
from dspy_tui.tui.screens.modals import EventScreen


@pytest.mark.parametrize("kind", sorted(ev.EVENT_TYPES))
def test_every_event_reads_as_a_sentence_not_its_type_name(kind: str) -> None:
    event = ev.parse_event({"type": kind, "ts": T0, "model": "openai/gpt-4o-mini"})
    text = event_line(event).plain
    assert kind not in text, text


def test_a_budget_refusal_is_not_a_red_error() -> None:
    refusal = ev.CallCompleted(
        model="openai/gpt-4o-mini", status="refused", error_kind="BudgetExhausted", ts=T0
    )
    line = event_line(refusal)
    assert "budget" in line.plain and "error" not in line.plain
    assert all("red" not in str(span.style) for span in line.spans)


@asynccontextmanager
async def live_screen(
    paths: Paths, store: SessionStore, events: list[ev.Event], size: tuple[int, int]
) -> AsyncIterator[tuple[Pilot[Any], LiveScreen, ScriptedSession]]:
    """The live screen of a held scripted session, once every event of `events` is published."""
    session = ScriptedSession(store, paths, events, hold=True)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: session.published == len(events), what="the script")
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        yield pilot, screen, session


def log_lines(screen: LiveScreen) -> list[str]:
    return [event_line(e).plain for e in screen.log_view.shown]


async def test_calls_fold_search_narrows_and_enter_opens_the_json(paths: Paths, store: SessionStore) -> None:
    events = script(MODELS, rounds_done=2, finished=False)
    events.append(
        ev.CallCompleted(
            model="openai/gpt-4o-mini", status="refused", error_kind="BudgetExhausted", ts=T0 + 60
        )
    )
    async with live_screen(paths, store, events, (120, 40)) as (pilot, screen, session):
        app = pilot.app
        await pilot.pause(0.4)
        pane = screen.events_pane
        assert not any(line.startswith("call ") for line in map(_text_of_event, screen.log_view.shown))
        counts = str(pane.calls.render())
        assert (
            "offline/base 14 calls" in counts and "1 refused by the budget" in counts and "c shows" in counts
        )
        assert pane.border_title == "Events"
        await pilot.press("c")
        await wait_for(pilot, lambda: any(isinstance(e, ev.CallCompleted) for e in screen.log_view.shown))
        assert "each call shown" in str(pane.border_title)
        await pilot.press("c", "slash")
        await pilot.press(*"round 2")
        await wait_for(pilot, lambda: "search “round 2”" in str(pane.border_title), what="the title")
        assert log_lines(screen) and all("round 2" in line for line in log_lines(screen))
        await pilot.press("enter")  # keep the search, back to the log
        assert screen.log_view.has_focus
        await pilot.press("up", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, EventScreen), what="the event's JSON")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("slash", "escape")  # escape in the search clears it
        await wait_for(pilot, lambda: pane.border_title == "Events", what="the search cleared")
        assert app.screen is screen
        session.stop()


def _text_of_event(e: Any) -> str:
    return event_line(e).plain.split(" ", 1)[1]


async def test_the_log_keeps_the_newest_event_in_view_when_its_height_changes(
    paths: Paths, store: SessionStore
) -> None:
    """Following the end, a shorter log (a terminal resized, a first layout after the events arrived)
    still shows the newest event: it used to stay where the taller log's end had been."""
    session = scripted(store, paths, 3, finished=True)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(
            pilot, lambda: isinstance(app.screen, LiveScreen) and session.published == len(session.events)
        )
        await pilot.pause(0.3)
        assert isinstance(app.screen, LiveScreen)
        newest = event_line(app.screen.events_pane.log_view.shown[-1]).plain
        for height in (30, 24, 40):
            await pilot.resize_terminal(120, height)
            await pilot.pause(0.3)
            log = app.screen.events_pane.log_view.region
            drawn = [strip.text for strip in app.screen._compositor.render_strips()][log.y : log.bottom]
            assert any(newest in line for line in drawn), f"the newest event is out of view at 120x{height}"


async def test_a_stored_sessions_log_shows_its_newest_event_in_its_first_frame(
    paths: Paths, store: SessionStore
) -> None:
    """Detail's log drew its oldest events in the screen's first frame and jumped to the newest a
    layout later (the scroll to the end waited for a refresh)."""
    from tui_support import insert_history

    from dspy_tui.tui.screens.detail import DetailScreen
    from dspy_tui.tui.screens.home import HomeScreen

    insert_history(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    first: list[list[str]] = []  # the log's lines in the first frame with the session in it
    display = app._display

    def watched(screen: Any, update: Any) -> None:
        display(screen, update)
        if (
            isinstance(screen, DetailScreen)
            and screen.detail is not None
            and update is not None
            and not first
        ):
            log = screen.log_view.region
            first.append([strip.text for strip in screen._compositor.render_strips()][log.y : log.bottom])

    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen) and bool(app.screen.rows))
        app._display = watched  # type: ignore[method-assign]
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(first))
        assert isinstance(app.screen, DetailScreen)
        shown = app.screen.log_view.shown
        assert len(shown) > app.screen.log_view.size.height  # more than fit: the end is not the start
        newest = event_line(shown[-1]).plain
    assert any(newest in line for line in first[0]), first[0]


async def test_an_event_line_cut_at_the_panes_edge_ends_in_an_ellipsis(
    paths: Paths, store: SessionStore
) -> None:
    """At 80 columns a round's line lost its end without a sign (`…, 79 calls, $`): it ends in `…`."""
    long_id = "anthropic/claude-3-5-haiku-20241022"
    events = [*script(MODELS, rounds_done=1, finished=False)]
    events.append(ev.ModelThrottled(model=long_id, reason="rate limited", retry_in_s=74, ts=T0 + 60))
    async with live_screen(paths, store, events, (60, 24)) as (pilot, screen, session):
        screen.flush()
        await pilot.pause(0.2)
        log = screen.log_view
        last = log.render_line(len(log.shown) - 1 - log.scroll_offset.y)  # the newest event's row
        assert event_line(log.shown[-1]).cell_len > log.size.width
        assert last.text.endswith("…") and len(last.text) == log.size.width, repr(last.text)
        session.stop()


def test_the_spend_is_logged_only_against_a_budget() -> None:
    """With no budget every round logged `spent $0 so far`: the cost pane says it, and there is no
    budget for the line to measure. It stays for a budgeted session, and for a filter asking for it."""
    from dspy_tui.tui.widgets.event_log import EventFilter

    unbudgeted = ev.CostUpdated(spent_usd=0.0, ts=T0)
    budgeted = ev.CostUpdated(spent_usd=0.01, budget_usd=0.05, ts=T0)
    assert not EventFilter().accepts(unbudgeted)
    assert EventFilter().accepts(budgeted)
    assert event_line(budgeted).plain.endswith("spent $0.0100 of $0.0500 so far")
    assert EventFilter(kinds=frozenset({"cost_updated"})).accepts(unbudgeted)
