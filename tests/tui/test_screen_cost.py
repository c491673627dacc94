"""What opening a screen costs, counted rather than timed (timings swing with the machine's load).

benchmarks/screen_latency.py times the same opens; these counts are what made them slow.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets._footer import FooterKey
from tui_support import fixed_clock, insert_history, wait_for

from dspy_tui.storage.paths import Paths, resolve_paths
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens.detail import DetailScreen
from dspy_tui.tui.screens.home import HomeScreen


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
        await pilot.pause()
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
