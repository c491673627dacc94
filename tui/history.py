"""What the history screens read: the filtered session list, one session in full, sessions compared.

Textual-free, and called from thread workers only. The list and the compare
data come from the small tables (sessions, session_models, rounds), never from
`calls`, so a database holding a million calls reads as fast as a new one.
Paired bootstraps are computed apart (`significance`) so a screen can show
its table first and the verdicts a moment later.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # storage.sessions pulls in sqlite-utils: not on the start-up path
    from dspy_tui.storage.paths import Paths
    from dspy_tui.storage.sessions import SessionStore
    from dspy_tui.tui.live_state import LiveState

OFFLINE_PROVIDERS = ("offline",)  # the simulated model: its costs and latencies are not a provider's
DATE_FORMAT = "%Y-%m-%d"
CROSS = "cross_model"


class FilterError(ValueError):
    """A filter field the user typed cannot be read; the message says which and how."""


# -- the home list -----------------------------------------------------------------
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
        parts += [f"{name} {value}" for name, value in (("task", self.task), ("model", self.model),
                                                        ("status", self.status)) if value]
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
            clauses.append("EXISTS (SELECT 1 FROM session_models t WHERE t.session_id = s.id"
                           " AND t.model LIKE ? ESCAPE '\\')")
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


def parse_day(text: str, what: str, *, end: bool = False) -> float | None:
    """A YYYY-MM-DD day as epoch seconds at local midnight (the next midnight when `end`); None if blank."""
    text = text.strip()
    if not text:
        return None
    try:
        day = time.strptime(text, DATE_FORMAT)
    except ValueError:
        raise FilterError(f"{what} must be a date like 2025-12-31, got {text!r}.") from None
    start = time.mktime((day.tm_year, day.tm_mon, day.tm_mday + (1 if end else 0), 0, 0, 0, 0, 0, -1))
    return start


LIST_SQL = (
    "SELECT s.id, s.name, s.status, s.created_at, s.task,"
    " (SELECT group_concat(model, ', ') FROM session_models m WHERE m.session_id = s.id) AS models,"
    " (SELECT max(test_score) FROM session_models m WHERE m.session_id = s.id) AS best_test_score,"
    " (SELECT coalesce(sum(cost_usd), 0) FROM session_models m WHERE m.session_id = s.id) AS cost_usd"
    " FROM sessions s{where} ORDER BY s.created_at DESC LIMIT ?"
)


def list_sessions(store: SessionStore, flt: SessionFilter, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Home's rows (newest first, at most `limit`) and how many sessions match in all."""
    store.mark_interrupted()
    where, params = flt.where()
    rows = store.query(LIST_SQL.format(where=where), [*params, limit])
    total = len(rows)
    if total == limit:
        total = int(store.query(f"SELECT count(*) AS n FROM sessions s{where}", params)[0]["n"])
    return rows, total


# -- one model's results ---------------------------------------------------------------
@dataclass(frozen=True)
class ModelResult:
    """One model of one session, as stored: the final benchmark and what it took."""

    model: str
    provider: str
    status: str
    baseline: float | None
    best_dev: float | None
    test: float | None
    ci: tuple[float, float] | None
    cost_usd: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    tokens_in: int
    tokens_out: int
    calls: int
    errors: int
    error: str | None
    transfer: dict[str, Any] | None
    test_scores: tuple[float, ...] = ()
    test_ids: tuple[str, ...] = ()

    @property
    def offline(self) -> bool:
        return self.provider in OFFLINE_PROVIDERS

    @property
    def correct(self) -> float:
        return sum(self.test_scores)

    @property
    def cost_per_correct(self) -> float | None:
        return self.cost_usd / self.correct if self.correct else None


def model_result(row: dict[str, Any]) -> ModelResult:
    """A `session_models` row (results_json already decoded into `results`)."""
    res = row["results"]
    ci = (row["test_ci_low"], row["test_ci_high"]) if row["test_ci_low"] is not None else None
    return ModelResult(
        model=row["model"], provider=row["provider"], status=row["status"], baseline=row["baseline_score"],
        best_dev=row["best_dev_score"], test=row["test_score"], ci=ci, cost_usd=float(row["cost_usd"] or 0.0),
        latency_p50_ms=res.get("benchmark_latency_p50_ms") or res.get("latency_p50_ms"),
        latency_p95_ms=res.get("benchmark_latency_p95_ms") or res.get("latency_p95_ms"),
        tokens_in=int(res.get("tokens_in") or 0), tokens_out=int(res.get("tokens_out") or 0),
        calls=int(row["calls"] or 0), errors=int(res.get("errors") or 0), error=row["error"],
        transfer=res.get("transfer"), test_scores=tuple(float(s) for s in res.get("test_scores") or ()),
        test_ids=tuple(str(i) for i in res.get("test_ids") or ()),
    )


# -- one session ------------------------------------------------------------------------
@dataclass
class SessionDetail:
    session: dict[str, Any]  # the sessions row, config and versions decoded
    models: list[ModelResult]
    state: LiveState  # replayed from the stored events: the round chart and the event log
    price_labels: dict[str, str]
    report_paths: dict[str, str]
    programs: list[str]  # models with a stored program (a checkpoint) to export

    @property
    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = self.session["config"]
        return config


def load_detail(paths: Paths, session_id: str) -> SessionDetail:
    """Everything the detail screen shows (imports pricing, so DSPy: thread workers only)."""
    from dspy_tui.storage.sessions import SessionStore
    from dspy_tui.tui.runner import load_state, price_labels, stored_report_paths

    state = load_state(paths.db_path, session_id)
    store = SessionStore(paths.db_path)
    try:
        session = store.get_session(session_id)
        models = [model_result(m) for m in session["models"]]
        programs = [r["model"] for r in store.query(
            "SELECT DISTINCT model FROM checkpoints WHERE session_id = ? ORDER BY model", (session_id,))]
    finally:
        store.close()
    return SessionDetail(
        session=session, models=models, state=state, price_labels=price_labels(session["config"]),
        report_paths=state.report_paths or stored_report_paths(paths, session_id), programs=programs,
    )


def config_summary(config: dict[str, Any]) -> list[tuple[str, str]]:
    """The settings worth a glance, as (label, value)."""
    task = config.get("task") or {}
    conv = config.get("convergence") or {}
    budget = config.get("budget_usd")
    return [
        ("Task", str(task.get("dataset") or "-") + (f" ({task['metric']})" if task.get("metric") else "")),
        ("Optimizer", f"{config.get('optimizer', 'bootstrap')}, {config.get('rounds', 5)} rounds, "
                      f"patience {conv.get('patience', 2)}"),
        ("Budget", "none" if budget is None else f"${budget:g}"),
        ("Cross-model", "on" if config.get("cross_model", True) else "off"),
        ("Seed", str(config.get("seed", 0))),
        ("Concurrency", str(config.get("concurrency", 8))),
    ]


# -- several sessions compared ---------------------------------------------------------------
@dataclass(frozen=True)
class RoundPoint:
    phase: str
    round: int
    dev: float | None
    cost_usd: float
    latency_ms: float | None
    tokens: int


@dataclass(frozen=True)
class Entry:
    """One model of one session, a row of the compare table."""

    session_id: str
    session_name: str
    created_at: float
    task: str
    result: ModelResult
    rounds: tuple[RoundPoint, ...]
    group: str = ""  # entries with the same letter were tested on the same examples; "" = not tested

    @property
    def key(self) -> str:
        return f"{self.session_id}:{self.result.model}"

    @property
    def label(self) -> str:
        return f"{self.session_name} · {self.result.model}"


@dataclass(frozen=True)
class Verdict:
    """An entry against the best entry of its group, by paired bootstrap over the shared examples."""

    reference: str  # the best entry's key
    diff: float  # this entry's mean minus the reference's
    p_value: float
    significant: bool
    n: int


@dataclass
class CompareData:
    entries: list[Entry]
    groups: dict[str, tuple[str, int]]  # letter -> (task, number of test examples)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # session id -> its config
    missing: list[str] = field(default_factory=list)  # ids that are no longer in the database

    @property
    def comparable(self) -> bool:
        """Every tested entry shares one test set."""
        return len(self.groups) <= 1


def load_compare(store: SessionStore, session_ids: Sequence[str]) -> CompareData:
    """The entries of the given sessions, oldest session first, grouped by the test set they share."""
    if not session_ids:
        return CompareData([], {})
    marks = ",".join("?" * len(session_ids))
    sessions = {r["id"]: r for r in store.query(
        f"SELECT id, name, created_at, task, config_json FROM sessions WHERE id IN ({marks})", session_ids)}
    models = store.query(f"SELECT * FROM session_models WHERE session_id IN ({marks}) ORDER BY rowid", session_ids)
    rounds: dict[tuple[str, str], list[RoundPoint]] = {}
    for r in store.query(
        "SELECT session_id, model, phase, round, dev_score, cost_usd, tokens_in, tokens_out, metrics_json"
        f" FROM rounds WHERE session_id IN ({marks}) ORDER BY session_id, model, started_at, round", session_ids,
    ):
        metrics = json.loads(r["metrics_json"] or "{}")
        rounds.setdefault((r["session_id"], r["model"]), []).append(RoundPoint(
            r["phase"], r["round"], r["dev_score"], float(r["cost_usd"] or 0.0), metrics.get("latency_p50_ms"),
            int(r["tokens_in"] or 0) + int(r["tokens_out"] or 0)))
    sets: dict[tuple[str, frozenset[str]], str] = {}
    groups: dict[str, tuple[str, int]] = {}
    entries = []
    for m in models:
        s = sessions[m["session_id"]]
        m["results"] = json.loads(m.pop("results_json") or "{}")
        result = model_result(m)
        task = str(s["task"] or "")
        group = ""
        ids = result.test_ids
        if ids and len(ids) == len(result.test_scores) and len(set(ids)) == len(ids):
            key = (task, frozenset(result.test_ids))
            if key not in sets:
                sets[key] = chr(ord("A") + len(sets)) if len(sets) < 26 else f"G{len(sets)}"
                groups[sets[key]] = (task, len(result.test_ids))
            group = sets[key]
        entries.append(Entry(s["id"], s["name"], float(s["created_at"]), task, result,
                             tuple(rounds.get((s["id"], result.model), ())), group))
    entries.sort(key=lambda e: e.created_at)
    configs = {sid: json.loads(s["config_json"] or "{}") for sid, s in sessions.items()}
    return CompareData(entries, groups, configs, missing=[sid for sid in session_ids if sid not in sessions])


def cost_labels(data: CompareData) -> dict[str, str]:
    """Entry key -> price label ("offline/simulated", "unpriced", ...); imports pricing, so DSPy."""
    from dspy_tui.tui.runner import price_labels

    by_session = {sid: price_labels(config) for sid, config in data.configs.items()}
    return {e.key: by_session.get(e.session_id, {}).get(e.result.model, "") for e in data.entries}


def significance(entries: Iterable[Entry], *, seed: int = 0) -> dict[str, Verdict]:
    """Each tested entry against the best-scoring entry of its group (the best itself gets no verdict)."""
    from dspy_tui.engine.stats import paired_bootstrap

    by_group: dict[str, list[Entry]] = {}
    for e in entries:
        if e.group and e.result.test is not None:
            by_group.setdefault(e.group, []).append(e)
    out: dict[str, Verdict] = {}
    for members in by_group.values():
        best = max(members, key=lambda e: (e.result.correct / len(e.result.test_scores)))
        ref = dict(zip(best.result.test_ids, best.result.test_scores, strict=True))
        for e in members:
            if e is best:
                continue
            mine = list(e.result.test_scores)
            theirs = [ref[i] for i in e.result.test_ids]
            r = paired_bootstrap(mine, theirs, seed=seed)
            out[e.key] = Verdict(best.key, r.mean_diff, r.p_value, r.significant, r.n)
    return out


class CompareRounds:
    """Several entries' round curves in the shape RoundChart draws (what LiveState offers it)."""

    def __init__(self, entries: Sequence[Entry], names: Mapping[str, str]) -> None:
        self.entries = {names[e.key]: e for e in entries}  # by the unique name the chart shows
        self.rounds = max([1, *(p.round for e in entries for p in e.rounds if p.phase == "optimization")])
        self.cross_model = any(p.phase == CROSS for e in entries for p in e.rounds)
        self.models = list(self.entries)

    def x_of(self, point: RoundPoint) -> int:
        if point.phase == "baseline":
            return 0
        return self.rounds + 1 if point.phase == CROSS else point.round

    def series(self, label: str, metric: str) -> tuple[list[int], list[float]]:
        xs: list[int] = []
        ys: list[float] = []
        seen: set[int] = set()
        for p in sorted(self.entries[label].rounds, key=self.x_of):
            value = {"dev": p.dev, "cost": p.cost_usd, "latency": p.latency_ms, "tokens": float(p.tokens)}[metric]
            x = self.x_of(p)
            if value is not None and x not in seen:
                seen.add(x)
                xs.append(x)
                ys.append(value)
        return xs, ys


def unique_names(entries: Sequence[Entry]) -> dict[str, str]:
    """Entry key -> "session · model", with the date (then the id) added where two would read the same."""
    names = {e.key: e.label for e in entries}
    for extra in (lambda e: time.strftime(" (%m-%d %H:%M)", time.localtime(e.created_at)),
                  lambda e: f" [{e.session_id[:6]}]"):
        counts: dict[str, int] = {}
        for name in names.values():
            counts[name] = counts.get(name, 0) + 1
        names = {e.key: names[e.key] + (extra(e) if counts[names[e.key]] > 1 else "") for e in entries}
    return names


def trend(entries: Sequence[Entry]) -> dict[str, list[tuple[float, float]]]:
    """model -> (session date, test score), oldest first: how each model does on one task over time."""
    out: dict[str, list[tuple[float, float]]] = {}
    for e in sorted(entries, key=lambda e: e.created_at):
        if e.result.test is not None:
            out.setdefault(e.result.model, []).append((e.created_at, e.result.test))
    return out
