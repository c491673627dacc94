"""Garbage collection through a long live session: the app's thresholds against CPython's defaults.

The TUI raises the cyclic collector's thresholds (tui/app.py GC_THRESHOLDS) and freezes the heap
once a session is loaded, so that collections, which hold every thread (the UI's too) for as long
as they walk their generations, are rare and short. Those settings were chosen by timing screens
opening; this runs what they must hold for as well: one live session of many rounds (three offline
models, every round run) in the headless app at 120x40, the way `dspy-tui run config.toml` shows it,
with each collection timed through `gc.callbacks`.

The peer is the same app and session with CPython's default thresholds (700, 10, 10), each setting in
a process of its own, run in turn. Printed per setting: the session's wall time, the collections of
each generation and the longest of each, the time all of them took, and the peak RSS. Targets: our
longest pause <= the default's, our total pause <= the default's, our peak RSS <= 1.25x the
default's (what collecting less often may cost).

Usage: python benchmarks/gc_long_session.py [--rounds N] [--size N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

OURS, DEFAULT = "ours", "default"
RSS_TARGET = 1.25


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _config(rounds: int, size: int) -> dict[str, Any]:
    return {
        "name": "gc long session (benchmark)",
        "optimizer": "bootstrap",
        "rounds": rounds,
        "seed": 7,
        "cross_model": True,
        "task": {"dataset": "demo:sentiment", "module": "predict", "size": size},
        "convergence": {"patience": rounds, "min_delta": 0.01},  # every round runs
        "models": [{"id": "offline/small"}, {"id": "offline/base"}, {"id": "offline/large"}],
    }


async def _drive(setting: str, rounds: int, size: int) -> dict[str, Any]:
    """One live session in the headless app, every collection timed; run in a fresh process."""
    from dspy_tui.engine.config import parse_config
    from dspy_tui.engine.service import SessionService
    from dspy_tui.storage.paths import Paths
    from dspy_tui.tui import app as app_module

    if setting == DEFAULT:
        app_module.GC_THRESHOLDS = gc.get_threshold()  # a fresh process's: CPython's defaults
    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started = [0.0]

    def timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append(time.perf_counter() - started[0])

    with tempfile.TemporaryDirectory() as folder:
        paths = Paths.under(Path(folder))
        session = SessionService(paths).create(parse_config(_config(rounds, size), "benchmark"))
        app = app_module.DspyTuiApp(paths, live_session=session)
        gc.callbacks.append(timed)
        start = time.perf_counter()
        async with app.run_test(size=(120, 40)) as pilot:
            while app.runner is None or not app.runner.done.is_set():
                await pilot.pause(0.25)
            outcome = app.runner.outcome
        wall = time.perf_counter() - start
        gc.callbacks.remove(timed)
    if outcome != "completed":
        raise SystemExit(f"the {setting} session ended {outcome}")
    return {
        "setting": setting,
        "thresholds": list(app_module.GC_THRESHOLDS),
        "wall_s": wall,
        "pauses": {str(g): p for g, p in pauses.items()},
        "peak_rss_mb": _peak_rss_mb(),
    }


def _measure(setting: str, rounds: int, size: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", setting, "--rounds", str(rounds), "--size", str(size)],
        capture_output=True,
        text=True,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    if out.returncode != 0:
        raise SystemExit(f"the {setting} run failed: {out.stderr.strip()[-1500:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _line(r: dict[str, Any]) -> str:
    gens = ", ".join(
        f"gen{g} {len(p)} (longest {max(p, default=0) * 1000:.1f} ms)" for g, p in r["pauses"].items()
    )
    total = sum(sum(p) for p in r["pauses"].values()) * 1000
    return (
        f"gc_long_session: {r['setting']} {tuple(r['thresholds'])}: session {r['wall_s']:.1f} s; {gens}; "
        f"all collections {total:.0f} ms; peak RSS {r['peak_rss_mb']:.0f} MB"
    )


def _longest(r: dict[str, Any]) -> float:
    return max((max(p, default=0.0) for p in r["pauses"].values()), default=0.0)


def _total(r: dict[str, Any]) -> float:
    return sum(sum(p) for p in r["pauses"].values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="at most 15, as a config allows")
    parser.add_argument("--size", type=int, default=1000, help="demo examples, cut by the default split")
    parser.add_argument("--child", choices=(OURS, DEFAULT), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_drive(args.child, args.rounds, args.size))))
        return 0
    print(
        f"gc_long_session: {args.rounds} rounds, 3 offline models, {args.size} demo examples; load {os.getloadavg()[0]:.1f}"
    )
    ours, default = _measure(OURS, args.rounds, args.size), _measure(DEFAULT, args.rounds, args.size)
    print(_line(ours))
    print(_line(default))
    longest = _longest(ours) / max(_longest(default), 1e-9)
    total = _total(ours) / max(_total(default), 1e-9)
    rss = ours["peak_rss_mb"] / default["peak_rss_mb"]
    ok = longest <= 1.0 and total <= 1.0 and rss <= RSS_TARGET
    print(
        f"gc_long_session: ratio ours/default: longest pause {longest:.2f}x (target <= 1.0x), "
        f"all collections {total:.2f}x (target <= 1.0x), peak RSS {rss:.2f}x (target <= {RSS_TARGET}x): "
        + ("ok" if ok else "over")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
