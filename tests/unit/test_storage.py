"""The session database: migrations, the store, batching, the call cache."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlite_utils
from sqlite_utils.migrations import Migrations

from dspy_tui.storage import db as dbmod
from dspy_tui.storage.cache import CallCache, cache_key
from dspy_tui.storage.sessions import SessionStore, UnknownSession


def test_blank_database_is_migrated_in_wal_mode(tmp_path: Path) -> None:
    db = dbmod.open_database(tmp_path / "a.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert int(db.execute("PRAGMA busy_timeout").fetchone()[0]) == dbmod.BUSY_TIMEOUT_MS
    assert {
        "sessions",
        "session_models",
        "rounds",
        "events",
        "calls",
        "checkpoints",
        "reports",
        "lm_cache",
    } <= set(db.table_names())
    assert dbmod.schema_version(db) == "0006_call_queue_time"
    assert [m.name for m in dbmod.migrations.applied(db)] == [
        "0001_initial",
        "0002_session_owner",
        "0003_cache_session_fk",
        "0004_session_leases",
        "0005_call_charges",
        "0006_call_queue_time",
    ]


def test_migrating_twice_is_a_noop(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    dbmod.open_database(path).close()
    db = dbmod.open_database(path)
    assert len(dbmod.migrations.applied(db)) == 6
    assert dbmod.migrations.pending(db) == []


def test_older_schema_is_upgraded_in_place(tmp_path: Path) -> None:
    """A database that stopped at an earlier migration set gains the new ones and keeps its rows."""
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(dbmod.connect(path))
    old_set = Migrations("dspy_tui")
    old_set(name="0001_initial")(dbmod._m0001_initial)
    old_set.apply(old)
    old.execute(
        "INSERT INTO sessions (id, name, status, created_at, updated_at) VALUES ('s1','x','completed',1,1)"
    )
    old.conn.commit()
    old.close()
    store = SessionStore(path)
    session = store.get_session("s1")
    assert session.name == "x" and session.status == "completed"
    assert store.query("SELECT pid, host FROM sessions WHERE id = ?", ("s1",))  # added by 0002_session_owner
    assert dbmod.migrations.pending(sqlite_utils.Database(dbmod.connect(path))) == []


def test_a_running_session_whose_process_died_is_interrupted(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.db")
    sid = _session(store)
    assert store.get_session(sid).status == "running"  # this very process owns it
    store.query("SELECT 1")
    with store._tx() as conn:
        conn.execute("UPDATE session_leases SET pid = ? WHERE session_id = ?", (2**22 + 12345, sid))
    assert store.get_session(sid).status == "interrupted"


def test_unreadable_database_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(dbmod.StorageError, match="not a dspy-tui database"):
        dbmod.open_database(bad)


def _session(store: SessionStore, **kw: object) -> str:
    return store.create_session(
        name="t",
        config={"models": ["offline/base"], "api_key": "sk-secret-123456789"},
        models=[("offline/base", "offline"), ("offline/small", "offline")],
        task="demo:sentiment",
        seed=1,
        **kw,  # type: ignore[arg-type]
    )


def test_session_lifecycle(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.db")
    sid = _session(store)
    assert [s.id for s in store.list_sessions()] == [sid]
    got = store.get_session(sid)
    assert got.status == "running"
    assert [m.model for m in got.models] == ["offline/base", "offline/small"]
    store.update_model(sid, "offline/base", test_score=0.8, cost_usd=0.5, results={"latency_p50_ms": 3})
    store.update_model(sid, "offline/base", results={"latency_p95_ms": 9})
    assert store.session_models(sid)[0]["results"] == {"latency_p50_ms": 3, "latency_p95_ms": 9}
    with pytest.raises(ValueError, match="has no key p50: declare it in storage/results.py"):
        store.update_model(sid, "offline/base", results={"p50": 3})  # results_json is typed
    store.update_status(sid, "completed")
    summary = store.list_sessions()[0]
    assert summary.best_test_score == 0.8 and summary.cost_usd == 0.5
    store.delete_session(sid)
    assert store.list_sessions() == []
    with pytest.raises(UnknownSession):
        store.get_session(sid)


def test_config_snapshot_has_no_secrets(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SessionStore(path)
    sid = _session(store)
    assert store.get_session(sid).config["api_key"] == "<redacted>"
    store.close()
    raw = path.read_bytes() + (
        path.with_name(path.name + "-wal").read_bytes()
        if path.with_name(path.name + "-wal").exists()
        else b""
    )
    assert b"sk-secret-123456789" not in raw


def test_events_are_appended_in_order_across_batches_and_threads(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.db")
    sid = _session(store)

    def writer(tag: str) -> None:
        for b in range(10):
            store.append_events(
                sid, [{"type": "call_completed", "ts": 0, "tag": tag, "i": b * 10 + i} for i in range(10)]
            )

    threads = [threading.Thread(target=writer, args=(t,)) for t in "abc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = store.events(sid)
    assert len(events) == 300
    seqs = [r["seq"] for r in store.query("SELECT seq FROM events WHERE session_id=? ORDER BY seq", (sid,))]
    assert seqs == list(range(1, 301))
    for tag in "abc":
        assert [e["i"] for e in events if e["tag"] == tag] == list(range(100))


def test_event_batch_is_one_transaction(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.db")
    sid = _session(store)
    with pytest.raises(KeyError):
        store.append_events(sid, [{"type": "x", "ts": 0}, {"no_type": True}])
    assert store.events(sid) == []


def test_calls_totals_count_cache_hits_apart(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.db")
    sid = _session(store)
    base = {"session_id": sid, "ts": 1.0, "provider": "openai", "model": "openai/gpt-4o", "status": "ok"}
    store.record_calls(
        [
            {**base, "cost_usd": 0.01},
            {**base, "cost_usd": 0.02},
            {**base, "cache_hit": 1, "cost_usd": 0},
            {**base, "status": "refused", "error_kind": "BudgetExhausted"},
            {**base, "status": "error", "cost_usd": 0.005, "cost_estimated": True},
        ]
    )
    assert store.call_totals(sid) == {
        "calls": 3,
        "cache_hits": 1,
        "cost_usd": pytest.approx(0.035),
        "errors": 1,
        "refused_by_budget": 1,
        "estimated_cost_usd": pytest.approx(0.005),
        "cancelled": 0,
    }


def test_cost_by_phase_keeps_the_judge_apart_from_a_competitor_of_the_same_id(tmp_path: Path) -> None:
    from dspy_tui.engine.events import CallCompleted

    store = SessionStore(tmp_path / "s.db")
    sid = _session(store)
    call = {"session_id": sid, "model": "openai/gpt-4o", "provider": "openai"}
    store.record_calls(
        [
            CallCompleted(**call, cost_usd=c, phase=p, role=r).model_dump()
            for c, p, r in [
                (0.01, "baseline", "model"),
                (0.02, "optimization", "model"),
                (0.03, "optimization", "model"),
                (0.04, "benchmark", "judge"),
                (0.05, None, "model"),
            ]
        ]
    )
    assert store.cost_by_phase(sid) == {
        "openai/gpt-4o": {
            "baseline": pytest.approx(0.01),
            "optimization": pytest.approx(0.05),
            "unattributed": pytest.approx(0.05),
        }
    }
    assert store.cost_by_phase(sid, "judge") == {"openai/gpt-4o": {"benchmark": pytest.approx(0.04)}}


def test_a_calls_queue_time_is_stored_apart_from_its_provider_latency(tmp_path: Path) -> None:
    from dspy_tui.engine.events import CallCompleted
    from dspy_tui.engine.recorder import _Tally

    store = SessionStore(tmp_path / "s.db")
    sid = _session(store)
    event = CallCompleted(
        session_id=sid, model="openai/gpt-4o", provider="openai", latency_ms=250.0, queue_ms=750.0
    )
    store.record_calls([event.model_dump()])
    (row,) = store.query("SELECT latency_ms, queue_ms FROM calls WHERE session_id = ?", (sid,))
    assert (row["latency_ms"], row["queue_ms"]) == (250.0, 750.0)
    tally = _Tally()
    tally.add(event)
    summary = tally.summary()
    assert summary["latency_p50_ms"] == 250.0 and summary["throttled_share"] == 0.75


def test_checkpoints_rounds_reports(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.db")
    sid = _session(store)
    store.save_checkpoint(sid, "offline/base", "optimization", 1, 0.5, {"predict": {"demos": []}})
    store.save_checkpoint(sid, "offline/base", "optimization", 2, 0.7, {"predict": {"demos": [1]}})
    assert [c["round"] for c in store.checkpoints(sid, "offline/base")] == [1, 2]
    store.record_round(sid, "offline/base", "optimization", 1, dev_score=0.5, metrics={"p50": 1})
    assert store.rounds(sid)[0]["metrics"] == {"p50": 1}
    store.save_report(sid, "md", "# hi")
    assert store.report(sid, "md") == "# hi"
    store.delete_session(sid)  # cascades
    assert store.query("SELECT count(*) AS n FROM checkpoints")[0]["n"] == 0


def test_call_cache_hits_and_misses(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SessionStore(path)  # migrates
    cache = CallCache(path)
    body = {"messages": [{"role": "user", "content": "hi"}]}
    k = cache_key(provider="openai", endpoint="http://x/v1", model="gpt-4o", body=body)
    assert k == cache_key(provider="openai", endpoint="http://x/v1", model="gpt-4o", body=dict(body))
    assert k != cache_key(provider="openai", endpoint="http://y/v1", model="gpt-4o", body=body)
    assert cache.get(k) is None
    cache.put(
        k, provider="openai", model="gpt-4o", endpoint="http://x/v1", body={"choices": []}, usage={"in": 1}
    )
    assert cache.get(k) == {"choices": []}
    assert (cache.hits, cache.misses) == (1, 1)
    assert len(cache) == 1


def test_two_connections_do_not_see_database_locked(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    writer = SessionStore(path)
    sid = _session(writer)
    reader = sqlite3.connect(path)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(50):
                writer.append_events(sid, [{"type": "x", "ts": 0}] * 20)
        except BaseException as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)

    t = threading.Thread(target=write)
    t.start()
    while t.is_alive():
        reader.execute("SELECT count(*) FROM events").fetchone()
    t.join()
    assert not errors
    assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == 1000


def test_many_threads_opening_a_new_database_at_once(tmp_path: Path) -> None:
    """Switching a new file to WAL answers "locked" without waiting; every opener must still succeed."""
    path = tmp_path / "new.db"
    errors: list[BaseException] = []
    barrier = threading.Barrier(32)

    def open_it() -> None:
        try:
            barrier.wait()
            SessionStore(path).list_sessions()
        except BaseException as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert dbmod.open_database(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_migration_set_builds_sqlite_utils_migrations_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`applied`, `pending` and `apply` share one sqlite-utils Migrations (it was rebuilt on every call)."""
    from sqlite_utils import migrations as su

    built: list[str] = []
    init = su.Migrations.__init__

    def counted(self: su.Migrations, name: str) -> None:
        built.append(name)
        init(self, name)

    monkeypatch.setattr(su.Migrations, "__init__", counted)
    steps = dbmod.MigrationSet("probe")
    steps(name="0001_t")(lambda db: db["t"].create({"id": int}))
    db = sqlite_utils.Database(dbmod.connect(tmp_path / "probe.db"))
    assert [m.name for m in steps.pending(db)] == ["0001_t"]
    steps.apply(db)
    assert [m.name for m in steps.applied(db)] == ["0001_t"] and steps.pending(db) == []
    assert built == ["probe"]
    steps(name="0002_u")(lambda db: db["u"].create({"id": int}))  # a later step is in the next build
    assert [m.name for m in steps.pending(db)] == ["0002_u"] and built == ["probe", "probe"]


def _schema(path: Path) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    conn = sqlite3.connect(path)
    try:
        master = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        steps = conn.execute("SELECT migration_set, name FROM _sqlite_migrations ORDER BY id").fetchall()
    finally:
        conn.close()
    return master, steps


def test_a_new_database_is_built_without_sqlite_utils_exactly_as_sqlite_utils_builds_it(
    tmp_path: Path,
) -> None:
    """Same tables, indexes and migration records as sqlite-utils Migrations makes; it then sees nothing pending."""
    SessionStore(tmp_path / "ours.db").close()
    dbmod.open_database(tmp_path / "theirs.db").close()  # sqlite-utils Migrations, the reference
    assert _schema(tmp_path / "ours.db") == _schema(tmp_path / "theirs.db")
    db = sqlite_utils.Database(dbmod.connect(tmp_path / "ours.db"))
    assert dbmod.migrations.pending(db) == [] and db["_sqlite_migrations"].pks == ["id"]
    import subprocess
    import sys

    probe = (
        "import sys; from dspy_tui.storage.sessions import SessionStore; "
        f"SessionStore({str(tmp_path / 'fresh.db')!r}).list_sessions(); print('sqlite_utils' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False"], out.stderr  # it imports numpy, click and pluggy: 0.11 s


def test_a_database_that_is_not_new_is_left_to_sqlite_utils(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = dbmod.connect(path)
    conn.execute("CREATE TABLE theirs (x)")
    assert not dbmod.migrations.create_new(conn) and not conn.in_transaction
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["theirs"]
    steps = dbmod.MigrationSet("probe")
    steps(name="0001_t")(lambda db: db["t"].create({"id": int}))  # more than execute/executescript
    fresh = dbmod.connect(tmp_path / "fresh.db")
    assert not steps.create_new(fresh)
    assert fresh.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_a_count_never_written_reads_zero_and_a_written_one_as_stored() -> None:
    from dspy_tui.storage.results import StoredResults, model_result

    row = {
        "model": "offline/base",
        "provider": "offline",
        "status": "completed",
        "baseline_score": None,
        "best_dev_score": None,
        "test_score": None,
        "test_ci_low": None,
        "test_ci_high": None,
        "cost_usd": 0.0,
        "calls": 3,
        "error": None,
    }
    written = model_result({**row, "results": StoredResults(tokens_in=120, errors=2).model_dump()})
    assert (written.tokens_in, written.tokens_out, written.cache_hits, written.errors) == (120, 0, 0, 2)
    assert model_result({**row, "results_json": "{}"}).tokens_in == 0


def test_dspy_tui_home_puts_everything_under_one_folder(tmp_path: Path) -> None:
    from dspy_tui.storage.paths import HOME_ENV, Paths, resolve_paths

    paths = resolve_paths({HOME_ENV: str(tmp_path)})
    assert paths == Paths.under(tmp_path)
    assert (
        paths.db_path == tmp_path / "dspy-tui.db"
        and paths.settings_path == tmp_path / "config" / "settings.toml"
    )
    assert resolve_paths({HOME_ENV: "~/x"}).data_dir == Path("~/x").expanduser()


def test_a_running_sessions_listed_cost_follows_its_calls_not_its_last_round(tmp_path: Path) -> None:
    """Seen with the home screen beside a live one: the list read $0.0049 while the live screen read
    $0.0067, because the models' costs were written only as rounds ended (and a crash kept them
    there). The recorder now writes each model's cost with every batch of its calls."""
    from dspy_tui.engine import events as ev
    from dspy_tui.engine.recorder import Recorder

    store = SessionStore(tmp_path / "s.db")
    sid = _session(store)
    bus = ev.EventBus(sid)
    recorder = Recorder(store, sid, bus)
    call = {"model": "offline/base", "provider": "openai", "ts": 1.0}
    bus.publish(ev.CallCompleted(**call, cost_usd=0.001))
    bus.publish(ev.CallCompleted(**call, cost_usd=0.002, recorded=True))  # stored with its cache entry
    bus.publish(ev.CallCompleted(**call, cost_usd=0.5, role="judge"))  # no model's cost
    recorder.flush()
    try:
        assert store.list_sessions()[0].cost_usd == pytest.approx(0.003)
        assert [(m.model, m.calls) for m in store.get_session(sid).models][0] == ("offline/base", 2)
    finally:
        recorder.close()
