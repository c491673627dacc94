"""One runner per session: a second `resume` is refused, `sessions delete` of a running session too,
and a killed runner reads as `interrupted` (even before its parent reaps it).

Sessions run as real `dspy-tui` processes against the fake provider on 127.0.0.1.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

from fakes.offline_brain import offline_brain
from fakes.provider_server import FakeProvider
from reliability.support import cli, cli_env, cli_popen, integrity, only_session_id, show, write_config

LATENCY_S = 0.05


def _wait_for(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _interrupted_session(tmp_path: Path, provider: FakeProvider) -> tuple[dict[str, str], str]:
    """A session killed (SIGKILL) after a few paid answers."""
    env = cli_env(tmp_path / "home", provider)
    config = write_config(tmp_path / "s.toml", rounds=2)
    proc = cli_popen("run", str(config), "--headless", "--json", env=env)
    _wait_for(lambda: len(provider.answered()) >= 5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # the killed runner's requests still in flight are answered after it died: let them land, or a
    # test counting answers would take them for the next runner's
    time.sleep(LATENCY_S + 0.1)
    return env, only_session_id(env)


def test_two_resumes_at_once_one_runs_the_other_is_refused(tmp_path: Path) -> None:
    provider = FakeProvider(latency_s=LATENCY_S, brain=offline_brain("base")).start()
    try:
        env, sid = _interrupted_session(tmp_path, provider)
        assert show(env, sid)["status"] == "interrupted"
        provider.reset_records()
        procs = [cli_popen("resume", sid, "--headless", env=env) for _ in range(2)]
        results = []
        for p in procs:
            _, err = p.communicate(timeout=300)
            results.append((p.returncode, err))
        codes = sorted(code for code, _ in results)
        assert codes == [0, 2], results
        refused = next(err for code, err in results if code == 2)
        assert f"session {sid} is already running (pid " in refused and "Traceback" not in refused
        assert provider.answered_twice() == [], "two runners paid for the same request"
        assert show(env, sid)["status"] == "completed"
        assert integrity(Path(env["DSPY_TUI_HOME"]) / "dspy-tui.db") == "ok"
    finally:
        provider.stop()


def test_delete_of_a_running_session_is_refused_and_a_killed_runner_reads_interrupted(tmp_path: Path) -> None:
    provider = FakeProvider(latency_s=LATENCY_S, brain=offline_brain("base")).start()
    try:
        env, sid = _interrupted_session(tmp_path, provider)
        runner = cli_popen("resume", sid, "--headless", env=env)
        answered = len(provider.answered())
        _wait_for(lambda: len(provider.answered()) > answered + 2)
        provider.latency_s = 30.0  # the runner stays mid-call until it is killed, however slow the CLI starts
        listed = json.loads(cli("sessions", "list", "--json", env=env).stdout)
        assert [r["status"] for r in listed] == ["running"]
        out = cli("sessions", "delete", sid, env=env)
        assert out.returncode == 2, out
        assert f"session {sid} is already running (pid {runner.pid})" in out.stderr
        assert "Traceback" not in out.stderr
        # killed and not yet reaped by its parent (a zombie): no longer running
        runner.send_signal(signal.SIGKILL)
        time.sleep(0.3)
        listed = json.loads(cli("sessions", "list", "--json", env=env).stdout)
        assert [r["status"] for r in listed] == ["interrupted"]
        runner.wait(timeout=30)
        out = cli("sessions", "delete", sid, env=env)
        assert out.returncode == 0, out.stderr
        conn = sqlite3.connect(Path(env["DSPY_TUI_HOME"]) / "dspy-tui.db")
        try:
            assert conn.execute("SELECT count(*) FROM lm_cache").fetchone()[0] == 0, "cache rows left behind"
        finally:
            conn.close()
    finally:
        provider.stop()
