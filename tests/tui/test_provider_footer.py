"""The live screen's per-provider throttling (issue 16 "What to build", issue 11.5): a line per
hosted provider from the engine's `provider_stats` samples, the models' in-flight/limit cells,
at 120x40 and 80x24, updated by new samples and replaced by the session's totals at the end."""

from __future__ import annotations

from typing import Any

import pytest
from test_layout import WIDE, check, screen_lines
from tui_support import ScriptedSession, fixed_clock, limiter_sample, make_config, script, wait_for

from dspy_tui.engine import events as ev
from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.live_state import LiveState
from dspy_tui.tui.screens.live import LiveScreen


def _line(app: DspyTuiApp, start: str) -> str:
    return next((line.strip() for line in screen_lines(app) if line.strip().startswith(start)), "")


def _slots(screen: LiveScreen, model: str) -> str:
    return screen.models_table._cells[model]["slots"].plain


def _mid_run(
    store: SessionStore, paths: Paths, models: list[str] = WIDE
) -> tuple[ScriptedSession, DspyTuiApp]:
    """Models mid-run, one sample of the hosted models' limiters (the first throttled)."""
    events = script(models, rounds_done=2, finished=False)
    session = ScriptedSession(store, paths, events, hold=True, config=make_config(models, budget=0.5))
    return session, DspyTuiApp(paths, live_session=session, clock=fixed_clock)


async def _live(pilot: Any, app: DspyTuiApp, session: ScriptedSession) -> LiveScreen:
    await wait_for(
        pilot, lambda: isinstance(app.screen, LiveScreen) and session.published == len(session.events)
    )
    await pilot.pause(0.6)  # two flushes
    assert isinstance(app.screen, LiveScreen)
    return app.screen


async def test_a_providers_line_and_each_models_in_flight_of_its_limit_at_120x40(
    paths: Paths, store: SessionStore
) -> None:
    session, app = _mid_run(store, paths, [WIDE[0], "offline/base"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _live(pilot, app, session)
        shown = check(app, "live-providers", (120, 40))
        assert _line(app, "anthropic  in-flight").startswith(
            "anthropic  in-flight 8/8 (max 16) · 310/500 RPM · 48k TPM · throttled 62% · "
            "rate-limited, retrying in 37 s"
        )
        assert _slots(screen, WIDE[0]) == "8/8"  # the cap was cut: 8 of 16
        assert _slots(screen, "offline/base") == "-"  # no limiter, no HTTP
        assert "provider stats" not in shown  # samples are figures, not lines of the events pane

        later = limiter_sample([WIDE[0]], ts=0).model_copy(deep=True)
        later.limiters[0] = later.limiters[0].model_copy(
            update={"in_flight": 3, "paused_s": 0.0, "queued_s": 0.5}
        )
        session.bus.publish(later)
        await wait_for(pilot, lambda: _line(app, "anthropic  in-flight 3/8"), what="the next sample")
        assert "retrying" not in _line(app, "anthropic")
        assert _slots(screen, WIDE[0]) == "3/8"
        session.stop()
        await wait_for(pilot, lambda: _line(app, "anthropic ").endswith("14 calls"), what="the totals")


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
async def test_several_providers_share_one_line_throttled_first(
    paths: Paths, store: SessionStore, size: tuple[int, int]
) -> None:
    session, app = _mid_run(store, paths)
    async with app.run_test(size=size) as pilot:
        await _live(pilot, app, session)
        check(app, "live-providers", size)
        line = _line(app, "anthropic")
        if size[0] >= 120:
            assert line.startswith("anthropic 8/8 throttled 62% rate-limited, retrying in 37 s │ openai 6/16")
        else:  # shorter, so that all four fit (80 columns cut the fourth)
            assert line == "anthropic 8/8 throttled 62% retry 37 s │ openai 6/16 │ gemini 6/16 │ groq 6/16"
        for provider in ("anthropic", "openai", "gemini", "groq"):
            assert f"{provider} " in line, f"{provider} is cut from the providers line at {size}: {line!r}"
        assert not _line(app, "openai ")  # no second provider line: the cost and events panes keep their rows
        session.stop()


@pytest.mark.parametrize("finished", [False, True])
def test_the_reducer_keeps_samples_out_of_the_event_log(finished: bool) -> None:
    state = LiveState("s", "s", WIDE, rounds=3, cross_model=True, budget_usd=None)
    state.apply(script(WIDE, rounds_done=3 if finished else 2, finished=finished))
    assert not any(isinstance(e, ev.ProviderStats) for _, e in state.events)
    assert state.models[WIDE[0]].limiter is not None and state.provider_stats["anthropic"].rpm == 310
    state.apply(
        [ev.SessionStarted(name="s", models=WIDE, resumed=True)]
    )  # a resume: not the last run's figures
    assert state.models[WIDE[0]].limiter is None and state.provider_stats == {}
