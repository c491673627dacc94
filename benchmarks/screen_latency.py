"""Screen latency: from a key press on home to the next screen painted, with 1,000 sessions stored.

The database is built the way benchmarks/history_scale.py builds a heavy user's (three models per
session, per-example scores, rounds, events). The app runs headless (Pilot, 120x40); each
screen is opened and closed again `--runs` times and the median is compared with the target.
Each key is pressed once home has shown its list and stayed idle for HOME_IDLE_S, as a user reads
the list first. The clock runs from the key press until the screen holds what the user came for
and the frame with it is painted (Pilot's `pause`, which composites the screen):

  detail       enter on a session   -> the session's status line, results table rows, rounds and events,
                                       and the footer's keys
  compare      c with two marked    -> the table of both sessions' models and the charts, and the
                                       footer's keys (the bootstrap verdicts follow from a worker: not counted)
  new session  n                    -> the form's fields, the model list from the catalogue (with each
                                       model's key status) and the footer's keys (the estimate follows
                                       from a worker after a 0.15 s pause: not counted)

A placeholder ("Loading the session…", an empty table) never stops the clock. The first round of
each screen loads its code and styles and is not counted.

Next to each wall time the process's CPU time over the same span is printed (all threads): on a
machine shared with other work the wall times swing with its load, the CPU times much less.

Usage: python benchmarks/screen_latency.py [--sessions N] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from history_scale import build  # noqa: E402 - a sibling script

from dspy_tui.storage.paths import Paths  # noqa: E402

TARGET_MS = 150.0
HOME_IDLE_S = 0.6  # how long home stays idle, its list shown, before each key


def _footer_shown(screen: Any) -> bool:
    from textual.widgets._footer import FooterKey

    return bool(screen.query(FooterKey))


async def _timed(pilot: Any, key: str, ready: Callable[[], bool]) -> tuple[float, float]:
    """(wall, CPU) seconds from `key` until `ready()` holds and the frame after it is drawn."""
    start, cpu = time.perf_counter(), time.process_time()
    await pilot.press(key)
    while not ready():
        await asyncio.sleep(0.002)
    await pilot.pause(0)  # the frame with it
    return time.perf_counter() - start, time.process_time() - cpu


async def measure(paths: Paths, runs: int) -> dict[str, list[tuple[float, float]]]:
    from dspy_tui.tui.app import DspyTuiApp
    from dspy_tui.tui.screens.compare import CompareScreen
    from dspy_tui.tui.screens.detail import DetailScreen
    from dspy_tui.tui.screens.home import HomeScreen
    from dspy_tui.tui.screens.new_session import NewSessionScreen

    times: dict[str, list[tuple[float, float]]] = {"detail": [], "compare": [], "new session": []}
    app = DspyTuiApp(paths)
    async with app.run_test(size=(120, 40)) as pilot:

        async def home() -> HomeScreen:
            while not (isinstance(app.screen, HomeScreen) and app.screen.rows):
                await pilot.pause(0.01)
            await pilot.pause(HOME_IDLE_S)
            return app.screen

        def shown(kind: type, filled: Callable[[Any], bool]) -> Callable[[], bool]:
            """The screen of `kind` is current, `filled` with its real content, and its footer has its keys."""
            return lambda: isinstance(app.screen, kind) and filled(app.screen) and _footer_shown(app.screen)

        detail_shown = shown(DetailScreen, lambda s: s.detail is not None and s.results.row_count > 0)
        compare_shown = shown(CompareScreen, lambda s: s.data is not None and s.table.row_count > 0)
        form_shown = shown(NewSessionScreen, lambda s: s.is_mounted and bool(s.catalog))

        for i in range(runs + 1):  # the first round loads each screen's code and styles: not counted
            await home()
            detail = await _timed(pilot, "enter", detail_shown)
            await pilot.press("escape")
            screen = await home()
            screen.marked = list(screen.rows)[:2]
            compare = await _timed(pilot, "c", compare_shown)
            while app.screen.verdicts is None:  # let the bootstrap finish before going on
                await pilot.pause(0.01)
            await pilot.press("escape")
            await home()
            new = await _timed(pilot, "n", form_shown)
            await pilot.press("escape")
            if i:
                times["detail"].append(detail)
                times["compare"].append(compare)
                times["new session"].append(new)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = Paths(data_dir=Path(tmp), config_dir=Path(tmp) / "config")
        built = build(paths.db_path, args.sessions, args.sessions * 10)
        print(
            f"screen_latency: {args.sessions} sessions stored in {built:.1f} s; {args.runs} runs per screen"
        )
        times = asyncio.run(measure(paths, args.runs))
    print(f"screen_latency: load average {os.getloadavg()[0]:.1f}")
    for name, pairs in times.items():
        values = [wall for wall, _ in pairs]
        median = statistics.median(values) * 1000
        cpu = statistics.median(c for _, c in pairs) * 1000
        verdict = "ok" if median <= TARGET_MS else "over"
        print(
            f"screen_latency: {name:<12} median {median:6.1f} ms, worst {max(values) * 1000:6.1f} ms "
            f"(target: median <= {TARGET_MS:.0f} ms) {verdict}; CPU median {cpu:6.1f} ms"
        )


if __name__ == "__main__":
    main()
