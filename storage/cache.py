"""The LM call cache: every paid answer, keyed by what was asked.

The key is a sha256 over the canonical request plus provider, endpoint and
model (never the API key), computed by the engine. On resume the same
requests hash to the same keys, so the provider is not asked (or paid)
twice. It lives in the session database (`lm_cache`) so one file holds all.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .db import connect
from .sessions import INSERT_CALL, call_values


def cache_key(*, provider: str, endpoint: str, model: str, body: Any) -> str:
    canonical = json.dumps(
        {"provider": provider, "endpoint": endpoint, "model": model, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def session_of(key: str) -> str | None:
    """The session a cache key is scoped to (`SESSION_ID:` prefix), or None for an unscoped key."""
    head, sep, _ = key.partition(":")
    return head if sep else None


class CallCache:
    """get/put over the `lm_cache` table; one connection per thread, counters shared."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
        return conn

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT body FROM lm_cache WHERE key = ?", (key,)).fetchone()
        with self._lock:
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        body: dict[str, Any] = json.loads(row[0])
        return body

    def put(
        self,
        key: str,
        *,
        provider: str,
        model: str,
        endpoint: str,
        body: Any,
        usage: Any = None,
        call: Mapping[str, Any] | None = None,
    ) -> None:
        """Store an answer; with `call` (its call-completed event, with session_id) the `calls` row is
        written in the same transaction, so a crash can never keep a paid answer but lose its cost."""
        conn = self._conn()
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO lm_cache (key, session_id, provider, model, endpoint, body, usage,"
                " created_at) VALUES (?,?,?,?,?,?,?,?)",
                (key, session_of(key), provider, model, endpoint, json.dumps(body), json.dumps(usage or {}),
                 time.time()),
            )
            if call is not None:
                conn.execute(INSERT_CALL, call_values(call))

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM lm_cache").fetchone()[0])
