"""SIGTERM and SIGINT stop a real `dspy-tui run --headless` within 5 s in every
waiting state -- a slow answer, a Retry-After being honoured, a queue behind
the limiter -- and leave the session `stopped` and resumable."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.provider_server import FakeProvider
from tests.reliability.support import GROQ_MODEL, cli, cli_env, cli_popen, only_session_id, show

pytestmark = pytest.mark.serial  # a real subprocess against wall-clock bounds


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    server = FakeProvider().start()
    try:
        yield server
    finally:
        server.stop()


def _config(path: Path) -> Path:
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
                "max_train = 8",
                "max_dev = 8",
                "max_test = 8",
                "[[models]]",
                f'id = "{GROQ_MODEL}"',
                "max_tokens = 64",
                "limits = { concurrency = 1 }",
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


@pytest.mark.parametrize("state", ["slow answer", "retry-after"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_a_waiting_session_within_5_s_and_it_resumes(
    state: str, signum: int, provider: FakeProvider, tmp_path: Path
) -> None:
    if state == "slow answer":
        provider.latency_s = 60  # one request in flight, the others queued behind concurrency = 1
    else:
        provider.fail_next("429_retry_after", times=1000, retry_after=90)  # within the 120 s cap
    env = cli_env(tmp_path / "home", provider)
    proc = cli_popen("run", str(_config(tmp_path / "s.toml")), "--headless", env=env)
    try:
        _wait_for_requests(provider, 1)
        time.sleep(0.5)  # let it settle into the wait
        sent = time.monotonic()
        proc.send_signal(signum)
        proc.wait(timeout=15)
        stopped_in = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert stopped_in < 5, f"stopped {stopped_in:.1f} s after the signal ({state})"
    sid = only_session_id(env)
    assert show(env, sid)["status"] == "stopped"
    provider.latency_s = 0
    provider.reset_records()
    resumed = cli("resume", sid, "--headless", "--json", env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    finals = [json.loads(line)["type"] for line in resumed.stdout.splitlines() if line.startswith("{")]
    assert finals[-1] == "session_completed"
