"""`dspy-tui resume ID --budget USD` continues a budget-stopped session with more money."""

from __future__ import annotations

import os
from pathlib import Path

from fakes.provider_server import FakeProvider
from reliability.support import cli, cli_in_process, only_session_id, show


def test_resume_with_a_larger_budget_continues_and_a_smaller_one_is_refused(
    tmp_path: Path, brainy_provider: FakeProvider
) -> None:
    env = {
        **os.environ,
        "DSPY_TUI_HOME": str(tmp_path / "home"),
        "DSPY_TUI_GROQ_BASE_URL": f"{brainy_provider.url}/openai/v1",
        "GROQ_API_KEY": "gsk_fake_key_0000",
    }
    config = tmp_path / "c.toml"
    config.write_text(
        'name = "more money"\noptimizer = "bootstrap"\nrounds = 2\nseed = 3\nconcurrency = 4\n'
        "budget_usd = 0.001\nbudget_reserve = false\n"
        '[task]\ndataset = "demo:sentiment"\nmax_train = 16\nmax_dev = 10\nmax_test = 10\n'
        '[[models]]\nid = "groq/llama-3.3-70b-versatile"\nmax_tokens = 128\n'
        "limits = { rpm = 1000000, tpm = 1000000000, concurrency = 16 }\n"
    )
    first = cli("run", str(config), "--headless", env=env)
    assert first.returncode == 3, first.stderr[-2000:]
    assert "of $0.0010 spent" in first.stderr and "left" in first.stderr and "--budget" in first.stderr
    sid = only_session_id(env)
    shown = show(env, sid)
    spent = shown["cost_usd"]
    assert shown["calls"] == len(brainy_provider.received)  # calls = requests the provider received
    assert f"{len(brainy_provider.received)} calls sent" in first.stdout

    refused = cli_in_process("resume", sid, "--budget", "0.0001", "--headless", env=env)
    assert refused.returncode == 2 and "already spent" in refused.stderr and "Traceback" not in refused.stderr

    more = cli_in_process("resume", sid, "--budget", "0.05", "--headless", env=env)
    assert more.returncode == 0, more.stderr[-2000:]
    shown = show(env, sid)
    assert shown["budget_usd"] == 0.05 and shown["status"] == "completed"
    assert spent < shown["cost_usd"] <= 0.05
    assert all(m["test_score"] is not None for m in shown["models"])
