"""The fake provider in a child process, for benchmarks: its own loop and GIL, never ours."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_server(
    latency: float = 0.0, brain: str | None = None, window_limit: int | None = None, window_s: float = 60.0
) -> tuple[subprocess.Popen[str], str]:
    """Start tests/fakes/provider_server.py and wait for its READY line; returns (process, base URL).
    `window_limit` requests per `window_s`: the account limit its x-ratelimit-* headers tell."""
    extra = ["--brain", brain] if brain else []
    if window_limit is not None:
        extra += ["--window-limit", str(window_limit), "--window-s", str(window_s)]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fakes.provider_server",
            "--port",
            "0",
            "--latency",
            str(latency),
            *extra,
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT / "tests",  # where the helpers import as `fakes`
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("READY "):
        process.kill()
        raise SystemExit(f"the fake provider did not start: {line!r}")
    return process, line.split(" ", 1)[1]
