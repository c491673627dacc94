"""Pilot tests of the history screens: session detail, compare, filters, keys, settings, the command palette."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList, SelectionList
from tui_support import (
    PROGRAM_SIGNATURE,
    PROGRAM_STATE,
    T0,
    _history_session,
    answer,
    fixed_clock,
    home_lists,
    insert_history,
    new_session_form,
    wait_for,
)

from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore, UnknownSession
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens.compare import CompareScreen
from dspy_tui.tui.screens.detail import DetailScreen
from dspy_tui.tui.screens.home import HomeScreen
from dspy_tui.tui.screens.keys import KeysScreen
from dspy_tui.tui.screens.modals import ConfirmScreen, PickManyScreen, PickScreen, ReportScreen, SecretScreen
from dspy_tui.tui.screens.settings import SettingsScreen
from dspy_tui.tui.settings import Settings, load_settings, save_settings
from dspy_tui.tui.widgets.round_chart import RoundChart


def home_table(app: DspyTuiApp) -> DataTable[Any]:
    return app.screen.query_one("#sessions", DataTable)


async def select_row(pilot: Pilot[Any], session_id: str) -> None:
    table = home_table(pilot.app)  # type: ignore[arg-type]
    table.move_cursor(row=table.get_row_index(session_id))
    await pilot.pause()


async def open_detail(pilot: Pilot[Any], session_id: str) -> DetailScreen:
    app = pilot.app
    await select_row(pilot, session_id)
    await pilot.press("enter")
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None,
        what="the session detail",
    )
    assert isinstance(app.screen, DetailScreen)
    return app.screen


async def pick(pilot: Pilot[Any], choice: str) -> None:
    """Choose `choice` in the open PickScreen."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, PickScreen))
    screen = app.screen
    assert isinstance(screen, PickScreen)
    options = screen.query_one(OptionList)
    options.highlighted = screen.choices.index(choice)
    await pilot.press("enter")


async def test_detail_shows_the_session_and_exports_report_and_program(
    paths: Paths, store: SessionStore
) -> None:
    ids = insert_history(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 3)
        screen = await open_detail(pilot, ids[0])
        results = screen.query_one("#results", DataTable)
        assert results.row_count == 3
        assert str(results.get_cell("openai/gpt-4o-mini", "test")) == "0.850"
        assert str(results.get_cell("openai/gpt-4o-mini", "ci")) == "0.73-0.95"
        assert str(results.get_cell("openai/gpt-4o-mini", "per_correct")) == "$0.0012"  # 0.0421 / 34 correct
        assert str(results.get_cell("offline/base", "cost")) == "$0 sim"
        assert str(results.get_cell("openai/gpt-4o-mini", "errors")) == "1"
        assert screen.query_one(RoundChart).points_drawn > 6
        transfers = screen.transfers.region
        drawn = [strip.text for strip in app.screen._compositor.render_strips()]
        assert any("← openai/gpt-4o-mini" in line for line in drawn[transfers.y : transfers.bottom])
        assert len(screen.log_view.shown) > 20
        # the report, rendered from the database
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReportScreen), timeout=30, what="the report")
        assert "dspy-tui report: sentiment-a" in app.screen.markdown
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        # the report as files
        await pilot.press("x")
        await pick(pilot, "md, json and html")
        out = paths.exports_dir / ids[0]
        await wait_for(
            pilot,
            lambda: all((out / f"report.{f}").exists() for f in ("md", "json", "html")),
            timeout=30,
            what="the report files",
        )
        assert json.loads((out / "report.json").read_text())["session"]["name"] == "sentiment-a"
        # a model's program, which loads in plain DSPy
        await pilot.press("e")
        await pick(pilot, "offline/base")
        program_path = out / "offline_base.json"
        await wait_for(pilot, lambda: program_path.exists(), timeout=30, what="the program file")
    import dspy

    program = dspy.Predict(PROGRAM_SIGNATURE)
    program.load(str(program_path))
    assert [dict(d) for d in program.demos] == PROGRAM_STATE["demos"]


async def test_delete_asks_first_and_rerun_asks_before_starting(paths: Paths, store: SessionStore) -> None:
    ids = insert_history(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 3)
        screen = await open_detail(pilot, ids[2])
        await answer(pilot, "d", "n")  # no: nothing is lost
        await wait_for(pilot, lambda: app.screen is screen)
        assert store.get_session(ids[2]).name == "intent-c"
        await answer(pilot, "f5", "escape")  # escape means no
        await wait_for(pilot, lambda: app.screen is screen)
        assert not app.preparing and app.runner is None
        await answer(pilot, "d", "y")
        await home_lists(pilot, 2)
    with pytest.raises(UnknownSession):
        store.get_session(ids[2])


async def test_rerun_starts_a_new_session_with_the_stored_setup(paths: Paths, store: SessionStore) -> None:
    """The stored setup needs an OpenAI key this machine lacks: the re-run is refused in one sentence."""
    ids = insert_history(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 3)
        await open_detail(pilot, ids[1])
        await answer(pilot, "f5", "y")
        await wait_for(
            pilot,
            lambda: any(n.severity == "error" for n in app._notifications),
            timeout=60,
            what="the preparation to end",
        )
        assert not app.preparing
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert len(errors) == 1 and "OPENAI_API_KEY" in errors[0], errors
        assert isinstance(app.screen, DetailScreen) and app.runner is None


async def test_compare_two_sessions_sort_and_pick(paths: Paths, store: SessionStore) -> None:
    ids = insert_history(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        home = await home_lists(pilot, 3)
        await pilot.press("c")  # nothing marked: a sentence
        await select_row(pilot, ids[1])
        await pilot.press("space")  # marks and moves down
        await pilot.press("space")
        assert home.marked == [ids[1], ids[0]]
        assert str(home_table(app).get_cell(ids[0], "mark")) == "●"
        await pilot.press("c")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, CompareScreen) and app.screen.verdicts is not None,
            timeout=30,
            what="the comparison and its verdicts",
        )
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert screen.data is not None and screen.data.comparable
        assert "Comparable" in str(screen.notice.render())
        table = screen.table

        def column(key: str) -> list[str]:
            return [str(table.get_cell_at((i, table.get_column_index(key)))) for i in range(table.row_count)]

        assert table.row_count == 5
        assert column("test") == ["0.900", "0.850", "0.725", "0.675", "0.550"]  # best first
        assert column("verdict")[0] == "best"
        assert column("verdict")[1].endswith("n.s.") and column("verdict")[-1] == "-0.350 sig"
        await pilot.press("o")  # the next column: the CI, highest first
        assert screen.sort_key == "ci" and screen.sort_reverse
        await pilot.press("o", "o")  # past the verdicts to cost, cheapest first
        assert screen.sort_key == "cost" and not screen.sort_reverse
        assert column("cost")[-2:] == ["$0.0388", "$0.0421"]
        # a click on a header sorts by it; a second click turns the order round
        await pilot.click("#compare-table", offset=(91, 0))  # the p50 header
        assert screen.sort_key == "p50"
        first = column("p50")
        await pilot.click("#compare-table", offset=(91, 0))
        assert screen.sort_reverse and column("p50") == first[::-1]
        # only some models: gpt-4o-mini of both sessions
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, PickManyScreen))
        app.screen.query_one(SelectionList).deselect_all().select(f"{ids[0]}:openai/gpt-4o-mini").select(
            f"{ids[1]}:openai/gpt-4o-mini"
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen and table.row_count == 2)
        assert set(screen.trend_chart.lines) == {"openai/gpt-4o-mini"}
        assert len(screen.trend_chart.lines["openai/gpt-4o-mini"]) == 2  # one task over time: a trend
        assert screen.trend_chart.note == ""
        await pilot.press("v")
        await pilot.press("v")
        assert screen.query_one("#charts").active == "trend"


async def test_sessions_of_other_tasks_are_labelled_not_comparable(paths: Paths, store: SessionStore) -> None:
    insert_history(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 3)
        await pilot.press("a", "c")  # mark all, compare
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, CompareScreen) and app.screen.verdicts is not None,
            timeout=30,
        )
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.data is not None
        assert not screen.data.comparable and set(screen.data.groups) == {"A", "B"}
        assert "Not comparable" in str(screen.notice.render())
        assert "Not comparable" in screen.trend_chart.note
        table = screen.table
        sets = [str(table.get_cell_at((i, table.get_column_index("set")))) for i in range(table.row_count)]
        assert sets == sorted(sets)  # each test set's rows together
        bests = [
            str(table.get_cell_at((i, table.get_column_index("verdict")))) for i in range(table.row_count)
        ]
        assert bests.count("best") == 2  # one best per set, never across sets


async def test_home_filters_by_text_task_model_status_and_dates(paths: Paths, store: SessionStore) -> None:
    ids = insert_history(store)
    store.update_status(ids[0], "stopped")
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        home = await home_lists(pilot, 3)
        await pilot.press("slash")
        await wait_for(
            pilot,
            lambda: (
                home.filter_bar is not None
                and home.filter_bar.display
                and app.focused is home.query_one("#filter-text")
            ),
        )
        await pilot.press(*"intent")
        await home_lists(pilot, 1)
        assert home.selected_id() == ids[2]
        home.filter_bar.clear()
        await home_lists(pilot, 3)
        home.query_one("#filter-task", Input).value = "sentiment"
        home.query_one("#filter-status").value = "completed"
        await wait_for(
            pilot, lambda: home.session_filter.status == "completed" and home_table(app).row_count == 1
        )
        assert home.selected_id() == ids[1]
        home.filter_bar.clear()
        home.query_one("#filter-model", Input).value = "small"
        await wait_for(pilot, lambda: home.session_filter.model == "small" and home_table(app).row_count == 1)
        home.filter_bar.clear()
        home.query_one("#filter-since", Input).value = "2025-12-28"
        home.query_one("#filter-until", Input).value = "2025-12-28"
        await wait_for(
            pilot, lambda: home.session_filter.until is not None and home_table(app).row_count == 1
        )
        assert home.selected_id() == ids[1] and "from 2025-12-28" in str(
            home.query_one("#list-status").render()
        )
        home.query_one("#filter-since", Input).value = "yesterday"
        await wait_for(pilot, lambda: any("date like" in n.message for n in app._notifications))
        assert home_table(app).row_count == 1  # the last good filter stays
        home.query_one("#filter-text", Input).value = "nothing like this"
        await pilot.press("escape")  # the bar closes, the filter stays
        assert not home.query_one("#filter-bar").display


async def test_keys_set_and_delete_with_a_keyring(
    paths: Paths, memory_keyring: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-from-the-environment-0000")
    secret = "sk-ant-api03-very-secret-value-9876"
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 0)
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, KeysScreen) and app.screen.available is not None)
        screen = app.screen
        assert isinstance(screen, KeysScreen)
        table = screen.query_one(DataTable)
        assert str(table.get_cell("groq", "source")) == "environment (GROQ_API_KEY)"
        assert str(table.get_cell("anthropic", "source")) == "missing"
        table.move_cursor(row=table.get_row_index("anthropic"))
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SecretScreen))
        field = app.screen.query_one(Input)
        assert field.password
        field.value = secret
        await pilot.press("enter")
        await wait_for(pilot, lambda: memory_keyring.store.get(("dspy-tui", "anthropic")) == secret)
        await wait_for(pilot, lambda: str(table.get_cell("anthropic", "source")) == "keyring")
        assert str(table.get_cell("anthropic", "key")) == "sk-...9876"
        await answer(pilot, "s", "n")  # replacing a stored key asks first
        await wait_for(pilot, lambda: isinstance(app.screen, KeysScreen))
        assert memory_keyring.store[("dspy-tui", "anthropic")] == secret
        table.move_cursor(row=table.get_row_index("groq"))
        await pilot.press("d")  # an environment key is not ours to delete: a sentence
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        table.move_cursor(row=table.get_row_index("anthropic"))
        await answer(pilot, "d", "y")
        await wait_for(pilot, lambda: ("dspy-tui", "anthropic") not in memory_keyring.store)
        await wait_for(pilot, lambda: str(table.get_cell("anthropic", "source")) == "missing")
        shown = " ".join(n.message for n in app._notifications) + str(app.export_screenshot())
        assert secret not in shown and "very-secret" not in shown


async def test_keys_without_a_keyring_name_the_environment_variables(paths: Paths) -> None:
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())  # the conftest fixture puts its own back
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 0)
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, KeysScreen) and app.screen.available is False)
        note = str(app.screen.query_one("#keyring-note").render())
        assert "no OS keyring" in note and "OPENAI_API_KEY" in note and "ANTHROPIC_API_KEY" in note
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, KeysScreen)  # nothing to type a key into
        # but the key says why (issue 16.8): it named nothing before
        assert any(
            "no OS keyring backend" in n.message and "OPENAI_API_KEY" in n.message for n in app._notifications
        )


async def test_settings_are_saved_and_new_sessions_start_from_them(paths: Paths) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 0)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsScreen))
        screen = app.screen
        screen.query_one("#budget", Input).value = "2.5"
        screen.query_one("#concurrency", Input).value = "99"
        await pilot.press("ctrl+s")  # out of range: said, not saved
        assert load_settings(paths.settings_path).concurrency is None
        screen.query_one("#concurrency", Input).value = "4"
        await answer(pilot, "escape", "n")  # unsaved edits: asks
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: load_settings(paths.settings_path).concurrency == 4, what="the settings file"
        )
        assert load_settings(paths.settings_path).budget_usd == 2.5
        screen.query_one("#theme").value = "nord"
        await wait_for(pilot, lambda: load_settings(paths.settings_path).theme == "nord")
        assert load_settings(paths.settings_path).budget_usd == 2.5  # the theme keeps the rest
        await pilot.press("escape")
        await home_lists(pilot, 0)
        form = await new_session_form(pilot)
        assert form.query_one("#budget", Input).value == "2.5"
        data = form.form_data()
        assert data["budget_usd"] == 2.5 and data["concurrency"] == 4


async def test_palette_offers_the_screens_actions(paths: Paths, store: SessionStore) -> None:
    ids = insert_history(store)
    save_settings(paths.settings_path, Settings(keymap={"detail.report": "o"}))
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 3)

        async def run_command(text: str) -> None:
            await pilot.press("ctrl+p")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette")
            # the whole text at once, as a paste: typed key by key, each key waited for the screen to be
            # idle and started a search of its own (5.7 s of this test's 9.1)
            app.screen.query_one(Input).value = text
            await pilot.pause(0.3)
            await pilot.press("enter")

        await run_command("api keys")
        await wait_for(pilot, lambda: isinstance(app.screen, KeysScreen), what="keys from the palette")
        await run_command("back to the list")
        await home_lists(pilot, 3)
        await select_row(pilot, ids[0])
        await run_command("open the selected")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None)
        await run_command("open the report")
        await wait_for(
            pilot, lambda: isinstance(app.screen, ReportScreen), timeout=30, what="report from palette"
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("o")  # remapped in settings.toml by binding id
        await wait_for(
            pilot, lambda: isinstance(app.screen, ReportScreen), timeout=30, what="the remapped key"
        )


async def test_a_screen_dismissed_right_after_it_was_pushed_leaves_the_app_running(paths: Paths) -> None:
    """The flaky `NoMatches 'HeaderTitle'` of the palette test: Textual's Header sets its title from a
    watcher that runs as a later message; a screen popped before it ran had removed the title and the
    update took the app down. Popping after 0-7 message turns hit that window on the old Header."""
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 0)
        for turns in [k % 8 for k in range(40)]:
            app.push_screen(KeysScreen())
            for _ in range(turns):
                await pilot.pause(0)
            app.pop_screen()
            await pilot.pause(0.05)
        assert isinstance(app.screen, HomeScreen)
        assert "dspy-tui" in str(app.screen.query_one("HeaderTitle").render())


def test_every_binding_has_an_id() -> None:
    from dspy_tui.tui.screens import compare, detail, home, keys, live, modals, new_session, settings

    screens = [
        home.HomeScreen,
        detail.DetailScreen,
        compare.CompareScreen,
        keys.KeysScreen,
        live.LiveScreen,
        settings.SettingsScreen,
        new_session.NewSessionScreen,
        modals.ConfirmScreen,
        modals.PickScreen,
        modals.PickManyScreen,
        modals.SecretScreen,
        modals.HelpScreen,
        modals.ReportScreen,
        DspyTuiApp,
    ]
    missing = [f"{s.__name__}:{b.key}" for s in screens for b in s.BINDINGS if not getattr(b, "id", None)]
    assert not missing


def test_history_reads_never_touch_the_calls_table(paths: Paths, store: SessionStore) -> None:
    """The list and compare queries stay fast with a million calls because they do not read them."""
    from dspy_tui.storage.history import LIST_SQL, SessionFilter, compare_rows, list_sessions

    ids = insert_history(store)
    rows, total = list_sessions(store, SessionFilter(model="gpt", since=0.0), 10)
    assert total == 3 and [r.id for r in rows] == ids[::-1]
    assert "calls" not in LIST_SQL.replace("cost_usd", "")
    traced: list[str] = []
    store._conn().set_trace_callback(traced.append)
    compare_rows(store, ids[:2])
    store._conn().set_trace_callback(None)
    assert traced and not any(" calls" in sql for sql in traced)


def test_exports_land_in_the_exports_dir(paths: Paths, store: SessionStore) -> None:
    from dspy_tui.engine.service import SessionService

    ids = insert_history(store)
    written = SessionService(paths).write_reports(ids[1], ("html",))
    assert written == {"html": paths.exports_dir / ids[1] / "report.html"}
    assert Path(written["html"]).read_text().startswith("<!DOCTYPE html>")


def test_start_up_loads_no_history_code() -> None:
    """The history screens, the filter bar, charts and SQLite's helper library load when first used."""
    import subprocess
    import sys

    code = (
        "import sys, dspy_tui.cli.main, dspy_tui.tui.app; "
        "print(sorted(m for m in ('sqlite_utils', 'textual_plotext', 'dspy_tui.tui.history', "
        "'dspy_tui.tui.screens.detail', 'dspy_tui.tui.widgets.filter_bar', 'pydantic', 'dspy_tui.engine.events') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_detail_shows_all_fourteen_metrics_with_reasons(paths: Paths, store: SessionStore) -> None:
    """Issue 15: every metric is on the Detail screen, n/a with its reason where it has none; issue 12:
    and the cost of each phase."""
    from dspy_tui.engine.pricing import PRICES_AS_OF

    ids = insert_history(store)
    store.update_model(
        ids[0],
        "openai/gpt-4o-mini",
        results={
            "metrics": {
                "values": {
                    "accuracy": 0.85,
                    "latency_p50_ms": 812.0,
                    "latency_p95_ms": 2400.0,
                    "error_rate": 0.025,
                },
                "na": {"coherence": "no judge configured"},
            }
        },
    )
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 3)
        screen = await open_detail(pilot, ids[0])
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, ReportScreen), what="the metrics table")
        markdown, _, costs = app.screen.markdown.partition("## Cost by phase")
        rows = [
            line
            for line in markdown.splitlines()
            if line.startswith("| ") and not line.startswith("| metric")
        ]
        assert len(rows) == 14
        # then each model's spend per phase, one-off, cost per correct and where its price comes from
        assert "| model | price | baseline | optimization | cross_model | benchmark | one-off |" in costs
        assert f"| openai/gpt-4o-mini | list {PRICES_AS_OF} |" in costs
        gpt = next(i for i, m in enumerate(screen.detail.models) if m.model == "openai/gpt-4o-mini")  # type: ignore[union-attr]
        cells = {row.split(" | ")[0][2:]: row.strip("| ").split(" | ")[1 + gpt] for row in rows}
        assert cells["accuracy (task metric, test)"] == "0.850"
        assert "812" in cells["latency p50 / p95 (provider time, test)"]
        assert cells["coherence (judge)"] == "n/a (no judge configured)"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_compare_pairs_the_seeds_of_a_repeated_run_as_the_cli_does(
    paths: Paths, store: SessionStore
) -> None:
    """Issue 15: two seeds of one repeated run compared in the TUI get the CLI's summary over seeds."""
    from dspy_tui.engine.repeats import render_text, summarise

    models = ["openai/gpt-4o-mini", "offline/base"]
    ids = [f"seed{i}aaaaaaa" for i in range(2)]
    test_ids = [f"ex-{k:02d}" for k in range(40)]
    for i, sid in enumerate(ids):
        results = {models[0]: (0.5, 0.04, 28 + 4 * i), models[1]: (0.4, 0.0, 20 + i)}
        _history_session(store, sid, f"rep [seed {i}]", "demo:sentiment", T0 - 100 + i, test_ids, results)
        config = store.get_session(sid).config | {"repeat_group": "grp1", "seed": i}
        conn = store._conn()
        conn.execute(
            "UPDATE sessions SET seed = ?, config_json = ? WHERE id = ?", (i, json.dumps(config), sid)
        )
        conn.commit()
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 2)
        await pilot.press("a", "c")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, CompareScreen) and bool(app.screen.seed_summaries),
            timeout=30,
            what="the summary over seeds",
        )
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        cli = render_text(summarise([store.get_session(sid) for sid in ids]))
        shown = str(screen.query_one("#seeds-text").render())
        assert "(seed, example) pairs" in shown and "leads in" in shown
        assert shown.splitlines() == cli.splitlines()  # the same numbers as the CLI
        assert "Seeds 0, 1 of one repeated run" in str(screen.notice.render())
        await pilot.press("v", "v", "v")
        assert screen.query_one("#charts").active == "seeds"
