"""The session store: sessions, their models, rounds, events, calls, checkpoints, reports.

Thread model: one SQLite connection per thread (a `threading.local`), all in
WAL mode with a busy timeout. The engine writes from its own threads and the
TUI reads from worker threads; per-thread connections avoid sharing a
connection object across threads (which sqlite3 serialises badly) and WAL
lets readers run while one writer commits. Writes are short transactions;
events arrive in batches so a busy session costs one commit per batch.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypedDict

from . import lease
from .call_outcomes import CALLS_WITH_OUTCOME, SENT_SQL
from .db import DiskFull, StorageError, connect, ensure_schema, is_disk_full
from .results import ModelResult, model_result, results_update
from .secrets import scrub
from .session_record import SessionRow, StoredSession, stored_session

SESSION_STATUSES = ("running", "completed", "stopped", "failed", "interrupted")


class UnknownSession(LookupError):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"No session with id {session_id!r}; `dspy-tui sessions list` shows the ids.")


class ModelCalls(TypedDict):
    calls: int
    refused: int
    cache_hits: int
    errors: int  # failed calls: not those a stop cancelled (storage/call_outcomes.py)
    cancelled: int
    tokens_in: int
    tokens_out: int
    tokens_cached: int
    cost_usd: float


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class SessionStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._seq_lock = threading.Lock()
        self._next_seq: dict[str, int] = {}
        self._leases: dict[str, lease.Lease] = {}  # sessions this store's process runs
        self.disk_full = threading.Event()  # a write found no space; cleared by the next good write
        ensure_schema(self._conn())

    # -- connections -------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. A full disk raises DiskFull and sets `disk_full`, so the engine
        stops sending calls; SQLite may have rolled back already, so rollback never hides the cause."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
            self.disk_full.clear()
        except BaseException as exc:
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if is_disk_full(exc):
                self.disk_full.set()
                raise DiskFull(self.path) from None
            raise

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self._conn().execute(sql, tuple(params))]

    # -- sessions ----------------------------------------------------------
    def create_session(
        self,
        *,
        name: str,
        config: Mapping[str, Any],
        models: Iterable[tuple[str, str]],
        task: str | None = None,
        seed: int | None = None,
        budget_usd: float | None = None,
        versions: Mapping[str, str] | None = None,
        session_id: str | None = None,
    ) -> str:
        """Create a session with its models (`(model, provider)` pairs); returns its id."""
        sid = session_id or uuid.uuid4().hex[:12]
        now = time.time()
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO sessions (id, name, status, created_at, updated_at, task, seed, budget_usd,"
                " config_json, versions_json, pid, host) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    sid,
                    name,
                    "running",
                    now,
                    now,
                    task,
                    seed,
                    budget_usd,
                    _json(scrub(dict(config))),
                    _json(dict(versions or default_versions())),
                    os.getpid(),
                    socket.gethostname(),
                ),
            )
            conn.executemany(
                "INSERT INTO session_models (session_id, model, provider) VALUES (?,?,?)",
                [(sid, m, p) for m, p in models],
            )
            token = lease.take(conn, sid)
        self._hold(sid, token)
        return sid

    def _hold(self, session_id: str, token: str) -> None:
        self._leases[session_id] = lease.Lease(self._conn, session_id, token)

    def _let_go(self, session_id: str) -> None:
        held = self._leases.pop(session_id, None)
        if held is not None:
            held.release()

    def runs_here(self, session_id: str) -> bool:
        """Whether this store holds the session's lease (this process is its runner)."""
        return session_id in self._leases

    def mark_interrupted(self) -> int:
        """Sessions marked running whose runner is gone (see storage/lease.py) become `interrupted`.

        The one liveness rule: `sessions list`, `sessions show`, the TUI's lists and its resume
        all read status after this, so a killed session never shows as running."""
        running = [r["id"] for r in self.query("SELECT id FROM sessions WHERE status = 'running'")]
        if not running or not lease.dead_runners(self._conn(), running):
            return 0
        try:
            with self._tx() as conn:  # decided again under the write lock
                dead = lease.dead_runners(conn, running)
                conn.executemany(
                    "UPDATE sessions SET status = 'interrupted' WHERE id = ? AND status = 'running'",
                    [(sid,) for sid in dead],
                )
                conn.executemany("DELETE FROM session_leases WHERE session_id = ?", [(sid,) for sid in dead])
        except (sqlite3.OperationalError, DiskFull):  # a full or read-only disk: reads still work
            return 0
        return len(dead)

    def list_sessions(self, limit: int | None = None) -> list[SessionRow]:
        """Newest first, with a per-session summary (storage/history.py has the one list query)."""
        from .history import list_sessions

        return list_sessions(self, None, limit)[0]

    def repeat_group(self, group: str) -> list[str]:
        """Ids of the sessions of one repeated run (config `repeat_group`), oldest first."""
        rows = self.query(
            "SELECT id FROM sessions WHERE json_extract(config_json, '$.repeat_group') = ? ORDER BY created_at, rowid",
            (group,),
        )
        return [r["id"] for r in rows]

    def get_session(self, session_id: str) -> StoredSession:
        """The session, its config and versions decoded, with its models (UnknownSession if none)."""
        self.mark_interrupted()
        rows = self.query("SELECT * FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise UnknownSession(session_id)
        row = rows[0]
        config, versions = json.loads(row["config_json"]), json.loads(row["versions_json"])
        return stored_session(row, config, versions, self.model_results(session_id))

    def session_models(self, session_id: str) -> list[dict[str, Any]]:
        models = self.query("SELECT * FROM session_models WHERE session_id = ? ORDER BY rowid", (session_id,))
        for m in models:
            m["results"] = json.loads(m.pop("results_json"))
        return models

    def model_results(self, session_id: str) -> list[ModelResult]:
        """The session's models as typed records, in the order they were configured."""
        return [model_result(m) for m in self.session_models(session_id)]

    def models_with_programs(self, session_id: str) -> list[str]:
        """Models with a stored program (a checkpoint) to export, by name."""
        return [
            r["model"]
            for r in self.query(
                "SELECT DISTINCT model FROM checkpoints WHERE session_id = ? ORDER BY model", (session_id,)
            )
        ]

    def set_budget(self, session_id: str, budget_usd: float) -> None:
        """Raise (or set) a session's budget, in its row and its stored config alike."""
        with self._tx() as conn:
            row = conn.execute("SELECT config_json FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None:
                raise UnknownSession(session_id)
            config = {**json.loads(row[0] or "{}"), "budget_usd": budget_usd}
            conn.execute(
                "UPDATE sessions SET budget_usd = ?, config_json = ?, updated_at = ? WHERE id = ?",
                (budget_usd, _json(config), time.time(), session_id),
            )

    def update_status(self, session_id: str, status: str, error: str | None = None) -> None:
        """Set the status. Setting `running` takes the session's lease for this process (SessionBusy
        when another live process runs it); any other status gives the lease back."""
        if status not in SESSION_STATUSES:
            raise ValueError(f"unknown session status {status!r}")
        token = None
        with self._tx() as conn:
            held = self._leases.get(session_id)
            if status == "running" and held is None:
                if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
                    raise UnknownSession(session_id)
                token = lease.take(conn, session_id)
            cur = conn.execute(
                "UPDATE sessions SET status = ?, error = ?, updated_at = ?, pid = ?, host = ? WHERE id = ?",
                (status, error, time.time(), os.getpid(), socket.gethostname(), session_id),
            )
            if cur.rowcount == 0:
                raise UnknownSession(session_id)
        if token is not None:
            self._hold(session_id, token)
        elif status != "running":
            self._let_go(session_id)

    def delete_session(self, session_id: str) -> None:
        """Delete a session and all it recorded (cache rows too); refused while it runs elsewhere."""
        with self._tx() as conn:
            if session_id not in self._leases:
                lease.refuse_if_running(conn, session_id, "deleting it")
            cur = conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            if cur.rowcount == 0:
                raise UnknownSession(session_id)
        self._let_go(session_id)
        with self._seq_lock:
            self._next_seq.pop(session_id, None)

    def update_model(self, session_id: str, model: str, **fields: Any) -> None:
        """Set columns of one session model; `results` (a dict) is merged into results_json."""
        results = fields.pop("results", None)
        if results:
            results = results_update(results)
        with self._tx() as conn:
            if fields:
                cols = ", ".join(f"{k} = ?" for k in fields)
                conn.execute(
                    f"UPDATE session_models SET {cols} WHERE session_id = ? AND model = ?",
                    (*fields.values(), session_id, model),
                )
            if results:
                row = conn.execute(
                    "SELECT results_json FROM session_models WHERE session_id = ? AND model = ?",
                    (session_id, model),
                ).fetchone()
                merged = {**json.loads(row[0] if row else "{}"), **results}
                conn.execute(
                    "UPDATE session_models SET results_json = ? WHERE session_id = ? AND model = ?",
                    (_json(merged), session_id, model),
                )
            conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (time.time(), session_id))

    # -- events ------------------------------------------------------------
    def append_events(self, session_id: str, events: Iterable[Mapping[str, Any]]) -> int:
        """Append a batch of event dicts (with `type`, `ts`, optional `model`) in one transaction."""
        batch = list(events)
        if not batch:
            return 0
        with self._seq_lock:
            try:
                return self._append_events(session_id, batch)
            except BaseException:
                self._next_seq.pop(session_id, None)  # nothing was written: count again next time
                raise

    def _append_events(self, session_id: str, batch: list[Mapping[str, Any]]) -> int:
        with self._tx() as conn:
            seq = self._next_seq.get(session_id)
            if seq is None:
                row = conn.execute(
                    "SELECT coalesce(max(seq), 0) FROM events WHERE session_id = ?", (session_id,)
                ).fetchone()
                seq = int(row[0]) + 1
            conn.executemany(
                "INSERT INTO events (session_id, seq, ts, type, model, payload) VALUES (?,?,?,?,?,?)",
                [
                    (session_id, seq + i, e.get("ts", time.time()), e["type"], e.get("model"), _json(e))
                    for i, e in enumerate(batch)
                ],
            )
            self._next_seq[session_id] = seq + len(batch)
        return len(batch)

    def events(
        self, session_id: str, *, types: Iterable[str] | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        sql = "SELECT payload FROM events WHERE session_id = ?"
        params: list[Any] = [session_id]
        if types:
            kinds = list(types)
            sql += f" AND type IN ({','.join('?' * len(kinds))})"
            params += kinds
        sql += " ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [json.loads(r[0]) for r in self._conn().execute(sql, params)]

    # -- calls, rounds, checkpoints, reports ------------------------------
    def record_calls(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Insert call rows (call-completed event dicts with their session_id) in one transaction."""
        batch = [call_values(r) for r in rows]
        if batch:
            with self._tx() as conn:
                conn.executemany(INSERT_CALL, batch)

    def update_running_totals(self, session_id: str, totals: Mapping[str, tuple[float, int]]) -> None:
        """Each model's cost and calls so far (model -> (USD, calls)), as its calls are written: a list of
        sessions then shows a running or interrupted session's spend as it is, without reading calls."""
        if totals:
            with self._tx() as conn:
                conn.executemany(
                    "UPDATE session_models SET cost_usd = ?, calls = ? WHERE session_id = ? AND model = ?",
                    [(cost, calls, session_id, model) for model, (cost, calls) in totals.items()],
                )

    def call_totals(self, session_id: str) -> dict[str, Any]:
        """Calls actually sent to providers; cache hits and budget refusals (never sent) counted
        apart; their cost (every recorded charge, estimated ones included, which are also given apart)."""
        row = (
            self._conn()
            .execute(
                f"SELECT coalesce(sum({SENT_SQL}), 0), coalesce(sum(outcome = 'cached'), 0),"
                " coalesce(sum(cost_usd), 0), coalesce(sum(outcome = 'failed'), 0),"
                " coalesce(sum(outcome = 'refused'), 0), coalesce(sum(CASE WHEN cost_estimated THEN cost_usd END), 0),"
                " coalesce(sum(outcome = 'cancelled'), 0)"
                f" FROM {CALLS_WITH_OUTCOME} WHERE session_id = ?",
                (session_id,),
            )
            .fetchone()
        )
        return {
            "calls": row[0],
            "cache_hits": row[1],
            "cost_usd": row[2],
            "errors": row[3],
            "refused_by_budget": row[4],
            "estimated_cost_usd": row[5],
            "cancelled": row[6],
        }

    def recorded_outputs(
        self, dataset: str, module: str, models: Sequence[str], sessions: int = 20
    ) -> dict[str, float]:
        """Per model: the mean output tokens of its answers to the unoptimized program (baseline calls
        the provider billed) in the last `sessions` sessions of this dataset and module; for the
        estimator, which otherwise has only a prior for what a hosted model writes."""
        if not models:
            return {}
        marks = ",".join("?" * len(models))
        rows = self.query(
            "SELECT model, avg(tokens_out) AS tokens_out FROM calls WHERE session_id IN"
            " (SELECT id FROM sessions WHERE task = ? AND json_extract(config_json, '$.task.module') = ?"
            "  ORDER BY created_at DESC LIMIT ?)"
            f" AND model IN ({marks}) AND phase = 'baseline' AND role = 'model' AND cache_hit = 0"
            " AND status = 'ok' AND tokens_out > 0 GROUP BY model",
            (dataset, module, sessions, *models),
        )
        return {r["model"]: float(r["tokens_out"]) for r in rows}

    def calls_by_model(self, session_id: str, role: str | None = None) -> dict[str, ModelCalls]:
        """Per model: calls sent (cache hits and budget refusals apart), failed ones, tokens and cost;
        only the calls made in `role` (`model`, `judge`) when given."""
        rows = self.query(
            f"SELECT model, sum({SENT_SQL}) AS calls, sum(outcome = 'cached') AS cache_hits,"
            " sum(outcome = 'refused') AS refused, sum(outcome = 'failed') AS errors,"
            " sum(outcome = 'cancelled') AS cancelled,"
            " coalesce(sum(tokens_in), 0) AS tokens_in, coalesce(sum(tokens_out), 0) AS tokens_out,"
            " coalesce(sum(tokens_cached), 0) AS tokens_cached, coalesce(sum(cost_usd), 0) AS cost_usd"
            f" FROM {CALLS_WITH_OUTCOME}"
            " WHERE session_id = ? AND (? IS NULL OR role = ?) GROUP BY model",
            (session_id, role, role),
        )
        return {
            r["model"]: ModelCalls(
                calls=int(r["calls"]),
                refused=int(r["refused"]),
                cache_hits=int(r["cache_hits"]),
                errors=int(r["errors"]),
                cancelled=int(r["cancelled"]),
                tokens_in=int(r["tokens_in"]),
                tokens_out=int(r["tokens_out"]),
                tokens_cached=int(r["tokens_cached"]),
                cost_usd=float(r["cost_usd"]),
            )
            for r in rows
        }

    def cost_by_phase(self, session_id: str, role: str = "model") -> dict[str, dict[str, float]]:
        """Per model called in `role` (`model`, or `judge` for the llm_judge): the cost of each phase's
        calls; calls with no phase (recorded before phases were, or made outside one) under `unattributed`."""
        rows = self._conn().execute(
            "SELECT model, coalesce(phase, 'unattributed'), coalesce(sum(cost_usd), 0) FROM calls"
            " WHERE session_id = ? AND role = ? GROUP BY model, 2 ORDER BY model, 2",
            (session_id, role),
        )
        out: dict[str, dict[str, float]] = {}
        for model, phase, cost in sorted(rows, key=lambda r: (r[0], _phase_order(r[1]))):
            out.setdefault(model, {})[phase] = float(cost)
        return out

    def record_round(self, session_id: str, model: str, phase: str, round_no: int, **fields: Any) -> None:
        """Record a finished round once: a resumed session replaying it keeps the original row."""
        metrics = fields.pop("metrics", {})
        cols = ["session_id", "model", "phase", "round", *fields, "metrics_json"]
        values = [session_id, model, phase, round_no, *fields.values(), _json(metrics)]
        with self._tx() as conn:
            conn.execute(
                f"INSERT OR IGNORE INTO rounds ({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                values,
            )

    def rounds(self, session_id: str, model: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM rounds WHERE session_id = ?"
        params: list[Any] = [session_id]
        if model:
            sql += " AND model = ?"
            params.append(model)
        rows = self.query(sql + " ORDER BY model, started_at, round", params)
        for r in rows:
            r["metrics"] = json.loads(r.pop("metrics_json"))
        return rows

    def save_checkpoint(
        self, session_id: str, model: str, phase: str, round_no: int, score: float | None, program: Any
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO checkpoints (session_id, model, phase, round, score, program_json,"
                " created_at) VALUES (?,?,?,?,?,?,?)",
                (session_id, model, phase, round_no, score, _json(program), time.time()),
            )

    def checkpoints(self, session_id: str, model: str) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT * FROM checkpoints WHERE session_id = ? AND model = ? ORDER BY created_at, rowid",
            (session_id, model),
        )
        for r in rows:
            r["program"] = json.loads(r.pop("program_json"))
        return rows

    def save_report(self, session_id: str, fmt: str, content: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO reports (session_id, format, content, created_at) VALUES (?,?,?,?)",
                (session_id, fmt, content, time.time()),
            )

    def report(self, session_id: str, fmt: str) -> str | None:
        row = (
            self._conn()
            .execute("SELECT content FROM reports WHERE session_id = ? AND format = ?", (session_id, fmt))
            .fetchone()
        )
        return row[0] if row else None


CALL_COLUMNS = (
    "session_id",
    "ts",
    "provider",
    "model",
    "endpoint",
    "request_hash",
    "tokens_in",
    "tokens_out",
    "tokens_cached",
    "cost_usd",
    "latency_ms",
    "status",
    "error_kind",
    "retries",
    "cache_hit",
    "call_id",
    "cost_estimated",
    "phase",
    "role",
    "queue_ms",
)
INSERT_CALL = f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES ({','.join('?' * len(CALL_COLUMNS))})"
_CALL_DEFAULTS = {"retries": 0, "cache_hit": False, "model": "", "cost_estimated": False, "role": "model"}


def call_values(event: Mapping[str, Any]) -> tuple[Any, ...]:
    """The `calls` row of a call-completed event (as a dict), in CALL_COLUMNS order."""
    values = [event.get(c, _CALL_DEFAULTS.get(c)) for c in CALL_COLUMNS]
    for flag in ("cache_hit", "cost_estimated"):
        values[CALL_COLUMNS.index(flag)] = int(bool(values[CALL_COLUMNS.index(flag)]))
    return tuple(values)


def default_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("dspy-tui", "dspy"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "unknown"
    return out


SessionBusy = lease.SessionBusy

__all__ = ["SessionStore", "UnknownSession", "SessionBusy", "StorageError", "SESSION_STATUSES"]


COST_PHASES = ("baseline", "optimization", "cross_model", "benchmark", "judge", "unattributed")


def _phase_order(phase: str) -> int:
    """Phases in the order a session runs them (an unknown one last)."""
    return COST_PHASES.index(phase) if phase in COST_PHASES else len(COST_PHASES)
