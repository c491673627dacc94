"""A user metric that raises, or returns a str, None, NaN or infinity, fails the session before any
model is paid, in one sentence naming the function and what went wrong; JSON output never holds
NaN or Infinity, even for a value already stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from fakes.offline_brain import offline_brain
from fakes.provider_server import FakeProvider
from reliability.support import GROQ_MODEL, cli_env, cli_in_process, write_config

METRICS = """
import math

def raises(example, pred, trace=None):
    return 1 / 0

def text(example, pred, trace=None):
    return "1.0"

def nothing(example, pred, trace=None):
    return None

def not_a_number(example, pred, trace=None):
    return math.nan

def infinite(example, pred, trace=None):
    return math.inf

def fine(example, pred, trace=None):
    return float(example.label == pred.label)
"""

CASES = [
    ("raises", "the metric usermetrics:raises raised ZeroDivisionError: division by zero"),
    ("text", "the metric usermetrics:text returned '1.0', which is not a finite number"),
    ("nothing", "the metric usermetrics:nothing returned None, which is not a finite number"),
    ("not_a_number", "the metric usermetrics:not_a_number returned nan, which is not a finite number"),
    ("infinite", "the metric usermetrics:infinite returned inf, which is not a finite number"),
]


def _strict(text: str) -> object:
    def refuse(name: str) -> object:
        raise AssertionError(f"invalid JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(("function", "sentence"), CASES)
def test_a_broken_metric_fails_before_spending(tmp_path: Path, function: str, sentence: str) -> None:
    (tmp_path / "usermetrics.py").write_text(METRICS)
    provider = FakeProvider(brain=offline_brain("base")).start()
    try:
        env = cli_env(tmp_path / "home", provider, PYTHONPATH=str(tmp_path))
        config = write_config(tmp_path / "m.toml", models=(GROQ_MODEL,), metric=f"usermetrics:{function}")
        text = config.read_text().replace(f'metric = "usermetrics:{function}"\n', "")
        config.write_text(text.replace("[task]\n", f'[task]\nmetric = "usermetrics:{function}"\n'))
        out = cli_in_process("run", str(config), "--headless", env=env)
        assert out.returncode == 2, out
        # the metric is named as the config gave it, or as the file it was resolved to
        named = out.stderr.replace(f"{tmp_path}/usermetrics.py:", "usermetrics:")
        assert sentence in named and "Traceback" not in out.stderr, out.stderr
        assert out.stderr.strip().count("\n") == 0
        assert provider.received == [], "a model was paid before the metric was tried"
        assert _strict(cli_in_process("sessions", "list", "--json", env=env).stdout) == []
    finally:
        provider.stop()


def test_json_output_never_holds_nan_or_infinity(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home")
    out = cli_in_process(
        "run", "--task", "demo:sentiment", "--models", "offline/small", "--rounds", "1", "--headless", env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    conn = sqlite3.connect(tmp_path / "home" / "dspy-tui.db")
    conn.execute(
        "UPDATE session_models SET test_score = 1e999, baseline_score = 1e999 * 0"
    )  # stored by old versions
    conn.commit()
    conn.close()
    rows = _strict(cli_in_process("sessions", "list", "--json", env=env).stdout)
    assert isinstance(rows, list) and rows[0]["best_test_score"] is None
    shown = _strict(cli_in_process("sessions", "show", rows[0]["id"], "--json", env=env).stdout)
    assert isinstance(shown, dict) and shown["models"][0]["test_score"] is None
