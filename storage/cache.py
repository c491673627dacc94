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

from .db import connect, is_disk_full
from .secrets import redact_known
from .sessions import INSERT_CALL, call_values


def cache_key(*, provider: str, endpoint: str, model: str, body: Any) -> str:
    canonical = json.dumps(
        {"provider": provider, "endpoint": endpoint, "model": model, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


DEFAULT_MAX_BODY_BYTES = 1_000_000
TRUNCATED = "dspy_tui_truncated"  # the key marking a stored body cut to its head


def session_of(key: str) -> str | None:
    """The session a cache key is scoped to (`SESSION_ID:` prefix), or None for an unscoped key."""
    head, sep, _ = key.partition(":")
    return head if sep else None


class CallCache:
    """get/put over the `lm_cache` table; one connection per thread, counters shared.

    On a full disk a paid answer is not dropped: `put` keeps it (with its calls row) in
    memory, sets `disk_full` so the engine stops sending calls, and writes it with the next
    put or `flush_unstored()`. `get` answers from those kept rows too."""

    def __init__(self, path: Path | str, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.path = Path(path)
        self.max_body_bytes = max_body_bytes
        self._local = threading.local()
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one writer of the kept rows at a time: no call row twice
        self._unstored: dict[str, tuple[tuple[Any, ...], tuple[Any, ...] | None]] = {}
        self.disk_full = threading.Event()
        self.hits = 0
        self.misses = 0

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
        return conn

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            kept = self._unstored.get(key)
        if kept is not None:
            row = (kept[0][5],)
        else:
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
        entry = (
            key,
            session_of(key),
            provider,
            model,
            endpoint,
            self._stored_body(body),
            json.dumps(usage or {}),
            time.time(),
        )
        with self._lock:
            self._unstored[key] = (entry, call_values(call) if call is not None else None)
        self.flush_unstored()

    def _stored_body(self, body: Any) -> str:
        """The body as stored: secrets scrubbed; over `max_body_bytes`, a marked head of it (a resume
        cannot read such an answer back and asks again; the database stays small)."""
        text = redact_known(json.dumps(body))
        if len(text) <= self.max_body_bytes:
            return text
        return json.dumps({TRUNCATED: True, "bytes": len(text), "head": text[: self.max_body_bytes // 2]})

    def flush_unstored(self) -> bool:
        """Write the answers kept in memory; True when none is left (False: the disk is still full)."""
        with self._flushing:
            return self._flush()

    def _flush(self) -> bool:
        with self._lock:
            rows = list(self._unstored.items())
        if not rows:
            return True
        conn = self._conn()
        try:
            with conn:
                conn.executemany(_INSERT, [entry for _, (entry, _) in rows])
                conn.executemany(INSERT_CALL, [call for _, (_, call) in rows if call is not None])
        except sqlite3.Error as exc:
            if not is_disk_full(exc):
                with self._lock:
                    for key, _ in rows:
                        self._unstored.pop(key, None)
                raise
            self.disk_full.set()
            return False
        with self._lock:
            for key, _ in rows:
                self._unstored.pop(key, None)
            left = bool(self._unstored)
        if not left:
            self.disk_full.clear()
        return not left

    @property
    def unstored(self) -> int:
        """Answers received but not yet on disk."""
        with self._lock:
            return len(self._unstored)

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM lm_cache").fetchone()[0])


_INSERT = (
    "INSERT OR REPLACE INTO lm_cache (key, session_id, provider, model, endpoint, body, usage, created_at)"
    " VALUES (?,?,?,?,?,?,?,?)"
)
