"""The `dspy-tui` command as a user runs it: a real process, a real DSPY_TUI_HOME."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from reliability.support import cli_home, migration_names


def test_sessions_list_json_is_empty_on_new_install_and_db_is_wal(dspy_tui_home: Path) -> None:
    out = cli_home("sessions", "list", "--json", home=dspy_tui_home)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
    assert not (dspy_tui_home / "dspy-tui.db").exists()  # listing nothing creates nothing
    assert cli_home("doctor", home=dspy_tui_home).returncode == 0  # opens (so creates) the database
    db = sqlite3.connect(dspy_tui_home / "dspy-tui.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    applied = [name for (name,) in db.execute("SELECT name FROM _sqlite_migrations")]
    assert applied == migration_names()


def test_version_and_help(dspy_tui_home: Path) -> None:
    out = cli_home("--version", home=dspy_tui_home)
    assert out.returncode == 0 and out.stdout.startswith("dspy-tui ")
    for cmd in ([], ["keys"], ["sessions"], ["doctor"]):
        out = cli_home(*cmd, "--help", home=dspy_tui_home)
        assert out.returncode == 0 and "usage: dspy-tui" in out.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("sessions", "show", "nope"), "No session with id 'nope'"),
        (("sessions", "delete", "nope"), "No session with id 'nope'"),
        (("keys", "set", "nope"), "Unknown provider 'nope'"),
        (("keys", "delete", "nope"), "Unknown provider 'nope'"),
    ],
)
def test_user_errors_are_one_sentence_and_exit_2(
    dspy_tui_home: Path, args: tuple[str, ...], needle: str
) -> None:
    out = cli_home(*args, home=dspy_tui_home)
    assert out.returncode == 2
    assert needle in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_unreadable_database_path_exits_2(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "dspy-tui.db").write_bytes(b"garbage" * 500)
    out = cli_home("sessions", "list", home=home)
    assert out.returncode == 2 and "not a dspy-tui database" in out.stderr
    assert "Traceback" not in out.stderr


def test_keys_set_without_keyring_backend_explains(dspy_tui_home: Path) -> None:
    out = cli_home(
        "keys",
        "set",
        "openai",
        home=dspy_tui_home,
        stdin="sk-test-0000000011112222\n",
        env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    assert out.returncode == 2
    assert "no OS keyring backend" in out.stderr and "OPENAI_API_KEY" in out.stderr


def test_keys_set_list_delete_with_file_backend(dspy_tui_home: Path, tmp_path: Path) -> None:
    env = {
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
    }
    secret = "sk-proj-abcdefghijklmnop9999"
    out = cli_home("keys", "set", "openai", home=dspy_tui_home, stdin=secret + "\n", env=env)
    assert out.returncode == 0, out.stderr
    assert secret not in out.stdout
    listed = json.loads(cli_home("keys", "list", "--json", home=dspy_tui_home, env=env).stdout)
    assert {"provider": "openai", "source": "keyring", "masked": "sk-...9999"} in listed
    doctor = cli_home("doctor", home=dspy_tui_home, env=env)
    assert doctor.returncode == 0 and "0006_call_queue_time" in doctor.stdout and secret not in doctor.stdout
    assert cli_home("keys", "delete", "openai", home=dspy_tui_home, env=env).returncode == 0
    # the key never reached the database or the logs
    for path in dspy_tui_home.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
