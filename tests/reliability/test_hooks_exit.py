"""Hooks never hold the process: a hanging hook on every event is killed after one total grace period
at exit; and the event JSON on a hook's stdin ends with a newline (`cat >> f.jsonl` writes JSONL)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from dspy_tui.engine import events as ev
from dspy_tui.engine.hooks import HookRunner

from reliability.support import cli, cli_env

CONFIG = """name = "hooks"
rounds = 1
cross_model = false
hook_timeout_s = 60
hook_grace_s = {grace}
[hooks]
"*" = "sleep 60"
round_completed = "cat >> {out}"
[task]
dataset = "demo:sentiment"
max_train = 8
max_dev = 6
max_test = 6
[[models]]
id = "offline/small"
"""


def test_a_hanging_hook_on_every_event_holds_exit_for_the_grace_period_only(tmp_path: Path) -> None:
    out = tmp_path / "rounds.jsonl"
    config = tmp_path / "hooks.toml"
    config.write_text(CONFIG.format(grace=3, out=out))
    env = cli_env(tmp_path / "home")
    plain = tmp_path / "plain.toml"
    plain.write_text(
        CONFIG.format(grace=3, out=out).split("[hooks]")[0] + "[task]" + CONFIG.split("[task]")[1]
    )
    started = time.monotonic()
    assert cli("run", str(plain), "--headless", env=env, timeout=120).returncode == 0
    without_hooks = time.monotonic() - started
    started = time.monotonic()
    result = cli("run", str(config), "--headless", env=env, timeout=120)
    with_hooks = time.monotonic() - started
    print(
        f"\nhooks at exit: {without_hooks:.1f}s without hooks, {with_hooks:.1f}s with a hanging hook on every event"
        " (grace 3s)"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert with_hooks < without_hooks + 3 + 8, "a hanging hook held the process past its grace period"
    lines = out.read_text().splitlines()
    assert lines and all(json.loads(line)["type"] == "round_completed" for line in lines)


def test_event_json_on_stdin_ends_with_a_newline(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    bus = ev.EventBus()
    runner = HookRunner({"*": f"cat >> {out}"}, timeout_s=10)
    runner.attach(bus)
    for phase in ("baseline", "optimization", "benchmark"):
        bus.publish(ev.PhaseStarted(phase=phase))
    runner.close(wait=True)
    text = out.read_text()
    assert text.endswith("\n")
    assert [json.loads(line)["phase"] for line in text.splitlines()] == [
        "baseline",
        "optimization",
        "benchmark",
    ]


def test_close_kills_what_runs_after_the_grace_period(tmp_path: Path) -> None:
    bus = ev.EventBus()
    runner = HookRunner({"*": "sleep 60", "phase_started": "sleep 60"}, timeout_s=60, grace_s=1)
    runner.attach(bus)
    for _ in range(20):
        bus.publish(ev.PhaseStarted(phase="baseline"))
    started = time.monotonic()
    runner.close(wait=True)
    assert time.monotonic() - started < 1 + 5
    outcomes = runner.outcomes
    assert outcomes["timed_out"] == 2 and outcomes["dropped"] == 38, outcomes
