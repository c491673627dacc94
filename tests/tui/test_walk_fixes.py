"""Defects the lead found walking the TUI as a user (five hosted models, stopped with `s`, resumed with `r`)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from textual import events
from textual.keys import _character_to_key
from textual.widgets import Input
from tui_support import fixed_clock, home_lists, insert_history, new_session_form, wait_for

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


def test_the_eta_after_a_resume_is_learnt_from_calls_sent_not_from_the_cache_replay() -> None:
    """Before the stop the ETA read 08:01; right after `r` it read 00:22 for every model: the resume
    replays the finished steps from the cache in a moment, and the ETA took them for fast work. It says
    `-` until a step is done on calls sent, then it is that step's pace."""
    from dspy_tui.engine import events as ev
    from dspy_tui.tui.live_state import LiveState

    model = "openai/gpt-4o-mini"
    state = LiveState("s1", "eta", [model], rounds=4, cross_model=False, budget_usd=None)  # 6 steps

    def step(phase: str, round_no: int, start: float, seconds: float, *, cached: bool) -> None:
        """One step: its phase, a call (answered from the cache or sent) and the round's end."""
        state.apply([ev.PhaseStarted(model=model, phase=phase, ts=start)])
        latency = 1.0 if cached else seconds * 1000
        state.apply([ev.CallCompleted(model=model, cache_hit=cached, latency_ms=latency, ts=start + seconds)])
        state.apply([ev.RoundCompleted(model=model, round=round_no, ts=start + seconds)])

    state.apply([ev.SessionStarted(models=[model], ts=0.0)])
    step("baseline", 0, 0.0, 60.0, cached=False)
    step("optimization", 1, 60.0, 60.0, cached=False)
    assert state.eta(model, 120.0) == 240.0  # 2 steps in 120 s: 4 left
    state.apply([ev.SessionStopped(reason="user", ts=130.0)])

    state.apply([ev.SessionStarted(models=[model], ts=1000.0)])  # `r`: the two steps come from the cache
    step("baseline", 0, 1000.0, 0.05, cached=True)
    step("optimization", 1, 1000.05, 0.05, cached=True)
    assert state.eta(model, 1001.0) is None, "no step measured on calls sent yet"
    step("optimization", 2, 1000.1, 60.0, cached=False)
    assert state.eta(model, 1060.1) == pytest.approx(180.0)  # the step sent took 60 s: 3 left


async def test_a_config_path_typed_and_loaded_in_one_burst_is_loaded(paths: Paths, tmp_path: Path) -> None:
    """`tmux send-keys /path/x.toml C-o`: the first ctrl+o did nothing, the second loaded the file."""
    config = tmp_path / "burst.toml"
    config.write_text('name = "burst"\nmodels = ["offline/base"]\n[task]\ndataset = "demo:sentiment"\n')
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await new_session_form(pilot)
        screen.query_one("#config-path", Input).focus()
        await pilot.pause()
        burst(app, str(config), "ctrl+o")
        await wait_for(pilot, lambda: screen.query_one("#name", Input).value == "burst", what="the load")
        screen.query_one("#config-path", Input).value = ""
        target = tmp_path / "typed.toml"
        burst(app, str(target), "ctrl+s")  # saved where typed, not under the default name
        await wait_for(pilot, target.exists, what="the save")


def burst(app: DspyTuiApp, text: str, key: str) -> None:
    """`text` typed and then `key`, every key event queued at once as a terminal delivers a paste or
    `tmux send-keys` (Pilot's press waits for the app to go idle after each key: no burst)."""
    for char in text:
        app.post_message(events.Key(char if char.isalnum() else _character_to_key(char), char))
    app.post_message(events.Key(key, None))


def test_the_eta_counts_down_while_a_step_runs() -> None:
    """With one step measured the ETA grew until the next step ended (groq: 00:57 -> 04:57 over 48 s
    of one step): it divided all the time since the first call sent by the steps done. It counts
    down now, and a step that overruns the pace holds it near (remaining - 1) steps, growing slowly."""
    from dspy_tui.engine import events as ev
    from dspy_tui.tui.live_state import LiveState

    model = "groq/llama-3.3-70b-versatile"
    state = LiveState("s1", "eta", [model], rounds=4, cross_model=False, budget_usd=None)  # 6 steps
    state.apply([ev.SessionStarted(models=[model], ts=0.0)])
    state.apply([ev.PhaseStarted(model=model, phase="baseline", ts=0.0)])
    state.apply([ev.CallCompleted(model=model, latency_ms=1000.0, ts=1.0)])
    state.apply([ev.RoundCompleted(model=model, round=0, ts=60.0)])  # one step in 60 s: 5 left
    etas = [state.eta(model, t) for t in (60.0, 90.0, 120.0)]
    assert etas == pytest.approx([300.0, 270.0, 240.0]), etas  # main: 300, 450, 600
    overrun = [state.eta(model, t) for t in (150.0, 240.0)]
    assert overrun[0] == pytest.approx(150 / 2 * 4) and overrun[1] == pytest.approx(240 / 2 * 4)
    assert all(e is not None and e >= 240.0 for e in overrun), "an overrun never reads as almost done"
