"""`report -o` and `export -o` never write onto the database (or its WAL/SHM), nor over an existing file
unless `--force`; a refused write changes nothing stored.

The session is made by a real process; the refusals are asked of the CLI in-process (exit code and
stderr as a process would give them, without an interpreter start per command)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reliability.support import cli, cli_env, cli_in_process, only_session_id, table_digest


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str, Path]:
    home = tmp_path_factory.mktemp("out") / "home"
    env = cli_env(home)
    out = cli(
        "run", "--task", "demo:sentiment", "--models", "offline/small", "--rounds", "1", "--headless", env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return env, only_session_id(env), home / "dspy-tui.db"


def _model(env: dict[str, str], sid: str) -> str:
    data = json.loads(cli_in_process("sessions", "show", sid, "--json", env=env).stdout)
    return str(data["models"][0]["model"])


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", "-journal"])
@pytest.mark.parametrize("command", ["report", "export"])
def test_the_database_and_its_side_files_are_never_an_output(
    finished: tuple[dict[str, str], str, Path], command: str, suffix: str
) -> None:
    env, sid, db = finished
    before = table_digest(db)
    target = f"{db}{suffix}"
    extra = ["--model", _model(env, sid)] if command == "export" else []
    for force in ([], ["--force"]):
        out = cli_in_process(command, sid, *extra, "-o", target, *force, env=env)
        assert out.returncode == 2, out
        assert "database" in out.stderr and "Traceback" not in out.stderr
    assert table_digest(db) == before
    assert len(json.loads(cli_in_process("sessions", "list", "--json", env=env).stdout)) == 1


def test_the_database_through_another_name_is_refused(
    finished: tuple[dict[str, str], str, Path], tmp_path: Path
) -> None:
    env, sid, db = finished
    link = tmp_path / "innocent.md"
    link.symlink_to(db)
    out = cli_in_process("report", sid, "-o", str(link), "--force", env=env)
    assert out.returncode == 2 and "database" in out.stderr, out
    assert table_digest(db)


def test_an_existing_file_needs_force(finished: tuple[dict[str, str], str, Path], tmp_path: Path) -> None:
    env, sid, _ = finished
    target = tmp_path / "notes.md"
    target.write_text("my notes\n")
    out = cli_in_process("report", sid, "-o", str(target), env=env)
    assert out.returncode == 2 and "--force" in out.stderr, out
    assert target.read_text() == "my notes\n"
    out = cli_in_process("report", sid, "-o", str(target), "--force", env=env)
    assert out.returncode == 0, out.stderr
    assert target.read_text().startswith("#")
    program = tmp_path / "p.json"
    program.write_text("{}")
    model = _model(env, sid)
    assert cli_in_process("export", sid, "--model", model, "-o", str(program), env=env).returncode == 2
    assert program.read_text() == "{}"
    assert (
        cli_in_process("export", sid, "--model", model, "-o", str(program), "--force", env=env).returncode
        == 0
    )
    assert "predict" in program.read_text() or json.loads(program.read_text())
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
