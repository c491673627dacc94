"""The history queries: the filtered session list and several sessions' models and rounds side by side.

They read only the small tables (sessions, session_models, rounds), never
`calls`, so a database holding a million calls lists as fast as a new one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .results import ModelResult, model_result
from .session_record import SessionRow

if TYPE_CHECKING:
    from .sessions import SessionStore

DATE_FORMAT = "%Y-%m-%d"


@dataclass(frozen=True)
class SessionFilter:
    """Home's filter: every field narrows the list; empty fields match everything."""

    text: str = ""  # in the name, id, task, models or error
    task: str = ""
    model: str = ""
    status: str = ""
    since: float | None = None  # created at or after (epoch seconds)
    until: float | None = None  # created before

    @property
    def empty(self) -> bool:
        return self == SessionFilter()

    def describe(self) -> str:
        parts = [f"“{self.text}”"] if self.text else []
        parts += [
            f"{name} {value}"
            for name, value in (("task", self.task), ("model", self.model), ("status", self.status))
            if value
        ]
        if self.since is not None:
            parts.append("from " + time.strftime(DATE_FORMAT, time.localtime(self.since)))
        if self.until is not None:
            parts.append("to " + time.strftime(DATE_FORMAT, time.localtime(self.until - 1)))
        return " · ".join(parts)

    def where(self) -> tuple[str, list[Any]]:
        """The SQL condition on `sessions s` and its parameters (LIKE patterns escaped)."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.text:
            like = _like(self.text)
            clauses.append(
                "(s.name LIKE ? ESCAPE '\\' OR s.id LIKE ? ESCAPE '\\' OR coalesce(s.task, '') LIKE ? ESCAPE '\\'"
                " OR coalesce(s.error, '') LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM session_models t"
                " WHERE t.session_id = s.id AND t.model LIKE ? ESCAPE '\\'))"
            )
            params += [like] * 5
        if self.task:
            clauses.append("coalesce(s.task, '') LIKE ? ESCAPE '\\'")
            params.append(_like(self.task))
        if self.model:
            clauses.append(
                "EXISTS (SELECT 1 FROM session_models t WHERE t.session_id = s.id"
                " AND t.model LIKE ? ESCAPE '\\')"
            )
            params.append(_like(self.model))
        if self.status:
            clauses.append("s.status = ?")
            params.append(self.status)
        if self.since is not None:
            clauses.append("s.created_at >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("s.created_at < ?")
            params.append(self.until)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _like(text: str) -> str:
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


LIST_SQL = (
    "SELECT s.id, s.name, s.status, s.created_at, s.updated_at, s.task, s.budget_usd,"
    " (SELECT group_concat(model, ', ') FROM session_models m WHERE m.session_id = s.id) AS models,"
    " (SELECT max(test_score) FROM session_models m WHERE m.session_id = s.id) AS best_test_score,"
    " (SELECT coalesce(sum(cost_usd), 0) FROM session_models m WHERE m.session_id = s.id) AS cost_usd"
    " FROM sessions s{where} ORDER BY s.created_at DESC{limit}"
)


def list_sessions(
    store: SessionStore, flt: SessionFilter | None = None, limit: int | None = None
) -> tuple[list[SessionRow], int]:
    """The matching sessions, newest first (at most `limit`), and how many match in all."""
    store.mark_interrupted()
    where, params = (flt or SessionFilter()).where()
    rows = [
        SessionRow(**row)
        for row in store.query(
            LIST_SQL.format(where=where, limit="" if limit is None else " LIMIT ?"),
            params if limit is None else [*params, limit],
        )
    ]
    total = len(rows)
    if limit is not None and total == limit:
        total = int(store.query(f"SELECT count(*) AS n FROM sessions s{where}", params)[0]["n"])
    return rows, total


@dataclass(frozen=True)
class RoundPoint:
    """One stored round of one model: what the compare charts draw."""

    phase: str
    round: int
    dev: float | None
    cost_usd: float
    latency_ms: float | None
    tokens: int


@dataclass(frozen=True)
class StoredSession:
    """A session's identity in the compare view."""

    id: str
    name: str
    created_at: float
    task: str
    config: dict[str, Any]


@dataclass
class CompareRows:
    """What several sessions stored, for the compare view: read in three small queries."""

    sessions: dict[str, StoredSession]
    models: list[tuple[str, ModelResult]]  # (session id, result), in insertion order
    rounds: dict[tuple[str, str], list[RoundPoint]] = field(default_factory=dict)  # (session id, model)


def compare_rows(store: SessionStore, session_ids: Sequence[str]) -> CompareRows:
    if not session_ids:
        return CompareRows({}, [])
    marks = ",".join("?" * len(session_ids))
    sessions = {
        r["id"]: StoredSession(
            r["id"],
            r["name"],
            float(r["created_at"]),
            str(r["task"] or ""),
            json.loads(r["config_json"] or "{}"),
        )
        for r in store.query(
            f"SELECT id, name, created_at, task, config_json FROM sessions WHERE id IN ({marks})", session_ids
        )
    }
    models = [
        (m["session_id"], model_result(m))
        for m in store.query(
            f"SELECT * FROM session_models WHERE session_id IN ({marks}) ORDER BY rowid", session_ids
        )
    ]
    rounds: dict[tuple[str, str], list[RoundPoint]] = {}
    for r in store.query(
        "SELECT session_id, model, phase, round, dev_score, cost_usd, tokens_in, tokens_out, metrics_json"
        f" FROM rounds WHERE session_id IN ({marks}) ORDER BY session_id, model, started_at, round",
        session_ids,
    ):
        metrics = json.loads(r["metrics_json"] or "{}")
        rounds.setdefault((r["session_id"], r["model"]), []).append(
            RoundPoint(
                r["phase"],
                r["round"],
                r["dev_score"],
                float(r["cost_usd"] or 0.0),
                metrics.get("latency_p50_ms"),
                int(r["tokens_in"] or 0) + int(r["tokens_out"] or 0),
            )
        )
    return CompareRows(sessions, models, rounds)
