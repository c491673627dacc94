"""Headless in CI: plain progress lines while the run goes (stdout a pipe), and exit 4 for a failed model."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from fakes.provider_server import FakeProvider
from reliability.support import GROQ_MODEL, cli, cli_env, cli_in_process, cli_popen, write_config

TWO_OFFLINE = ("run", "--task", "demo:sentiment", "--models", "offline/small,offline/base")


def test_piped_headless_run_prints_plain_progress_lines_during_the_run(tmp_path: Path) -> None:
    proc = cli_popen(
        *TWO_OFFLINE, "--rounds", "2", "--headless", env=cli_env(tmp_path), stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    running_when_first_line = proc.poll() is None
    rest, err = proc.communicate(timeout=300)
    lines = [first, *rest.splitlines(keepends=True)]
    assert proc.returncode == 0, err[-2000:]
    assert running_when_first_line, "the first progress line came only after the run ended"
    text = "".join(lines)
    assert "\x1b[" not in text  # no ANSI escapes in a log
    for model in ("offline/small", "offline/base"):
        for step in ("baseline dev", "round 1/2 dev", "test "):
            assert any(line.startswith("[") and f"{model}: {step}" in line for line in lines), (
                model,
                step,
                text,
            )
    assert "offline/base: phase optimization started" in text


def test_a_failed_model_in_a_completed_session_exits_4(tmp_path: Path) -> None:
    provider = FakeProvider(expected_key="sk-the-right-one").start()  # any other key gets a 401
    try:
        config = write_config(tmp_path / "s.toml", rounds=1, sizes=(12, 8, 8))
        started = time.monotonic()
        env = cli_env(tmp_path / "home", provider, GROQ_API_KEY="gsk_wrong_key_0000")
        out = cli("run", str(config), "--headless", env=env)
    finally:
        provider.stop()
    assert out.returncode == 4, (out.returncode, out.stderr[-2000:])
    assert f"{GROQ_MODEL} failed" in out.stderr and "Traceback" not in out.stderr
    assert "offline/small: test " in out.stdout
    print(f"\nexit 4 run: {time.monotonic() - started:.1f} s")


def test_plain_progress_prints_a_status_line_every_interval() -> None:
    import io

    from dspy_tui.cli.progress import PlainProgress
    from dspy_tui.engine import events as ev

    out = io.StringIO()

    def beats() -> list[str]:
        return [
            line for line in out.getvalue().splitlines() if "running: offline/base baseline dev 0.400" in line
        ]

    with PlainProgress(["offline/base"], 3, out, interval_s=0.05) as progress:
        progress.on_event(ev.RoundCompleted(model="offline/base", round=0, dev_score=0.4, best_dev_score=0.4))
        deadline = time.monotonic() + 10  # generous on a loaded machine; normally 0.1 s
        while len(beats()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(beats()) >= 2, out.getvalue()
    assert all(line.startswith("[00:") for line in out.getvalue().splitlines())


def test_run_warns_in_one_sentence_when_offline_models_cannot_do_the_task_shape(tmp_path: Path) -> None:
    import json

    data = tmp_path / "sums.jsonl"
    data.write_text(
        "\n".join(
            json.dumps({"question": f"What is {i} + {2 * i}?", "answer": str(3 * i)}) for i in range(40)
        )
        + "\n"
    )
    config = tmp_path / "sums.toml"
    config.write_text(
        f'rounds = 1\n[task]\ndataset = "{data}"\nsignature = "question -> answer: int"\n'
        '[[models]]\nid = "offline/base"\n'
    )
    out = cli_in_process("run", str(config), "--headless", env=cli_env(tmp_path / "home"))
    assert out.returncode == 0, out.stderr[-2000:]
    warnings = [line for line in out.stderr.splitlines() if "expect a score near 0" in line]
    assert len(warnings) == 1 and "classification and extraction" in warnings[0]


def test_seeds_run_reports_mean_and_ci_per_model_and_share_the_call_cache(tmp_path: Path) -> None:
    import json

    env = cli_env(tmp_path)
    out = cli_in_process(*TWO_OFFLINE, "--rounds", "1", "--seeds", "0,1,2", "--headless", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "repeated over seeds 0, 1, 2" in out.stdout
    for model in ("offline/small", "offline/base"):
        assert any(
            model in line and " ± " in line and "over 3 seed(s)" in line for line in out.stdout.splitlines()
        )
    assert "leads in" in out.stdout
    listed = json.loads(cli_in_process("sessions", "list", "--json", env=env).stdout)
    assert len(listed) == 3
    shown = [
        json.loads(cli_in_process("sessions", "show", s["id"], "--json", env=env).stdout) for s in listed
    ]
    assert len({s["config"]["repeat_group"] for s in shown}) == 1
    first = min(shown, key=lambda s: s["created_at"])
    assert first["cache_hits"] == 0 and all(
        s["cache_hits"] > 0 for s in shown if s is not first
    )  # same baseline


def test_plain_progress_says_when_a_model_is_rate_limited() -> None:
    import io

    from dspy_tui.cli.progress import PlainProgress
    from dspy_tui.engine import events as ev

    out = io.StringIO()
    with PlainProgress(["groq/llama"], 3, out, interval_s=60) as progress:
        progress.on_event(ev.ModelThrottled(model="groq/llama", reason="rate limited", retry_in_s=37))
    assert "groq/llama: rate-limited, retrying in 37 s" in out.getvalue()


def test_plain_progress_prints_a_line_while_a_provider_throttles_and_when_it_stops() -> None:
    import io

    from dspy_tui.cli.progress import PlainProgress
    from dspy_tui.engine import events as ev

    def sample(queued_s: float, paused_s: float = 0.0) -> ev.ProviderStats:
        status = ev.LimiterStatus(
            model="openai/gpt-4o-mini", provider="openai", in_flight=16, limit=16, max_limit=16, rpm=310,
            rpm_limit=500, rpm_limit_from="headers", tpm=48_000, queued_s=queued_s, served_s=10 - queued_s,
            rate_limited=2, paused_s=paused_s, pause_reason="rate limited",
        )  # fmt: skip
        return ev.ProviderStats(limiters=[status])

    out = io.StringIO()
    with PlainProgress(["openai/gpt-4o-mini"], 3, out, interval_s=60) as progress:
        progress.on_event(sample(1.0))  # 10% queued: not throttled, no line
        progress.on_event(sample(6.2, paused_s=37))
        progress.on_event(sample(6.5))  # still throttled, within the interval: no second line
        progress.on_event(sample(0.5))
    lines = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        "openai throttled: in-flight 16/16 · 310/500 RPM · 48k TPM · throttled 62% · "
        "rate-limited, retrying in 37 s · 2×429",
        "openai no longer throttled",
    ]


def test_progress_bars_show_what_holds_a_model_back_and_clear_it_when_nothing_does() -> None:
    """On a terminal (rich bars) as in plain lines: rate-limited with its countdown, the share of time
    queued on our side; each model's bar its own limiter's state."""
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from dspy_tui.cli.headless import _Progress
    from dspy_tui.engine import events as ev

    models = ["openai/gpt-4o-mini", "groq/llama"]
    session = SimpleNamespace(config=SimpleNamespace(rounds=3, cross_model=True), runs=dict.fromkeys(models))
    bars = _Progress(session)  # type: ignore[arg-type]

    def shown() -> dict[str, str]:
        out = io.StringIO()
        Console(file=out, width=200, color_system=None).print(bars.progress.get_renderable())
        return {m: next(line for line in out.getvalue().splitlines() if m in line) for m in models}

    def sample(model: str, queued_s: float, paused_s: float = 0.0) -> ev.LimiterStatus:
        return ev.LimiterStatus(
            model=model, provider=model.split("/")[0], in_flight=16, limit=16, max_limit=16,
            queued_s=queued_s, served_s=10 - queued_s, paused_s=paused_s, pause_reason="rate limited",
        )  # fmt: skip

    bars.on_event(ev.ModelThrottled(model="groq/llama", reason="rate limited", retry_in_s=37))
    assert "rate-limited, retrying in 37 s" in shown()["groq/llama"]
    bars.on_event(
        ev.ProviderStats(limiters=[sample("openai/gpt-4o-mini", 6.2, paused_s=12), sample("groq/llama", 1.0)])
    )
    now = shown()
    assert "rate-limited, retrying in 12 s · throttled 62%" in now["openai/gpt-4o-mini"]
    assert "retrying" not in now["groq/llama"] and "throttled" not in now["groq/llama"]
    assert "starting" in now["openai/gpt-4o-mini"]  # the step stays; the wait is shown beside it
    bars.on_event(ev.ProviderStats(limiters=[sample("openai/gpt-4o-mini", 6.5)]))
    assert (
        "throttled 65%" in shown()["openai/gpt-4o-mini"] and "retrying" not in shown()["openai/gpt-4o-mini"]
    )
    bars.on_event(ev.ProviderStats(limiters=[sample("openai/gpt-4o-mini", 0.5)], final=True))
    assert "throttled" not in shown()["openai/gpt-4o-mini"]
