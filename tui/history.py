"""What the history screens read: the filtered session list, one session in full, sessions compared.

Textual-free, and called from thread workers only. The list and the compare
data come from the small tables (sessions, session_models, rounds), never from
`calls`, so a database holding a million calls reads as fast as a new one.
Paired bootstraps are computed apart (`significance`) so a screen can show
its table first and the verdicts a moment later.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dspy_tui.storage.history import DATE_FORMAT, RoundPoint, SessionFilter
from dspy_tui.storage.results import ModelResult
from dspy_tui.storage.session_record import StoredSession

if TYPE_CHECKING:  # the service pulls in the engine: not on the start-up path
    from dspy_tui.engine.service import SessionService
    from dspy_tui.storage.paths import Paths
    from dspy_tui.tui.live_state import LiveState

__all__ = [
    "SessionFilter",
    "ModelResult",
    "FilterError",
    "parse_day",
]  # the filter bar and tables import them here
CROSS = "cross_model"


class FilterError(ValueError):
    """A filter field the user typed cannot be read; the message says which and how."""


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


# -- one session ------------------------------------------------------------------------
@dataclass
class SessionDetail:
    session: StoredSession
    models: list[ModelResult]
    state: LiveState  # replayed from the stored events: the round chart and the event log
    price_labels: dict[str, str]
    report_paths: dict[str, str]
    programs: list[str]  # models with a stored program (a checkpoint) to export

    @property
    def config(self) -> dict[str, Any]:
        return self.session.config


def load_detail(paths: Paths, session_id: str) -> SessionDetail:
    """Everything the detail screen shows (imports pricing, so DSPy: thread workers only)."""
    from dspy_tui.engine.service import price_labels, with_prices
    from dspy_tui.tui.runner import load_state, service_for

    service = service_for(paths)
    state = load_state(service, session_id)
    session = service.session(session_id)
    labels = price_labels(session.config)
    return SessionDetail(
        session=session,
        models=with_prices(session.models, labels),
        state=state,
        price_labels=labels,
        report_paths=state.report_paths or service.report_paths(session_id),
        programs=service.programs(session_id),
    )


def config_summary(config: dict[str, Any]) -> list[tuple[str, str]]:
    """The settings worth a glance, as (label, value)."""
    task = config.get("task") or {}
    conv = config.get("convergence") or {}
    budget = config.get("budget_usd")
    return [
        ("Task", str(task.get("dataset") or "-") + (f" ({task['metric']})" if task.get("metric") else "")),
        (
            "Optimizer",
            f"{config.get('optimizer', 'bootstrap')}, {config.get('rounds', 5)} rounds, "
            f"patience {conv.get('patience', 2)}",
        ),
        ("Budget", "none" if budget is None else f"${budget:g}"),
        ("Cross-model", "on" if config.get("cross_model", True) else "off"),
        ("Seed", str(config.get("seed", 0))),
        ("Concurrency", str(config.get("concurrency", 8))),
    ]


# -- several sessions compared ---------------------------------------------------------------
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


def load_compare(service: SessionService, session_ids: Sequence[str]) -> CompareData:
    """The entries of the given sessions, oldest session first, grouped by the test set they share."""
    if not session_ids:
        return CompareData([], {})
    stored = service.compare(session_ids)
    sets: dict[tuple[str, frozenset[str]], str] = {}
    groups: dict[str, tuple[str, int]] = {}
    entries = []
    for sid, result in stored.models:
        s = stored.sessions[sid]
        group = ""
        ids = result.test_ids
        if ids and len(ids) == len(result.test_scores) and len(set(ids)) == len(ids):
            key = (s.task, frozenset(result.test_ids))
            if key not in sets:
                sets[key] = chr(ord("A") + len(sets)) if len(sets) < 26 else f"G{len(sets)}"
                groups[sets[key]] = (s.task, len(result.test_ids))
            group = sets[key]
        entries.append(
            Entry(
                s.id,
                s.name,
                s.created_at,
                s.task,
                result,
                tuple(stored.rounds.get((s.id, result.model), ())),
                group,
            )
        )
    entries.sort(key=lambda e: e.created_at)
    configs = {sid: s.config for sid, s in stored.sessions.items()}
    return CompareData(
        entries, groups, configs, missing=[sid for sid in session_ids if sid not in stored.sessions]
    )


def seed_summaries(service: SessionService, data: CompareData) -> list[dict[str, Any]]:
    """For each repeated run two or more of whose seeds are compared: the CLI's summary over those seeds
    (mean ± two-level CI, dev-gain spread, ranking stability, the leader against each model over
    (seed, example) pairs), from engine/repeats.py."""
    from dspy_tui.engine.repeats import summarise

    groups: dict[str, list[str]] = {}
    for sid in dict.fromkeys(e.session_id for e in data.entries):
        group = data.configs.get(sid, {}).get("repeat_group")
        if group:
            groups.setdefault(group, []).append(sid)
    return [summarise([service.session(sid) for sid in sids]) for sids in groups.values() if len(sids) > 1]


def cost_labels(data: CompareData) -> dict[str, str]:
    """Entry key -> price label ("offline/simulated", "unpriced", ...); imports pricing, so DSPy."""
    from dspy_tui.engine.service import price_labels

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
        best = max(members, key=lambda e: e.result.correct / len(e.result.test_scores))
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
            value = {"dev": p.dev, "cost": p.cost_usd, "latency": p.latency_ms, "tokens": float(p.tokens)}[
                metric
            ]
            x = self.x_of(p)
            if value is not None and x not in seen:
                seen.add(x)
                xs.append(x)
                ys.append(value)
        return xs, ys


def unique_names(entries: Sequence[Entry]) -> dict[str, str]:
    """Entry key -> "session · model", with the date (then the id) added where two would read the same."""
    names = {e.key: e.label for e in entries}
    for extra in (
        lambda e: time.strftime(" (%m-%d %H:%M)", time.localtime(e.created_at)),
        lambda e: f" [{e.session_id[:6]}]",
    ):
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
