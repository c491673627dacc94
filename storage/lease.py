"""One runner per session: a lease row (owner pid, host, heartbeat) in `session_leases`.

Two `resume`s of one session at once would both pay for the same requests, so a
runner first takes the session's lease, in the same transaction that marks the
session running. A lease whose owner is gone (a dead pid on this host, a Lease
object of this process that was dropped, or no heartbeat for LEASE_STALE_S from
another host) is taken over. The same rule decides whether a `running` session
is really running (`runner_alive`): the CLI and the TUI both read status through
it, so a killed session reads as `interrupted` everywhere.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
LEASE_STALE_S = 120.0  # a runner on another host that has not beaten for this long is gone

_held: weakref.WeakValueDictionary[str, Lease] = weakref.WeakValueDictionary()  # token -> live Lease here
_beat_lock = threading.Lock()
_beat_thread: threading.Thread | None = None


class SessionBusy(Exception):
    """Another live process runs this session; the message says which, in one sentence."""

    def __init__(self, session_id: str, pid: int, host: str, action: str = "") -> None:
        where = "" if host == socket.gethostname() else f" on {host}"
        tail = f"; stop it before {action}" if action else ""
        super().__init__(f"session {session_id} is already running (pid {pid}{where}){tail}.")
        self.session_id, self.pid, self.host = session_id, pid, host


def pid_alive(pid: int) -> bool:
    """A process with this pid exists on this host and is not a zombie (killed, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): the kill(0) answer stands


def runner_alive(row: Any, now: float | None = None) -> bool:
    """Whether the owner of a lease row (token, pid, host, heartbeat) still runs its session."""
    if row["host"] == socket.gethostname():
        if row["pid"] == os.getpid():
            return row["token"] in _held
        return pid_alive(int(row["pid"]))
    return (now or time.time()) - float(row["heartbeat"]) < LEASE_STALE_S


class Lease:
    """This process's right to run one session; `release()` gives it back (also when dropped)."""

    def __init__(self, conn: Callable[[], sqlite3.Connection], session_id: str, token: str) -> None:
        self._conn = conn
        self.session_id = session_id
        self.token = token
        self.released = False
        _held[token] = self
        _start_heartbeat()

    def beat(self) -> None:
        conn = self._conn()
        with conn:
            conn.execute(
                "UPDATE session_leases SET heartbeat = ? WHERE session_id = ? AND token = ?",
                (time.time(), self.session_id, self.token),
            )

    def release(self) -> None:
        """Give the session up; safe to call twice, and on a database that cannot be written."""
        if self.released:
            return
        self.released = True
        _held.pop(self.token, None)
        try:
            conn = self._conn()
            with conn:
                conn.execute(
                    "DELETE FROM session_leases WHERE session_id = ? AND token = ?",
                    (self.session_id, self.token),
                )
        except sqlite3.Error:  # the row is stale now that no live Lease holds its token
            log.warning("could not remove the lease of session %s", self.session_id, exc_info=True)


def _live_holder(conn: sqlite3.Connection, session_id: str) -> tuple[Any, ...] | None:
    row = conn.execute(
        "SELECT token, pid, host, heartbeat FROM session_leases WHERE session_id = ?", (session_id,)
    ).fetchone()
    return tuple(row) if row is not None and runner_alive(_as_dict(tuple(row))) else None


def refuse_if_running(conn: sqlite3.Connection, session_id: str, action: str = "") -> None:
    """Raise SessionBusy when a live runner holds the session (`action`: what the caller wanted)."""
    holder = _live_holder(conn, session_id)
    if holder is not None:
        raise SessionBusy(session_id, int(holder[1]), str(holder[2]), action)


def take(conn: sqlite3.Connection, session_id: str) -> str:
    """Inside the caller's write transaction: take the session's lease (or raise SessionBusy).

    Returns the new token; the caller wraps it in a Lease once the transaction commits."""
    refuse_if_running(conn, session_id)
    token, now = uuid.uuid4().hex, time.time()
    conn.execute(
        "INSERT OR REPLACE INTO session_leases (session_id, token, pid, host, acquired_at, heartbeat)"
        " VALUES (?,?,?,?,?,?)",
        (session_id, token, os.getpid(), socket.gethostname(), now, now),
    )
    return token


def dead_runners(conn: sqlite3.Connection, session_ids: list[str]) -> list[str]:
    """Those of these `running` sessions that no live process holds."""
    return [sid for sid in session_ids if _live_holder(conn, sid) is None]


def _as_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    token, pid, host, heartbeat = row
    return {"token": token, "pid": pid, "host": host, "heartbeat": heartbeat}


def _start_heartbeat() -> None:
    global _beat_thread
    with _beat_lock:
        if _beat_thread is None or not _beat_thread.is_alive():
            _beat_thread = threading.Thread(target=_beat_forever, name="session-lease-heartbeat", daemon=True)
            _beat_thread.start()


def _beat_forever() -> None:
    """Refresh every lease held here, so another host can tell a live runner from a vanished one."""
    while True:
        time.sleep(HEARTBEAT_S)
        for lease in list(_held.values()):
            try:
                lease.beat()
            except sqlite3.Error:  # a full or locked disk: the pid check still holds on this host
                log.debug("lease heartbeat of %s failed", lease.session_id, exc_info=True)
