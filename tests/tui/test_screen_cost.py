"""What opening a screen costs, counted rather than timed (timings swing with the machine's load).

benchmarks/screen_latency.py times the same opens; these counts are what made them slow.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.css.stylesheet import Stylesheet
from textual.pilot import Pilot
from textual.widgets import Input
from textual.widgets._footer import FooterKey
from textual_plotext import PlotextPlot
from tui_support import answer, fixed_clock, insert_history, wait_for

from dspy_tui.storage.paths import Paths, resolve_paths
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens import read_first
from dspy_tui.tui.screens.compare import CompareScreen
from dspy_tui.tui.screens.detail import DetailScreen
from dspy_tui.tui.screens.home import HomeScreen
from dspy_tui.tui.screens.modals import ConfirmScreen
from dspy_tui.tui.screens.new_session import NewSessionScreen


@pytest.fixture
def footer_keys_built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The description of every footer key widget built from now on."""
    built: list[str] = []
    init = FooterKey.__init__

    def counting(self: FooterKey, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        built.append(self.description)

    monkeypatch.setattr(FooterKey, "__init__", counting)
    return built


async def test_opening_detail_builds_its_footer_once_and_enables_it_in_place(
    paths: Paths, store: SessionStore, footer_keys_built: list[str]
) -> None:
    """Textual's footer rebuilt every key on each bindings signal: five times for one Detail open."""
    ids = insert_history(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen) and bool(app.screen.rows))
        assert ids[0] in app.screen.rows
        footer_keys_built.clear()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None)
        await pilot.pause(0.2)
        shown = {key.description: key for key in app.screen.query(FooterKey)}
        assert sorted(footer_keys_built) == sorted(shown)  # each key built once
        assert not shown["Report"].has_class(
            "-disabled"
        )  # greyed while loading, enabled once the session is read


def _listing_imports(home: Path) -> list[str]:
    """The heavy modules a fresh process has loaded once home's list is read from `home`."""
    code = (
        "import sys; from dspy_tui.engine.service import SessionService; "
        "from dspy_tui.storage.paths import resolve_paths; "
        f"rows, total = SessionService(resolve_paths({{'DSPY_TUI_HOME': {str(home)!r}}})).list_sessions(None, 10); "
        "print(total, sorted(m for m in ('sqlite_utils', 'numpy', 'click', 'dspy_tui.engine.events') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().split(maxsplit=1)


def test_the_sessions_list_needs_no_sqlite_utils_once_the_schema_is_current(tmp_path: Path) -> None:
    """sqlite-utils (with numpy and click) took longer to import than Textual; it runs migrations only."""
    home = tmp_path / "home"
    paths = resolve_paths({"DSPY_TUI_HOME": str(home)})
    ids = insert_history(SessionStore(paths.db_path))  # a migrated database with sessions
    assert _listing_imports(home) == [str(len(ids)), "[]"]


def test_no_database_yet_lists_no_sessions_and_creates_none(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    assert _listing_imports(home) == ["0", "[]"]
    assert not resolve_paths({"DSPY_TUI_HOME": str(home)}).db_path.exists()


async def test_detail_builds_its_event_filter_on_the_first_f(paths: Paths, store: SessionStore) -> None:
    """The filter panel (13 widgets) was mounted on every open of a session; now on the first `f`."""
    insert_history(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen) and bool(app.screen.rows))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None)
        screen = app.screen
        assert isinstance(screen, DetailScreen) and screen.filter_panel is None
        await pilot.press("f")
        await wait_for(pilot, lambda: screen.filter_panel is not None and screen.filter_panel.display)
        panel = screen.filter_panel
        assert panel is not None and panel.kind_list.has_focus
        await pilot.press("escape")
        await wait_for(pilot, lambda: not panel.display)
        await pilot.press("f")  # the same panel again
        await wait_for(pilot, lambda: panel.display and screen.filter_panel is panel)


async def test_each_open_of_the_new_session_form_starts_from_the_defaults_and_the_settings_of_now(
    paths: Paths, store: SessionStore
) -> None:
    """A form is built when `n` is pressed and used once, so edits never carry over to the next open.
    (It was built ahead while home was idle, through Textual's private screen registration: home then
    failed now and then with NoMatches for a Select's '#label' when the app closed mid-build.)"""
    insert_history(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen) and bool(app.screen.rows))
        app.update_settings(replace(app.settings, budget_usd=2.5))
        await pilot.press("n")
        first = app.screen
        assert isinstance(first, NewSessionScreen)
        await wait_for(pilot, lambda: bool(first.catalog), timeout=30, what="the model catalogue")
        assert first.query_one("#budget", Input).value == "2.5"  # the settings as they are when it opens
        await pilot.press("space")  # the highlighted model toggles
        assert first.selected_models() == ["offline/base", "offline/large"]
        first.query_one("#name", Input).value = "edited"
        await answer(pilot, "escape", "y")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, NewSessionScreen) and form is not first
        assert form.query_one("#name", Input).value == ""
        assert form.query_one("#budget", Input).value == "2.5"


async def test_no_widget_is_restyled_before_it_is_mounted(
    paths: Paths, store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compact Input, Select, Button or Checkbox sets its class while it is built, and Textual restyled
    each such lone widget at once, though it is styled again when mounted: 19 of them in the new-session
    form, a sixth of its CPU when opened. Home's filter panel and settings have them too."""
    restyled: list[str] = []
    update_nodes = Stylesheet.update_nodes

    def recording(self: Stylesheet, nodes: Any, animate: bool = False) -> None:
        nodes = list(nodes)
        restyled.extend(type(node).__name__ for node in nodes[:1] if not node.is_attached)
        update_nodes(self, nodes, animate)

    monkeypatch.setattr(Stylesheet, "update_nodes", recording)
    insert_history(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen) and bool(app.screen.rows))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewSessionScreen) and bool(app.screen.catalog))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("s")  # settings
        await wait_for(
            pilot, lambda: not isinstance(app.screen, HomeScreen) and bool(app.screen.query(Input))
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        home = app.screen
        await pilot.press("slash")  # the filter bar, built on its first open
        await wait_for(pilot, lambda: home.filter_bar is not None and home.filter_bar.is_mounted)
        await pilot.pause()
    assert restyled == []


async def test_home_closed_at_once_and_again_never_fails(paths: Paths, store: SessionStore) -> None:
    """Home painted its list and the app closed 0.2-0.5 s later, sixteen times: no error from anything
    home started in the background (the form it built ahead 0.3 s after the list raised NoMatches)."""
    insert_history(store)
    for i in range(16):
        app = DspyTuiApp(paths, clock=fixed_clock)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(
                pilot, lambda app=app: isinstance(app.screen, HomeScreen) and bool(app.screen.rows)
            )
            await pilot.pause(0.2 + 0.02 * i)


@asynccontextmanager
async def opened_detail(paths: Paths, store: SessionStore) -> AsyncIterator[tuple[Pilot[Any], DetailScreen]]:
    """The app with history, once enter on home has pushed the newest session's Detail."""
    insert_history(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen) and bool(app.screen.rows))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert isinstance(app.screen, DetailScreen)
        yield pilot, app.screen


async def test_detail_and_compare_are_pushed_with_their_data(
    paths: Paths, store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pushed first, they drew a frame of placeholders, then the whole screen again with the data."""
    monkeypatch.setattr(read_first, "READ_GRACE_S", 30.0)  # the read always comes first here
    async with opened_detail(paths, store) as (pilot, screen):
        app = pilot.app
        assert screen.detail is not None  # in its first frame
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("a", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        assert app.screen.data is not None and app.screen.table.row_count > 0


async def test_a_slow_read_shows_the_screen_with_placeholders_first(
    paths: Paths, store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read_first, "READ_GRACE_S", 0.05)
    release = threading.Event()
    read = DetailScreen.read

    def slow(self: DetailScreen) -> Any:
        release.wait(10)  # a database busy with a running session
        return read(self)

    monkeypatch.setattr(DetailScreen, "read", slow)
    async with opened_detail(paths, store) as (pilot, screen):
        assert screen.detail is None and "Loading the session" in str(screen.status_line.render())
        release.set()
        await wait_for(pilot, lambda: screen.detail is not None and screen.results.row_count > 0)


async def test_opening_detail_builds_its_chart_once_and_lays_out_without_a_passing_scrollbar(
    paths: Paths, store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """plotext built the round chart 5 times per open (once per render): an empty chart, then each
    relayout, one of them for a horizontal scrollbar the results table showed before it knew its width."""
    builds: list[Any] = []
    render = PlotextPlot.render

    def counting(self: PlotextPlot) -> Any:
        builds.append(self.size)
        return render(self)

    monkeypatch.setattr(PlotextPlot, "render", counting)
    async with opened_detail(paths, store) as (pilot, screen):
        await wait_for(pilot, lambda: screen.detail is not None)
        await pilot.pause(0.3)
        assert len(builds) == 1, builds
        assert screen.results.styles.overflow_x == "hidden"  # its columns fit: no scrollbar


async def test_an_edit_made_before_the_model_list_comes_still_asks_before_it_is_discarded(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalogue's first arrival took the form as it then was for the untouched form: an edit
    made before it (a slow keyring) was then discarded by escape without asking."""
    from dspy_tui.engine import catalog

    gate = threading.Event()
    known = catalog.known_models

    def slow() -> Any:
        gate.wait(10)
        return known()

    monkeypatch.setattr(catalog, "known_models", slow)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        form = app.screen
        assert isinstance(form, NewSessionScreen)
        await pilot.press("space")
        assert form.selected_models() == ["offline/base", "offline/large"]
        gate.set()
        await wait_for(pilot, lambda: bool(form.catalog), timeout=30, what="the catalogue")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))


@pytest.fixture
def frames(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str]]]:
    """Each frame the app draws: its screen's class and the footer keys it shows enabled."""
    drawn: list[tuple[str, list[str]]] = []
    display = DspyTuiApp._display

    def recording(self: DspyTuiApp, screen: Any, renderable: Any) -> None:
        keys = [k.description for k in screen.query(FooterKey) if not k.has_class("-disabled")]
        drawn.append((type(screen).__name__, keys))
        display(self, screen, renderable)

    monkeypatch.setattr(DspyTuiApp, "_display", recording)
    return drawn


def first_frame(frames: list[tuple[str, list[str]]], screen: type) -> list[str]:
    return next(keys for name, keys in frames if name == screen.__name__)


async def test_each_screen_draws_its_footer_keys_in_its_first_frame(
    paths: Paths, store: SessionStore, frames: list[tuple[str, list[str]]]
) -> None:
    """Textual's footer mounts its keys after the screen's first frame (the first bindings signal waits
    for a refresh): every open drew a blank footer, then laid out and drew the whole screen again."""
    async with opened_detail(paths, store) as (pilot, detail):
        app = pilot.app
        await wait_for(pilot, lambda: detail.detail is not None)
        await pilot.pause(0.1)
        await pilot.press("escape", "a", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.data is not None)
        await pilot.pause(0.1)
        await pilot.press("escape", "n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        await pilot.pause(0.1)
    firsts = {
        s.__name__: first_frame(frames, s)
        for s in (HomeScreen, DetailScreen, CompareScreen, NewSessionScreen)
    }
    assert "Open" in firsts["HomeScreen"], firsts
    assert "Report" in firsts["DetailScreen"], firsts  # enabled: the session was read before the push
    assert "Sort" in firsts["CompareScreen"], firsts
    assert "Start" in firsts["NewSessionScreen"], firsts


async def test_detail_and_compare_fill_their_tables_once_when_opened_again(
    paths: Paths, store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows set before the first layout were fitted to no width, drawn, then cleared, fitted to the width
    and drawn again: each open filled and drew its table twice."""
    from dspy_tui.tui.widgets.table import FitTable

    fills: list[str] = []
    clear = FitTable.clear

    def counting(self: FitTable, *args: Any, **kwargs: Any) -> Any:
        fills.append(str(self.id))
        return clear(self, *args, **kwargs)

    monkeypatch.setattr(FitTable, "clear", counting)
    insert_history(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen) and bool(app.screen.rows))
        for _ in range(2):  # the first open of each learns the table's width
            fills.clear()
            await pilot.press("enter")
            await wait_for(
                pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None
            )
            await pilot.pause(0.2)
            detail_fills = fills.count("results")
            fills.clear()
            await pilot.press("escape", "a", "c")
            await wait_for(
                pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.verdicts is not None
            )
            compare_fills = fills.count("compare-table")
            await pilot.press("escape", "a")  # a again: nothing marked
            await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        assert (detail_fills, compare_fills) == (1, 2)  # compare's second: the verdicts column
