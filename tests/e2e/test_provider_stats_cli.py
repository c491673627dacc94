"""Per-provider throttling in a real `dspy-tui run` process against the fake provider: the
`--json` stream carries `provider_stats` events, plain headless progress prints a line while
the provider throttles the run."""

from __future__ import annotations

import json
from pathlib import Path

from fakes.offline_brain import offline_brain
from fakes.provider_server import FakeProvider
from reliability.support import GROQ_MODEL, UNLIMITED, cli, cli_env, write_config


def _throttled_config(path: Path) -> Path:
    """Eight threads through one slot: the groq model's calls mostly wait on our side."""
    config = write_config(path, rounds=1, sizes=(8, 30, 30), models=(GROQ_MODEL,))
    config.write_text(config.read_text().replace(UNLIMITED, "{ concurrency = 1 }"))
    return config


def test_the_json_stream_and_plain_progress_show_a_throttled_provider(tmp_path: Path) -> None:
    provider = FakeProvider(latency_s=0.03, brain=offline_brain("base")).start()
    try:
        config = _throttled_config(tmp_path / "s.toml")
        streamed = cli("run", str(config), "--headless", "--json", env=cli_env(tmp_path / "a", provider))
        assert streamed.returncode == 0, streamed.stderr[-2000:]
        sent = len(provider.received)
        events = [json.loads(line) for line in streamed.stdout.splitlines()]
        stats = [e for e in events if e["type"] == "provider_stats"]
        assert stats and stats[-1]["final"] and not any(e["final"] for e in stats[:-1])
        (final,) = stats[-1]["limiters"]
        assert (final["model"], final["limit"], final["rpm"]) == (GROQ_MODEL, 1, sent)
        assert final["queued_s"] > final["served_s"]  # throttled on our side, not slow at the provider
        assert len(stats) < sent / 4  # sampled, never one per call

        plain = cli("run", str(config), "--headless", env=cli_env(tmp_path / "b", provider))
        assert plain.returncode == 0, plain.stderr[-2000:]
        lines = [line for line in plain.stdout.splitlines() if "groq throttled: in-flight " in line]
        assert lines and "/1 · " in lines[0] and " RPM · " in lines[0] and "throttled " in lines[0], lines
        assert len(lines) <= 3  # one when it starts, then at most one per 10 s
    finally:
        provider.stop()
