"""A full disk mid-session: no traceback, no new calls, nothing paid for lost, `interrupted` with one
sentence, exit 1; read-only commands still work; once space is freed, resume completes without
buying any answer twice.

The data dir lives on a small tmpfs mounted for the test (root only; skipped with the reason
elsewhere). A filler file takes the free space while the session runs against the fake provider.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.offline_brain import offline_brain
from fakes.provider_server import FakeProvider
from reliability.support import (
    answer_id,
    cached_answer_ids,
    cli,
    cli_env,
    cli_in_process,
    cli_popen,
    integrity,
    only_session_id,
    show,
    write_config,
)

LATENCY_S = 0.03


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        out = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {out.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30)


def _fill(disk: Path) -> Path:
    """Take every free byte of the disk; returns the filler file."""
    filler = disk / f"filler-{uuid.uuid4().hex}"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    with pytest.raises(OSError) as full:
        (disk / "probe").write_bytes(b"x" * 4096)
    assert full.value.errno == errno.ENOSPC
    return filler


def test_a_full_disk_interrupts_cleanly_and_resume_completes(small_disk: Path, tmp_path: Path) -> None:
    provider = FakeProvider(latency_s=LATENCY_S, brain=offline_brain("base")).start()
    try:
        home = small_disk / "home"
        env = cli_env(home, provider)
        config = write_config(tmp_path / "disk.toml", rounds=2)
        proc = cli_popen("run", str(config), "--headless", env=env)
        deadline = time.monotonic() + 120
        while len(provider.answered()) < 20:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.01)
        filler = _fill(small_disk)
        # the session notices, stops asking: the provider hears nothing new for a while
        quiet_since, seen = time.monotonic(), len(provider.received)
        while time.monotonic() - quiet_since < 1.5:
            if len(provider.received) != seen:
                quiet_since, seen = time.monotonic(), len(provider.received)
            assert proc.poll() is None, "the session ended before space was freed"
            time.sleep(0.05)
        answered_while_full = len(provider.answered())
        # read-only commands work on the full disk
        listed = cli("sessions", "list", "--json", env=env)
        assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
        sid = json.loads(listed.stdout)[0]["id"]
        shown = cli("sessions", "show", sid, env=env)
        assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr
        filler.unlink()  # space again: the answers held in memory are written
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 1, stderr
        assert "Traceback" not in stderr and "the disk is full: free space and resume" in stderr, stderr
        assert len(provider.answered()) == answered_while_full, "calls were sent after the disk filled"
        db = home / "dspy-tui.db"
        assert integrity(db) == "ok"
        session = show(env, sid)
        assert session["status"] == "interrupted" and "disk is full" in (session["error"] or "")
        stored = cached_answer_ids(db)
        lost = {answer_id(r) for r in provider.answered()} - stored
        assert lost == set(), f"paid answers lost: {sorted(lost)}"
        out = cli_in_process("resume", sid, "--headless", env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        assert show(env, only_session_id(env))["status"] == "completed"
        assert provider.answered_twice() == [], "an answer was bought twice"
        assert integrity(db) == "ok"
    finally:
        with contextlib.suppress(Exception):
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        provider.stop()
