"""A footer key disabled while a screen loads answers a click once enabled, without rebuilding the footer."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding

from dspy_tui.tui.widgets.key_footer import KeyFooter, ToggleKey


class _Loading(App[None]):
    BINDINGS = [Binding("x", "hit", "Hit")]

    def __init__(self) -> None:
        super().__init__()
        self.loaded = False
        self.hits = 0
        self.bells = 0

    def compose(self) -> ComposeResult:
        yield KeyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "hit" and not self.loaded else True  # None: shown, disabled

    def action_hit(self) -> None:
        self.hits += 1

    def bell(self) -> None:
        self.bells += 1


def _hit_key(app: App[Any]) -> ToggleKey:
    return next(k for k in app.query(ToggleKey) if k.action == "hit")


async def test_a_disabled_key_rings_and_once_enabled_in_place_runs_its_action() -> None:
    app = _Loading()
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause(0.1)
        key = _hit_key(app)
        assert key.has_class("-disabled")
        await pilot.click(key)
        await pilot.pause()
        assert (app.hits, app.bells) == (0, 1)
        app.loaded = True
        app.refresh_bindings()
        await pilot.pause(0.1)
        assert _hit_key(app) is key and not key.has_class("-disabled")  # enabled in place
        await pilot.click(key)
        await pilot.pause()
        assert (app.hits, app.bells) == (1, 1)
