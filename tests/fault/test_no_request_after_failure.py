"""After a model (and so its session) has failed, no further request leaves the process.

An overloaded server (#11, observed on an old main: `cannot schedule new futures after
shutdown` and 9 more requests after the session had failed): concurrency 64, every
request held past our timeout or its connection dropped, so the breaker fails the model
while dozens of its calls are in flight. A real `dspy-tui run` process; the requests are
counted at the fake provider when the failure is announced and after the process exited.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.provider_server import FakeProvider
from reliability.support import GROQ_MODEL, cli_env, cli_popen, only_session_id, show


@pytest.fixture
def overloaded() -> Iterator[FakeProvider]:
    # every request held 30 s (past our 2 s timeout) or its connection dropped mid-answer
    server = FakeProvider(fault_rate=1.0, fault_kinds=("timeout", "reset")).start()
    try:
        yield server
    finally:
        server.stop()


def _config(path: Path) -> Path:
    path.write_text(
        "\n".join(
            [
                'name = "overloaded"',
                'optimizer = "bootstrap"',
                "rounds = 2",
                "concurrency = 64",
                "num_retries = 3",
                "[timeouts]",
                "total_s = 2",
                "[task]",
                'dataset = "demo:sentiment"',
                "max_train = 16",
                "max_dev = 64",
                "max_test = 64",
                "[[models]]",
                f'id = "{GROQ_MODEL}"',
                "max_tokens = 64",
                "limits = { concurrency = 64 }",
            ]
        )
        + "\n"
    )
    return path


def test_an_overloaded_server_fails_the_session_and_then_gets_no_request(
    overloaded: FakeProvider, tmp_path: Path
) -> None:
    env = cli_env(tmp_path / "home", overloaded)
    proc = cli_popen(
        "run", str(_config(tmp_path / "s.toml")), "--headless", "--json", env=env, stdout=subprocess.PIPE
    )
    at_failure: int | None = None
    events: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not line.startswith("{"):
                continue
            events.append(json.loads(line)["type"])
            if events[-1] == "model_failed" and at_failure is None:
                at_failure = len(overloaded.received)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert at_failure is not None, events[-10:]
    assert "session_failed" in events
    time.sleep(3)  # anything a thread left behind would arrive by now (the timeout is 2 s)
    assert len(overloaded.received) == at_failure, "requests left the process after the model failed"
    log = (tmp_path / "home" / "logs" / "dspy-tui.log").read_text()
    assert "cannot schedule new futures" not in log + (proc.stderr.read() if proc.stderr else "")
    assert show(env, only_session_id(env))["status"] == "failed"
