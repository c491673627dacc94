"""SIGTERM and SIGINT stop a real `dspy-tui run --headless` within 5 s in every
waiting state -- a slow answer, a Retry-After being honoured, a queue behind
the concurrency limit or the RPM limit, a user's hook or metric that sleeps --
and leave the session `stopped` and resumable. The signal goes to a real process;
the resume that proves the stored session whole runs in this one (`cli_in_process`)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fakes.provider_server import FakeProvider
from reliability.support import GROQ_MODEL, cli_env, cli_in_process, cli_popen, only_session_id, show

# Not `serial`: the stops take 0.02-2.1 s at load 18 (the 1 s hook and 2 s model grace periods
# are the slowest), well inside 5 s beside the other xdist worker.


SLOW_METRIC = """
import os, time

def score(example, pred, trace=None):
    if os.path.exists(os.environ["SLOW_METRIC_FLAG"]):
        time.sleep(60)  # the user's code, which no signal interrupts
    return float(getattr(pred, "sentiment", None) == example.sentiment)
"""

# what each state adds to the session's config
STATE_LINES = {
    "slow answer": ["limits = { concurrency = 1 }"],
    "retry-after": ["limits = { concurrency = 1 }"],
    "limiter": [],  # the account's headers say nothing is left for 10 minutes: the next request waits
    # a hook sleeping (within the hook_timeout_s default) while the session waits on an answer
    "hook": ["limits = { concurrency = 1 }", "[hooks]", 'phase_started = "sleep 60"'],
    "metric": [],
}


def _config(path: Path, state: str) -> Path:
    task_lines = ['metric = "slow_metric.py:score"'] if state == "metric" else []
    if state == "metric":
        (path.parent / "slow_metric.py").write_text(SLOW_METRIC)
    path.write_text(
        "\n".join(
            [
                'name = "signals"',
                'optimizer = "bootstrap"',
                "rounds = 1",
                "seed = 3",
                "concurrency = 4",
                "[task]",
                'dataset = "demo:sentiment"',
                *task_lines,
                "max_train = 8",
                "max_dev = 8",
                "max_test = 8",
                "[[models]]",
                f'id = "{GROQ_MODEL}"',
                "max_tokens = 64",
                *STATE_LINES[state],
            ]
        )
        + "\n"
    )
    return path


def _wait_for_requests(provider: FakeProvider, n: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while len(provider.received) < n:
        assert time.monotonic() < deadline, "the session sent no request"
        time.sleep(0.05)


def _signal_when(proc: subprocess.Popen[str], settle: Callable[[], None], signum: int) -> float:
    """Seconds from the signal to the process's exit, sent half a second after `settle` returns."""
    try:
        settle()
        time.sleep(0.5)  # let it settle into the wait
        sent = time.monotonic()
        proc.send_signal(signum)
        proc.wait(timeout=15)
        return time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("state", list(STATE_LINES))
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_a_waiting_session_within_5_s_and_it_resumes(
    state: str, signum: int, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    if state in ("slow answer", "hook"):
        fake_provider.latency_s = 60  # one request in flight, the others queued behind concurrency = 1
    elif state == "retry-after":
        fake_provider.fail_next("429_retry_after", times=1000, retry_after=90)  # within the 120 s cap
    elif state == "limiter":
        fake_provider.window_limit, fake_provider.window_s = 1, 600.0
    flag = tmp_path / "metric-sleeps"
    env = cli_env(tmp_path / "home", fake_provider, SLOW_METRIC_FLAG=str(flag))
    proc = cli_popen("run", str(_config(tmp_path / "s.toml", state)), "--headless", env=env)

    def settle() -> None:
        _wait_for_requests(fake_provider, 1)
        flag.touch()  # the metric sleeps from now on (not while the config was checked)

    stopped_in = _signal_when(proc, settle, signum)
    assert stopped_in < 5, f"stopped {stopped_in:.1f} s after the signal ({state})"
    sid = only_session_id(env)
    assert show(env, sid)["status"] == "stopped"
    fake_provider.latency_s, fake_provider.window_limit = 0, None
    fake_provider.reset_records()
    flag.unlink()
    resumed = cli_in_process("resume", sid, "--headless", "--json", env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    finals = [json.loads(line)["type"] for line in resumed.stdout.splitlines() if line.startswith("{")]
    assert finals[-1] == "session_completed"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_cuts_short_the_wait_for_hooks_after_a_session_completed(
    signum: int, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    config = _config(tmp_path / "s.toml", "slow answer")
    text = config.read_text().replace("rounds = 1\n", "rounds = 1\nhook_grace_s = 120\n")
    config.write_text(text + '[hooks]\nsession_completed = "sleep 60"\n')
    env = cli_env(tmp_path / "home", fake_provider)
    proc = cli_popen("run", str(config), "--headless", "--json", env=env, stdout=subprocess.PIPE)

    def settle() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:  # the session completed; its hook sleeps in the exit's grace period
            if '"session_completed"' in line:
                return

    stopped_in = _signal_when(proc, settle, signum)
    assert stopped_in < 5, f"exited {stopped_in:.1f} s after the signal"
    assert show(env, only_session_id(env))["status"] == "completed"
