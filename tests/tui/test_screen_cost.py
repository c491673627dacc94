"""What opening a screen costs, counted rather than timed (timings swing with the machine's load).

benchmarks/screen_latency.py times the same opens; these counts are what made them slow.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets._footer import FooterKey
from tui_support import fixed_clock, insert_history, wait_for

from dspy_tui.storage.paths import Paths
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
