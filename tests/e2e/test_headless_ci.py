"""Headless in CI: plain progress lines while the run goes (stdout a pipe), and exit 4 for a failed model."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.fakes.provider_server import FakeProvider


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "DSPY_TUI_HOME": str(home), **extra}


def test_piped_headless_run_prints_plain_progress_lines_during_the_run(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "dspy_tui",
        "run",
        "--task",
        "demo:sentiment",
        "--models",
        "offline/small,offline/base",
        "--rounds",
        "2",
        "--headless",
    ]
    proc = subprocess.Popen(
        cmd, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
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
        config = tmp_path / "s.toml"
        config.write_text(
            "\n".join(
                [
                    'name = "one fails"',
                    "rounds = 1",
                    "[task]",
                    'dataset = "demo:sentiment"',
                    "max_train = 12",
                    "max_dev = 8",
                    "max_test = 8",
                    "[[models]]",
                    'id = "groq/llama-3.3-70b-versatile"',
                    "[[models]]",
                    'id = "offline/small"',
                ]
            )
            + "\n"
        )
        started = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "dspy_tui", "run", str(config), "--headless"],
            capture_output=True,
            text=True,
            timeout=300,
            env=_env(
                tmp_path / "home",
                DSPY_TUI_GROQ_BASE_URL=f"{provider.url}/openai/v1",
                GROQ_API_KEY="gsk_wrong_key_0000",
            ),
        )
    finally:
        provider.stop()
    assert out.returncode == 4, (out.returncode, out.stderr[-2000:])
    assert "groq/llama-3.3-70b-versatile failed" in out.stderr and "Traceback" not in out.stderr
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
    out = subprocess.run(
        [sys.executable, "-m", "dspy_tui", "run", str(config), "--headless"],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(tmp_path / "home"),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    warnings = [line for line in out.stderr.splitlines() if "expect a score near 0" in line]
    assert len(warnings) == 1 and "classification and extraction" in warnings[0]


def test_seeds_run_reports_mean_and_ci_per_model_and_share_the_call_cache(tmp_path: Path) -> None:
    import json

    cmd = [
        sys.executable,
        "-m",
        "dspy_tui",
        "run",
        "--task",
        "demo:sentiment",
        "--models",
        "offline/small,offline/base",
        "--rounds",
        "1",
        "--seeds",
        "0,1,2",
        "--headless",
    ]
    out = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "repeated over seeds 0, 1, 2" in out.stdout
    for model in ("offline/small", "offline/base"):
        assert any(
            model in line and " ± " in line and "over 3 seed(s)" in line for line in out.stdout.splitlines()
        )
    assert "leads in" in out.stdout
    listed = json.loads(
        subprocess.run(
            [sys.executable, "-m", "dspy_tui", "sessions", "list", "--json"],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
        ).stdout
    )
    assert len(listed) == 3
    shown = [
        json.loads(
            subprocess.run(
                [sys.executable, "-m", "dspy_tui", "sessions", "show", s["id"], "--json"],
                env=_env(tmp_path),
                capture_output=True,
                text=True,
            ).stdout
        )
        for s in listed
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
