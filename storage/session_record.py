"""One stored session, typed: a line of the session list and the whole record `get_session` returns.

Both start with the `sessions` columns a list shows (`SessionColumns`, declared once);
the whole record adds its config and versions decoded and its models as `ModelResult`
records, so a reader names fields the type checker knows rather than dict keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .results import ModelResult


@dataclass(frozen=True)
class SessionColumns:
    """The `sessions` columns every view of a session starts with."""

    id: str
    name: str
    status: str
    created_at: float
    updated_at: float
    task: str | None
    budget_usd: float | None


@dataclass(frozen=True)
class SessionRow(SessionColumns):
    """One line of the session list (`sessions list --json`, the home screen): its models' totals."""

    models: str | None  # "a, b, c"
    best_test_score: float | None
    cost_usd: float


@dataclass(frozen=True)
class StoredSession(SessionColumns):
    """A session as stored: its row, config and versions decoded, its models in configured order."""

    seed: int | None
    config: dict[str, Any]
    versions: dict[str, Any]
    error: str | None
    models: tuple[ModelResult, ...]
    pid: int | None = None  # the process that runs it (its lease), None once it ended
    host: str | None = None


_DECODED = frozenset({"config", "versions", "models"})  # every other field is the column of its name


def stored_session(
    row: Mapping[str, Any], config: dict[str, Any], versions: dict[str, Any], models: list[ModelResult]
) -> StoredSession:
    """The record of a `sessions` row whose JSON columns are already decoded."""
    plain: dict[str, Any] = {f.name: row.get(f.name) for f in fields(StoredSession) if f.name not in _DECODED}
    return StoredSession(**plain, config=config, versions=versions, models=tuple(models))
