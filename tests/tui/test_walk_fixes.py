"""Defects the lead found walking the TUI as a user (five hosted models, stopped with `s`, resumed with `r`)."""

from __future__ import annotations

import html
import re
from types import SimpleNamespace

from tui_support import fixed_clock, home_lists, insert_history, wait_for

from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui import format as fmt
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens.detail import DetailScreen
from dspy_tui.tui.screens.modals import ConfirmScreen


def test_no_change_in_a_score_reads_as_plus_or_minus_zero() -> None:
    """Detail's transfers pane read `0.000 → 0.000 0`: the bare `0` looked like a stray digit."""
    model = SimpleNamespace(
        model="openai/gpt-4o-mini",
        transfer={"source_model": "groq/llama-3.3-70b-versatile", "before": 0.0, "after": 0.0, "kept": False},
    )
    detail = SimpleNamespace(models=[model], config={})
    pane = DetailScreen._transfers_text(detail, ["openai/gpt-4o-mini"])  # type: ignore[arg-type]
    lines = [line.plain.strip() for line in pane.renderables]  # type: ignore[union-attr]
    assert lines[-1] == "0.000 → 0.000 ±0"
    assert (fmt.delta(0.0002), fmt.delta(0.02), fmt.delta(-0.02), fmt.delta(None)) == (
        "±0",
        "+0.020",
        "-0.020",
        "-",
    )


async def test_a_confirm_dialog_leaves_the_screen_behind_it_in_view(
    paths: Paths, store: SessionStore
) -> None:
    """`s` on the live screen asks "Stop this session now?": in a terminal only the dialog was drawn, the
    screen behind blanked (app.tcss gave every ModalScreen an opaque background); now it shows, dimmed."""
    insert_history(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 3)
        app.push_screen(ConfirmScreen("Delete this session?"))
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause(0.1)
        drawn = _plain(app.export_screenshot())
        assert "Delete this session?" in drawn
        assert "sentiment-a" in drawn, "the home list behind the dialog is not drawn"


def _plain(svg: str) -> str:
    """The text of an SVG screenshot (Textual writes each run of text in its own <text> element)."""
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")
