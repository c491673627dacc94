"""Names, model ids, errors and events that look like Rich markup are shown as typed, never parsed (issue 13.4).

A session named `A/B test [/]` used to crash the app on every launch; each screen that shows a
user- or provider-supplied string is opened here with such strings.
"""

from __future__ import annotations

from textual.widgets import DataTable, Label
from tui_support import T0, _history_session, fixed_clock, home_lists, wait_for

from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens.compare import CompareScreen
from dspy_tui.tui.screens.detail import DetailScreen
from dspy_tui.tui.screens.home import HomeScreen
from dspy_tui.tui.screens.modals import ConfirmScreen, PickManyScreen, ReportScreen

NAME = "A/B test [/]"
ODD_MODEL = "openrouter/[bold]x[/]"


def hostile_sessions(store: SessionStore) -> list[str]:
    ids = [f"hostile{i}aaaa" for i in range(2)]
    for i, sid in enumerate(ids):
        _history_session(
            store,
            sid,
            NAME if i == 0 else "[red]second",
            "demo:sentiment",
            T0 - 3_600 * (i + 1),
            [f"s-{k:02d}" for k in range(40)],
            {"offline/base": (0.5, 0.0, 20), ODD_MODEL: (0.4, 0.01, 24)},
        )
    store.update_status(ids[0], "failed", error="provider said [/] and [bold]no")
    store.append_events(
        ids[0], [{"type": "model_failed", "model": ODD_MODEL, "error": "bad [/x] tag", "ts": T0}]
    )
    return ids


def screen_text(app: DspyTuiApp) -> str:
    """What the current screen shows, as plain text (every Static and every table cell)."""
    from textual.widgets import Static

    parts = [str(w.render()) for w in app.screen.query(Static)]
    for table in app.screen.query(DataTable):
        for row in range(table.row_count):
            parts.extend(str(c) for c in table.get_row_at(row))
    return "\n".join(parts)


async def test_markup_in_names_models_and_errors_is_shown_verbatim(paths: Paths, store: SessionStore) -> None:
    ids = hostile_sessions(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 2)
        assert NAME in screen_text(app)
        assert "[red]second" in screen_text(app)
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None,
            what="detail",
        )
        shown = screen_text(app)
        assert NAME in shown and "provider said [/] and [bold]no" in shown and ODD_MODEL in shown
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReportScreen), what="report")
        await pilot.press("escape")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="home again")
        await pilot.press("space", "space", "c")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, CompareScreen) and app.screen.verdicts is not None,
            what="compare",
        )
        assert ODD_MODEL in screen_text(app)
        await pilot.press("p")  # the model picker lists the names
        await wait_for(pilot, lambda: isinstance(app.screen, PickManyScreen), what="the picker")
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="home")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None)
        await pilot.press("d")  # the confirmation names the session
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        question = str(app.screen.query_one(Label).render())
        assert (
            "Delete session [red]second (hostile1aaaa)" in question or f"Delete session {NAME} (" in question
        )
        await pilot.press("n")
        assert app.return_code is None
    assert ids
