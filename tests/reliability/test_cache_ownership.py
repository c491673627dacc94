"""The call cache belongs to its session by a foreign key: deleting a session deletes its cached answers.

The migration is tested from a database left by the schema before it (0001 + 0002), with cached
answers of a live session, rows orphaned by a delete under the old schema and an unscoped row.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

from dspy_tui.storage import db as dbmod
from dspy_tui.storage.cache import CallCache
from dspy_tui.storage.sessions import SessionStore


def _old_database(path: Path) -> None:
    old = sqlite_utils.Database(dbmod.connect(path))
    old_set = Migrations("dspy_tui")
    old_set(name="0001_initial")(dbmod._m0001_initial)
    old_set(name="0002_session_owner")(dbmod._m0002_session_owner)
    old_set.apply(old)
    old.execute(
        "INSERT INTO sessions (id, name, status, created_at, updated_at) VALUES ('s1','x','completed',1,1)"
    )
    for key in ("s1:aaa", "s1:bbb#1", "gone:ccc", "ddd"):
        old.execute(
            "INSERT INTO lm_cache (key, provider, model, endpoint, body, created_at)"
            " VALUES (?, 'openai', 'm', 'e', '{}', 1)",
            (key,),
        )
    old.conn.commit()
    old.close()


def test_migration_backfills_the_owner_and_drops_orphans(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_database(path)
    store = SessionStore(path)
    rows = dict(store._conn().execute("SELECT key, session_id FROM lm_cache").fetchall())
    assert rows == {"s1:aaa": "s1", "s1:bbb#1": "s1", "ddd": None}
    store.delete_session("s1")
    assert [r[0] for r in store._conn().execute("SELECT key FROM lm_cache")] == ["ddd"]
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_a_new_answer_is_owned_by_its_session_and_deleted_with_it(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    store = SessionStore(path)
    sid = store.create_session(name="n", config={}, models=[("openai/m", "openai")])
    store.update_status(sid, "completed")
    cache = CallCache(path)
    cache.put(f"{sid}:k1", provider="openai", model="m", endpoint="e", body={"id": 1})
    assert cache.get(f"{sid}:k1") == {"id": 1} and len(cache) == 1
    store.delete_session(sid)
    assert len(cache) == 0
