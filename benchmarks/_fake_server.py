"""The fake provider in a child process, for benchmarks: its own loop and GIL, never ours."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_server(latency: float = 0.0, brain: str | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start tests/fakes/provider_server.py and wait for its READY line; returns (process, base URL)."""
    extra = ["--brain", brain] if brain else []
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.provider_server", "--port", "0", "--latency", str(latency), *extra],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("READY "):
        process.kill()
        raise SystemExit(f"the fake provider did not start: {line!r}")
    return process, line.split(" ", 1)[1]
