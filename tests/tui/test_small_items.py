"""The smaller items of issue 16 (6, 8-10): toasts, quitting from the live screen, dialog keys,
screenshots without ~/Downloads, the palette's names, the home footer and its way back to a live run."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button
from tui_support import (
    MODELS,
    ScriptedSession,
    answer,
    fixed_clock,
    home_lists,
    insert_sessions,
    scripted,
    wait_for,
)

from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens.home import HomeScreen
from dspy_tui.tui.screens.live import LiveScreen
from dspy_tui.tui.screens.modals import ConfirmScreen
from dspy_tui.tui.widgets.table import FitTable


def live_app(paths: Paths, store: SessionStore) -> tuple[DspyTuiApp, ScriptedSession]:
    session = scripted(store, paths, 1)
    return DspyTuiApp(paths, live_session=session, clock=fixed_clock), session


async def test_q_on_the_live_screen_asks_to_stop_and_quit_and_dialogs_show_y_n(
    paths: Paths, store: SessionStore
) -> None:
    app, session = live_app(paths, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(
            pilot, lambda: isinstance(app.screen, LiveScreen) and session.published == len(session.events)
        )
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the quit question")
        labels = [str(b.label) for b in app.screen.query(Button)]
        assert labels == ["Stop and quit (y)", "Cancel (n)"]
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        await pilot.press("escape")  # home: l goes back to the session running here
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), what="back to the live screen")
        session.stop()


async def test_the_preparing_toast_goes_when_preparing_ends(paths: Paths) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        app.notify("Preparing the session (loading the task and models)…")
        await pilot.pause()
        assert len(app._notifications) == 1
        app.preparing = True
        app._prepared(None, "The dataset file x.jsonl does not exist.")
        await pilot.pause()
        assert [n.message for n in app._notifications] == ["The dataset file x.jsonl does not exist."]


async def test_home_footer_lists_open_mark_all_and_settings(paths: Paths, store: SessionStore) -> None:
    insert_sessions(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        shown = {
            b.binding.description for b in app.screen.active_bindings.values() if b.binding.show and b.enabled
        }
        assert {"Open", "Mark all", "Settings", "New session", "Quit"} <= shown
        assert "Live" not in shown  # nothing runs here


async def test_a_screenshot_needs_no_downloads_folder(
    paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "no-home"))  # no ~/Downloads
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        app.deliver_screenshot("shot.svg")
        # the notification, not the file: the file exists before the delivery thread reports back, and
        # an app closed at that moment made the thread fail ("Event loop is closed")
        await wait_for(pilot, lambda: bool(app._notifications), what="the notification")
        [saved] = [n.message for n in app._notifications]
        shot = paths.exports_dir / "screenshots" / "shot.svg"
        assert shot.exists() and saved == f"Saved screenshot to {shot}"  # literal text, no markup left in it


async def test_the_palette_does_not_call_textuals_panel_keys(paths: Paths) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Keys" not in titles and "Key bindings panel" in titles


async def test_home_deletes_after_asking_and_sorts(paths: Paths, store: SessionStore) -> None:
    from textual.widgets import DataTable

    insert_sessions(store)  # sentiment-2 (newest), intent-gpt, sentiment
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 3)
        table = app.screen.query_one("#sessions", DataTable)

        def names() -> list[str]:
            return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]

        assert names() == ["sentiment-2", "intent-gpt", "sentiment"]
        await pilot.press("o")  # by name
        await wait_for(
            pilot, lambda: names() == ["intent-gpt", "sentiment", "sentiment-2"], what="sorted by name"
        )
        assert "Name ▲" in [str(c.label) for c in table.columns.values()]
        await answer(pilot, "d", "n")  # kept
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        assert table.row_count == 3
        home = app.screen
        assert isinstance(home, HomeScreen)
        chosen = home.rows[home.selected_id() or ""].name  # the selection follows its session when sorted
        await answer(pilot, "d", "y")
        await wait_for(pilot, lambda: table.row_count == 2, what="the session deleted")
        assert chosen not in names()


async def test_home_says_an_all_offline_sessions_cost_is_simulated(paths: Paths, store: SessionStore) -> None:
    """Home showed `$0` for a session of offline models where Detail says `$0 sim`: it is not a price."""
    from textual.widgets import DataTable

    for sid, models in (("offline00000", ["offline/small", "offline/base"]), ("hosted000000", MODELS)):
        store.create_session(
            name=sid,
            config={"name": sid},
            task="demo:sentiment",
            seed=0,
            session_id=sid,
            models=[(m, m.split("/")[0]) for m in models],
        )
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 2)
        table = app.screen.query_one("#sessions", DataTable)
        cost = {sid: str(table.get_cell(sid, "cost")) for sid in ("offline00000", "hosted000000")}
    assert cost == {"offline00000": "$0 sim", "hosted000000": "$0"}


async def test_home_at_80_columns_keeps_the_seed_of_a_repeated_runs_name(
    paths: Paths, store: SessionStore
) -> None:
    """Names cut at their end made every seed of a run read `offline demo [seed …`."""
    from tui_support import T0, _history_session

    for seed in (0, 1):
        _history_session(
            store,
            f"seed{seed}aaaaaaa",
            f"offline demo sentiment [seed {seed}]",
            "demo:sentiment",
            T0 - 100 + seed,
            ["a", "b"],
            {"offline/base": (0.5, 0.0, 1)},
        )
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await home_lists(pilot, 2)
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
        for seed in (0, 1):
            assert any(f"[seed {seed}]" in line for line in lines), f"seed {seed} is cut: {lines[:4]}"


def test_two_long_columns_too_wide_for_80_columns_share_the_cut_the_leftmost_giving_first() -> None:
    """A long status took the Model column down to its `least` (14 cells) while keeping its own width;
    now the widest gives a cell at a time, the id before the status at equal widths (seen at 80x24:
    `waiting for 4 mode…` beside a model id one cell longer than needed)."""
    from rich.text import Text

    from dspy_tui.tui.widgets.table import GAP, Col, FitTable

    table = FitTable([Col("model", "Model", most=40, least=14), Col("status", "Status", most=32, least=10)])
    table._cells = {"a": {"model": Text("anthropic/claude-3-5-haiku-20241022"), "status": Text("w" * 20)}}
    widths = dict(table._fit(20 + 20 + 2 * GAP - 2))  # one cell to spare for the scrollbar: 3 too many
    assert widths == {"model": 18 + GAP, "status": 19 + GAP}


def footer_line(app: DspyTuiApp) -> str:
    return [strip.text for strip in app.screen._compositor.render_strips()][-1]


async def test_q_quit_shows_and_quits_on_the_finished_live_screen_at_80_columns(
    paths: Paths, store: SessionStore
) -> None:
    """At 80 columns the finished live screen's footer dropped its last key, `q` Quit (and home dropped
    it once `l` Live was offered): Quit now stays beside `?` Help, and q leaves the app from there."""
    session = scripted(store, paths, 3, finished=True)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.results_shown)
        await pilot.pause(0.2)
        line = footer_line(app)
        for key in ("r Report", "b Results", "esc Home", "q Quit", "? Help"):
            assert key in line, f"{key} is not in the live footer: {line!r}"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.pause(0.2)
        line = footer_line(app)
        assert "l Live" in line and "q Quit" in line, f"home's footer: {line!r}"
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
        await pilot.press("q")  # the session is over: nothing to ask
        await wait_for(pilot, lambda: not app.is_running, what="the app to quit")


async def test_help_lists_a_key_once(paths: Paths, store: SessionStore) -> None:
    """Home's help listed `⏎ Open` twice (the list's enter, home.open_row, and home's, home.open)."""
    insert_sessions(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 3)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        await pilot.pause(0.1)
        box = app.screen.box.region  # the dialog only: the screen behind it shows through, dimmed
        strips = app.screen._compositor.render_strips()[box.y : box.bottom]
        lines = [strip.text[box.x : box.right] for strip in strips]
        opens = [line for line in lines if " Open " in line]
        assert len(opens) == 1, opens


async def test_empty_home_offers_only_the_keys_that_do_something(paths: Paths, store: SessionStore) -> None:
    """An empty home's footer offered Open, Resume, Mark, Compare, Delete, Filter and Mark all, which
    did nothing there: they are hidden until a session is listed, and come back with the first one."""
    app = DspyTuiApp(paths, clock=fixed_clock)
    over_sessions = {"Open", "Resume", "Mark", "Compare", "Filter", "Delete", "Mark all", "All"}
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(
            pilot, lambda: isinstance(app.screen, HomeScreen) and app.screen.query_one("#empty").display
        )
        await pilot.pause()
        words = set(footer_line(app).split())
        assert words & over_sessions == set(), footer_line(app)
        assert {"New", "Keys", "Quit", "Help"} <= words
        await pilot.press("space", "d", "c", "slash")
        assert isinstance(app.screen, HomeScreen) and app.screen.filter_bar is None
        insert_sessions(store)
        app.screen.load_sessions()
        await home_lists(pilot, 3)
        await pilot.pause()
        assert {"Open", "Resume", "Mark", "Compare", "Delete"} <= set(footer_line(app).split())


async def test_a_stopped_sessions_status_line_says_stopped_once(paths: Paths, store: SessionStore) -> None:
    """The live status line read `scripted  stopped  00:30  stopped: user`."""
    app, session = live_app(paths, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and session.published > 0)
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        session.stop()
        await wait_for(pilot, lambda: screen.runner.state.finished, what="the session stopped")
        await pilot.pause()
        line = str(screen.status_line.render())
        assert line.count("stopped") == 1 and "stopped: user" in line, line


def test_a_report_tables_markdown_escapes_read_as_their_characters() -> None:
    """The report viewer showed `set \\[task\\] judge` where the report means `set [task] judge`."""
    from dspy_tui.tui.widgets.report_view import PipeTable

    table = PipeTable.parse(
        ["| metric | a |", "|---|---|", "| judge | n/a (set \\[task\\] judge) |", "| x | a \\| b |"]
    )
    assert table.rows == [["judge", "n/a (set [task] judge)"], ["x", "a | b"]]


async def test_home_puts_its_cursor_on_the_session_just_run_here(paths: Paths, store: SessionStore) -> None:
    """Back on home after a session started here, the cursor stayed on the session opened before it, so
    `r` on home answered for that one ("... is already completed") instead of the session just stopped."""
    ids = insert_sessions(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        home = await home_lists(pilot, 3)
        oldest = ids[0]
        table = home.query_one(FitTable)
        table.move_cursor(row=table.get_row_index(oldest), animate=False)
        assert home.selected_id() == oldest
        session = scripted(store, paths, 3, finished=True)
        app.start_live(session)
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.results_shown)
        await pilot.press("escape")
        await home_lists(pilot, 4)
        await wait_for(pilot, lambda: home.selected_id() == session.session_id, what="the cursor on the run")
        table.move_cursor(row=table.get_row_index(oldest), animate=False)  # the user's own choice then holds
        listed = home.rows
        home.load_sessions()  # the next list (e.g. back from Detail) keeps it
        await wait_for(pilot, lambda: home.rows is not listed, what="home's next list")
        await pilot.pause()
        assert home.selected_id() == oldest
