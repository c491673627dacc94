"""The session commands as a user runs them: run --json, sessions show, report, export, estimate, tasks, models.

`run --json` is a real process; what the other commands answer is asked in-process (the process
and its console script are tests/e2e/test_cli.py's)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import dspy
import pytest

from reliability.support import cli_home, cli_in_process

SMALL = ["--task", "demo:intent", "--models", "offline/small,offline/base", "--rounds", "1", "--seed", "4"]


def ask(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return cli_in_process(*args, env={**os.environ, "DSPY_TUI_HOME": str(home)})


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[dict]]:
    home = tmp_path_factory.mktemp("home")
    out = ask("run", *SMALL, "--json", home=home)
    assert out.returncode == 0, out.stderr[-2000:]
    events = [json.loads(line) for line in out.stdout.splitlines()]
    return home, events[0]["session_id"], events


def test_run_json_prints_one_typed_event_per_line(finished: tuple[Path, str, list[dict]]) -> None:
    _, sid, events = finished
    assert all(e["session_id"] == sid and e["type"] for e in events)
    types = [e["type"] for e in events]
    assert types[0] == "session_started" and types[-1] == "session_completed"
    assert {
        "phase_started",
        "round_completed",
        "call_completed",
        "benchmark_progress",
        "report_ready",
    } <= set(types)


def test_sessions_show_json_has_the_documented_fields(finished: tuple[Path, str, list[dict]]) -> None:
    home, sid, events = finished
    shown = json.loads(ask("sessions", "show", sid, "--json", home=home).stdout)
    assert shown["id"] == sid and shown["status"] == "completed"
    assert shown["cost_usd"] == 0 and shown["calls"] > 0 and shown["cache_hits"] >= 0
    assert shown["calls"] == sum(1 for e in events if e["type"] == "call_completed" and not e["cache_hit"])
    for m in shown["models"]:
        assert {
            "model",
            "status",
            "baseline_score",
            "best_dev_score",
            "test_score",
            "cost_usd",
            "calls",
        } <= set(m)
        assert m["test_score"] is not None and m["calls"] > 0


def test_sessions_show_text_formats_money_and_scores(
    finished: tuple[Path, str, list[dict]], tmp_path: Path
) -> None:
    """Never a float's repr (`0.005776099999999998`, `0.41333333333333333`) or `None` in the text output."""
    home, sid, _ = finished
    (tmp_path / "home").mkdir()
    with (
        sqlite3.connect(home / "dspy-tui.db") as src,
        sqlite3.connect(tmp_path / "home" / "dspy-tui.db") as dst,
    ):
        src.backup(dst)
        dst.execute(
            "UPDATE session_models SET cost_usd = 0.005776099999999998,"
            " results_json = json_remove(results_json, '$.metrics.na.cost_usd')"
            " WHERE session_id = ? AND model = 'offline/base'",
            (sid,),
        )
    shown = ask("sessions", "show", sid, home=tmp_path / "home")
    assert shown.returncode == 0, shown.stderr
    assert not re.search(r"\d\.\d{5,}|None", shown.stdout), shown.stdout
    rows = {line.split()[0]: line.split() for line in shown.stdout.splitlines()[3:5]}
    assert rows["offline/base"][5] == "$0.0058" and rows["offline/small"][5] == "offline/simulated"
    assert rows["offline/small"][6] == "offline/simulated"  # the price column: where its price comes from
    assert (
        json.loads(ask("sessions", "show", sid, "--json", home=tmp_path / "home").stdout)["models"][1][
            "cost_usd"
        ]
        == 0.005776099999999998
    )


def test_an_offline_session_never_reads_as_spending_zero_dollars(
    finished: tuple[Path, str, list[dict]],
) -> None:
    home, sid, _ = finished
    listed, shown = (
        cli_home("sessions", "list", home=home).stdout,
        cli_home("sessions", "show", sid, home=home).stdout,
    )
    assert "$0.0000" not in listed + shown
    assert "no cost (offline/simulated models)" in listed and "no cost (offline/simulated models)" in shown


def test_resuming_a_completed_session_says_what_to_do_instead(finished: tuple[Path, str, list[dict]]) -> None:
    """It said the session was completed and where its results are: now also how to run it again."""
    home, sid, _ = finished
    out = ask("resume", sid, "--headless", home=home)
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "already completed" in lines[0] and f"`dspy-tui report {sid}`" in lines[0]
    assert "`dspy-tui run`" in lines[0] and "Re-run" in lines[0]


@pytest.mark.parametrize("fmt", ["md", "json", "html"])
def test_report_in_every_format(finished: tuple[Path, str, list[dict]], fmt: str, tmp_path: Path) -> None:
    home, sid, _ = finished
    target = tmp_path / f"r.{fmt}"
    out = ask("report", sid, "--format", fmt, "-o", str(target), home=home)
    assert out.returncode == 0, out.stderr
    text = target.read_text()
    assert "offline/base" in text
    if fmt == "json":
        report = json.loads(text)
        assert {"rankings", "recommendations", "pairwise", "models", "session"} <= set(report)
        assert report["session"]["seed"] == 4 and report["session"]["versions"]["dspy"]


def test_exported_program_loads_in_plain_dspy(finished: tuple[Path, str, list[dict]], tmp_path: Path) -> None:
    home, sid, _ = finished
    target = tmp_path / "program.json"
    out = ask("export", sid, "--model", "offline/base", "-o", str(target), home=home)
    assert out.returncode == 0, out.stderr
    program = dspy.Predict("text -> team")
    program.load(str(target))
    assert program.demos, "the optimized program carries its demos"
    bad = ask("export", sid, "--model", "offline/nope", "-o", str(target), home=home)
    assert bad.returncode == 2 and "has no model 'offline/nope'" in bad.stderr


def test_estimate_tasks_models(dspy_tui_home: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    est = json.loads(
        ask("estimate", str(root / "examples" / "offline.toml"), "--json", home=dspy_tui_home).stdout
    )
    assert [e["model"] for e in est] == ["offline/small", "offline/base", "offline/large"]
    for e in est:
        assert e["calls"]["min"] <= e["calls"]["expected"] <= e["calls"]["max"]
        assert e["cost_usd"] == {"min": 0.0, "expected": 0.0, "max": 0.0}
    paid = json.loads(
        ask(
            "estimate", str(root / "examples" / "basic_multi_model.toml"), "--json", home=dspy_tui_home
        ).stdout
    )
    for e in paid:
        assert 0 < e["cost_usd"]["min"] <= e["cost_usd"]["expected"] <= e["cost_usd"]["max"]
    tasks = json.loads(ask("tasks", "--json", home=dspy_tui_home).stdout)
    assert {t["name"] for t in tasks} >= {"demo:sentiment", "demo:intent"}
    assert all(t["size"] >= 200 for t in tasks)
    models = json.loads(ask("models", "--json", home=dspy_tui_home).stdout)
    by_name = {m["model"]: m for m in models}
    assert by_name["offline/base"]["kind"] == "offline/simulated"
    assert by_name["openai/gpt-4o"]["priced"] and by_name["openai/gpt-4o"]["key"] == "missing"


def test_every_example_config_is_valid(dspy_tui_home: Path) -> None:
    from dspy_tui.engine.config import load_config

    root = Path(__file__).resolve().parents[2]
    names = sorted(p.name for p in (root / "examples").glob("*.toml"))
    assert len(names) >= 6
    for path in (root / "examples").glob("*.toml"):
        load_config(path)


def test_bad_dataset_is_one_sentence_naming_file_and_line(tmp_path: Path, dspy_tui_home: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text('{"q": "a", "a": "b"}\n{"q": "c", "a": \n')
    config = tmp_path / "c.toml"
    config.write_text(
        f'[task]\ndataset = "{data}"\nsignature = "q -> a"\n\n[[models]]\nid = "offline/base"\n'
    )
    out = ask("run", str(config), "--headless", home=dspy_tui_home)
    assert out.returncode == 2
    assert "data.jsonl" in out.stderr and "line 2" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert json.loads(ask("sessions", "list", "--json", home=dspy_tui_home).stdout) == []


def test_openai_aimed_at_a_local_server_warns_in_one_sentence(tmp_path: Path) -> None:
    from fakes.offline_brain import offline_brain
    from fakes.provider_server import FakeProvider

    provider = FakeProvider(latency_s=0.0, brain=offline_brain("base")).start()
    try:
        env = {
            **os.environ,
            "DSPY_TUI_HOME": str(tmp_path / "home"),
            "OPENAI_API_KEY": "sk-test-local-url",
            "DSPY_TUI_OPENAI_BASE_URL": f"{provider.url}/v1",
        }
        out = cli_in_process(
            "run",
            "--task",
            "demo:sentiment",
            "--models",
            "openai/my-llama",
            "--rounds",
            "1",
            "--headless",
            env=env,
        )
        answered = len(provider.answered())
    finally:
        provider.stop()
    assert out.returncode == 0, out.stderr[-2000:]
    warnings = [line for line in out.stderr.splitlines() if "points at a local server" in line]
    assert len(warnings) == 1 and "openai-compatible/my-llama" in warnings[0]
    assert answered > 0  # and it ran (the wire's cap field per host: tests/unit/test_local_provider.py)


def test_only_a_command_that_ran_a_session_to_its_end_lets_the_process_leave_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`entry` skips the interpreter's teardown only after a stored session: main says so in its
    return value (was a module list filled as a side effect, which outlived one call of main)."""
    from dspy_tui.cli.main import SessionEnded, main

    monkeypatch.setenv("DSPY_TUI_HOME", str(tmp_path))
    ran = main(["run", *SMALL, "--headless"])
    assert isinstance(ran, SessionEnded) and ran == 0
    listed = main(["sessions", "list"])
    assert listed == 0 and not isinstance(listed, SessionEnded)
    capsys.readouterr()
