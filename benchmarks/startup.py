"""Start-up: `dspy-tui` from launch to its first painted screen, against a minimal Textual app.

Each program runs in a pseudo-terminal (80x24, TERM=xterm-256color) with a
fresh DSPY_TUI_HOME. The time counted runs from the fork until a text of the
screen shows up in what the program wrote to the terminal (escape codes
stripped): for dspy-tui the home screen's footer (its "Resume" key: at 80 columns the footer writes "New session" as "New"; first paint)
and its first-launch text ("No sessions yet", the list read from SQLite); for
the peer, a one-Static Textual app, its Static's text. Runs alternate between
the two; medians are compared. Next to each wall time the CPU time the program had
used by then is read from /proc (user + system, all threads): on a machine shared with
other work the wall times swing with its load, the CPU times much less. Our modules'
bytecode is written first (Textual's came with its install), so both start from compiled code.

Usage: python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

from _bytecode import compile_sources  # benchmarks/ is on sys.path when a script runs

ANSI = re.compile(
    rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]"
)
MINIMAL_APP = """
from textual.app import App
from textual.widgets import Static


class Minimal(App):
    def compose(self):
        yield Static("minimal app ready")


Minimal().run()
"""
TARGET = 1.4  # first paint vs the minimal app (issue 16)
LIST_TARGET = 2.0  # the sessions list painted vs the minimal app


def _spawn(argv: list[str], env: dict[str, str]) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # the child: its terminal is the pty; give it a size before the program asks
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        os.execvpe(argv[0], argv, env)
    return pid, fd


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (every thread), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_to_text(
    argv: list[str], markers: list[bytes], env: dict[str, str], timeout: float = 30.0
) -> list[tuple[float, float]]:
    """(wall seconds from launch, CPU seconds used) when each marker has appeared on the terminal, in order."""
    start = time.perf_counter()
    pid, fd = _spawn(argv, env)
    seen: list[tuple[float, float]] = []
    raw = b""
    try:
        while len(seen) < len(markers):
            left = start + timeout - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"{argv[-1]} did not show {markers[len(seen)]!r} within {timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the program ended
                raise RuntimeError(f"{argv[-1]} ended before showing {markers[len(seen)]!r}") from None
            raw += chunk
            text = ANSI.sub(b"", raw)
            while len(seen) < len(markers) and markers[len(seen)] in text:
                seen.append((time.perf_counter() - start, cpu_seconds(pid)))
    finally:
        os.kill(pid, signal.SIGTERM)
        for _ in range(250):  # up to 5 s to end
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                break
            time.sleep(0.02)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    return seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    exe = shutil.which("dspy-tui", path=str(Path(sys.executable).parent)) or shutil.which("dspy-tui")
    if exe is None:
        raise SystemExit("dspy-tui is not installed in this environment (pip install -e .)")
    compile_sources()
    ours: list[list[tuple[float, float]]] = []
    peer: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "minimal_app.py"
        script.write_text(MINIMAL_APP, encoding="utf-8")
        base = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")}
        base |= {"TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
        for i in range(args.runs + 1):  # the first round warms the disk cache and is not counted
            home = Path(tmp) / f"home{i}"
            mine = time_to_text([exe], [b"Resume", b"No sessions yet"], base | {"DSPY_TUI_HOME": str(home)})
            theirs = time_to_text([sys.executable, str(script)], [b"minimal app ready"], base)
            if i:
                ours.append(mine)
                peer.append(theirs[0])
    print(f"startup: {args.runs} runs each in an 80x24 pty, medians; load average {os.getloadavg()[0]:.1f}")
    for i, what in enumerate(("wall", "CPU")):
        paint = statistics.median(r[0][i] for r in ours)
        ready = statistics.median(r[1][i] for r in ours)
        base_t = statistics.median(p[i] for p in peer)
        print(
            f"startup: {what}: dspy-tui first paint (home screen) {paint:.3f} s, sessions list read {ready:.3f} s"
        )
        print(f"startup: {what}: peer (minimal Textual app, one Static) first paint {base_t:.3f} s")
        print(
            f"startup: {what}: ratio dspy-tui/minimal = {paint / base_t:.2f}x (target: <= {TARGET}x); "
            f"to the list read {ready / base_t:.2f}x (target: <= {LIST_TARGET}x)"
        )


if __name__ == "__main__":
    main()
