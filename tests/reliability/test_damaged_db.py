"""Damaged, newer and incompatible databases: every command answers in one sentence that names the
file (and how to check it), never a traceback; a newer schema is refused and left untouched."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from reliability.support import cli, cli_env, cli_in_process, only_session_id, table_digest

COMMANDS = (
    ("sessions", "list"),
    ("sessions", "list", "--json"),
    ("sessions", "show", "{sid}"),
    ("sessions", "show", "{sid}", "--json"),
    ("report", "{sid}"),
    ("report", "{sid}", "--format", "json"),
    ("export", "{sid}", "--model", "offline/small", "-o", "{out}"),
    ("resume", "{sid}", "--headless"),
    ("doctor",),
    ("sessions", "delete", "{sid}"),
)


@pytest.fixture(scope="module")
def good_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    home = tmp_path_factory.mktemp("good") / "home"
    env = cli_env(home)
    out = cli(
        "run", "--task", "demo:sentiment", "--models", "offline/small", "--rounds", "1", "--headless", env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    db = home / "dspy-tui.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db, only_session_id(env)


def _home_with(db: Path, tmp_path: Path) -> tuple[dict[str, str], Path]:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(db, home / "dspy-tui.db")
    return cli_env(home), home / "dspy-tui.db"


def _run_all(env: dict[str, str], sid: str, tmp_path: Path) -> list[tuple[tuple[str, ...], int, str]]:
    results = []
    for i, command in enumerate(COMMANDS):
        args = tuple(a.format(sid=sid, out=tmp_path / f"p{i}.json") for a in command)
        out = cli_in_process(*args, env=env)
        assert "Traceback" not in out.stderr, (args, out.stderr[-3000:])
        results.append((args, out.returncode, out.stderr))
    return results


def test_a_newer_schema_is_refused_untouched(good_db: tuple[Path, str], tmp_path: Path) -> None:
    env, db = _home_with(good_db[0], tmp_path)
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('dspy_tui', '0042_future', 'x')"
    )
    conn.commit()
    conn.close()
    before = table_digest(db)
    process = cli("sessions", "list", env=env)  # the real process too: its exit code and its one line
    results = [(("process: sessions", "list"), process.returncode, process.stderr)]
    for args, code, stderr in [*results, *_run_all(env, good_db[1], tmp_path)]:
        assert code == 2, (args, stderr)
        assert stderr.count("\n") == 1 and "written by a newer dspy-tui (schema 42); upgrade" in stderr, (
            args,
            stderr,
        )
        assert str(db) in stderr
    assert table_digest(db) == before


@pytest.mark.parametrize("where", [0.3, 0.5, 0.8])
def test_garbage_in_the_middle_is_one_sentence_naming_the_file(
    good_db: tuple[Path, str], tmp_path: Path, where: float
) -> None:
    env, db = _home_with(good_db[0], tmp_path)
    size = db.stat().st_size
    with db.open("r+b") as f:
        f.seek(int(size * where) // 4096 * 4096)
        f.write(b"\xde\xad\xbe\xef" * 2048)
    for args, code, stderr in _run_all(env, good_db[1], tmp_path):
        if code != 0 and "is already completed" not in stderr:  # resume's answer when the rows still read
            assert code in (1, 2), (args, code, stderr)
            assert str(db) in stderr and "integrity_check" in stderr, (args, stderr)


def test_an_incompatible_database_is_one_sentence(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    db = home / "dspy-tui.db"
    good = tmp_path / "blank"
    assert cli("doctor", env=cli_env(good)).returncode == 0  # a database with every migration
    conn = sqlite3.connect(good / "dspy-tui.db")
    rows = conn.execute("SELECT migration_set, name, applied_at FROM _sqlite_migrations").fetchall()
    conn.close()
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TABLE _sqlite_migrations (id INTEGER PRIMARY KEY, migration_set TEXT, name TEXT, applied_at TEXT)"
    )
    conn.executemany("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?,?,?)", rows)
    conn.execute("CREATE TABLE sessions (id TEXT PRIMARY KEY, title TEXT)")
    conn.execute("INSERT INTO sessions VALUES ('abc', 'someone else')")
    conn.commit()
    conn.close()
    env = cli_env(home)
    for args, code, stderr in _run_all(env, "abc", tmp_path):
        assert code != 0 or args == ("doctor",), (args, stderr)
        if code != 0:
            assert str(db) in stderr and "integrity_check" in stderr, (args, stderr)
    assert json.loads(json.dumps(table_digest(db)))
