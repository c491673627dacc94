"""A dataset given by a relative path resumes from another directory (the path is stored absolute),
and a dataset file changed since the session started is refused on resume with one sentence."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from dspy_tui.engine.tasks import demo_examples

from fakes.offline_brain import offline_brain
from fakes.provider_server import FakeProvider
from reliability.support import GROQ_MODEL, cli, cli_env, write_config


def test_relative_dataset_resumes_elsewhere_and_a_changed_file_is_refused(tmp_path: Path) -> None:
    here, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    data = here / "reviews.jsonl"
    data.write_text(
        "".join(
            json.dumps({"review": e.review, "sentiment": e.sentiment}) + "\n"
            for e in demo_examples("demo:sentiment", 80, 1)
        )
    )
    config = write_config(here / "s.toml", rounds=1, models=(GROQ_MODEL,), dataset="reviews.jsonl")
    config.write_text(config.read_text().replace("[task]\n", '[task]\nsignature = "review -> sentiment"\n'))
    provider = FakeProvider(latency_s=0.03, brain=offline_brain("base")).start()
    try:
        env = cli_env(tmp_path / "home", provider)
        proc = subprocess.Popen(
            [sys.executable, "-m", "dspy_tui", "run", "s.toml", "--headless"],
            env=env,
            cwd=here,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while len(provider.answered()) < 5:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        [row] = json.loads(cli("sessions", "list", "--json", env=env, cwd=elsewhere).stdout)
        shown = json.loads(cli("sessions", "show", row["id"], "--json", env=env, cwd=elsewhere).stdout)
        assert shown["config"]["task"]["dataset"] == str(data)
        assert len(shown["config"]["task"]["file_hashes"][str(data)]) == 64
        data.write_text(data.read_text() + json.dumps({"review": "new row", "sentiment": "neutral"}) + "\n")
        out = cli("resume", row["id"], "--headless", env=env, cwd=elsewhere)
        assert out.returncode == 2 and f"{data} changed since this session started" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
        data.write_text("\n".join(data.read_text().splitlines()[:-1]) + "\n")  # restored
        out = cli("resume", row["id"], "--headless", env=env, cwd=elsewhere)
        assert out.returncode == 0, out.stderr[-2000:]
    finally:
        provider.stop()
