"""Closing the terminal ends the app even when another program started it (`make run`)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the child")

pytestmark = [pytestmark, pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")]


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_the_app_exits_when_its_terminal_closes_under_another_program(
    dspy_tui_home: Path, tmp_path: Path
) -> None:
    """Seen with `tmux new "make run"` then `tmux kill-server`: make died, the app spun on."""
    makefile = tmp_path / "Makefile"
    makefile.write_text(f"run:\n\t{sys.executable} -m dspy_tui\n")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, b"\x18\x00\x50\x00\x00\x00\x00\x00")  # 24 x 80

    def own_the_terminal() -> None:  # runs after setsid: the pty becomes the controlling terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        # as a terminal starts its shell: hang-up and Ctrl-C not ignored, whatever this test's runner
        # inherited (under `nohup`, make kept running on its closed terminal)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    parent = subprocess.Popen(
        ["make", "-s", "-f", str(makefile), "run"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=own_the_terminal,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    os.close(slave)
    app = 0
    try:
        painted, deadline = b"", time.monotonic() + 60
        while b"dspy-tui" not in painted and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                painted += os.read(master, 65536)
        assert b"dspy-tui" in painted, "the app never painted"
        (app,) = _children(parent.pid)
        os.close(master)  # the terminal window closes
        master = -1
        parent.wait(timeout=10)  # the terminal's owner gets the hang-up, as make did
        deadline = time.monotonic() + 10
        while _alive(app) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(app), "the app outlived its terminal"
    finally:
        if master != -1:
            os.close(master)
        if parent.poll() is None:
            parent.kill()
        if app and _alive(app):
            os.kill(app, signal.SIGKILL)
