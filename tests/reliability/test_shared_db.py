"""Two processes, one database: history is browsed continuously while a headless session writes.

The writer is a real `dspy-tui run --headless` process on the fake provider. The
reader is this test process doing what the TUI's home and session screens do, in
a loop (`list_sessions`, `get_session`, `events`, `rounds`, `call_totals`,
`checkpoints`), plus `dspy-tui sessions list/show --json` processes now and then.
No read or write may fail ("database is locked" or anything else), what a reader
sees only grows, and at the end nothing is lost: event numbers run 1..N without
a gap, every provider answer has its call row and its cached answer, every
finished round its row.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from dspy_tui.storage.sessions import SessionStore

from fakes.offline_brain import offline_brain
from fakes.provider_server import FakeProvider
from reliability.support import (
    answer_id,
    cached_answer_ids,
    cli,
    cli_env,
    cli_popen,
    migration_names,
    write_config,
)


class Browser(threading.Thread):
    """Reads the database the way the TUI does until told to stop; records every failure."""

    def __init__(self, db: Path) -> None:
        super().__init__(name="history-browser", daemon=True)
        self.db = db
        self.stop = threading.Event()
        self.passes = 0
        self.reads = 0
        self.errors: list[str] = []
        self.shrank: list[str] = []
        self.seen: dict[str, int] = {}

    def run(self) -> None:
        store = SessionStore(self.db)
        while not self.stop.is_set():
            try:
                self._browse(store)
            except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self.passes += 1
            time.sleep(0.005)  # a busy screen refreshes often, but does not spin
        store.close()

    def _browse(self, store: SessionStore) -> None:
        for row in store.list_sessions():
            sid = row.id
            session = store.get_session(sid)
            events = store.events(sid)
            [span] = store.query(
                "SELECT count(*) AS n, coalesce(max(seq), 0) AS top FROM events WHERE session_id = ?", (sid,)
            )
            if span["n"] != span["top"]:  # a reader sees whole batches: 1..N, never a gap
                self.errors.append(f"events of {sid}: {span['n']} rows up to seq {span['top']}")
            store.rounds(sid)
            totals = store.call_totals(sid)
            for m in session.models:
                store.checkpoints(sid, m.model)
            self.reads += 6 + len(session.models)
            for name, value in (("events", len(events)), ("calls", totals["calls"] + totals["cache_hits"])):
                key = f"{sid}:{name}"
                if value < self.seen.get(key, 0):
                    self.shrank.append(f"{key} went from {self.seen[key]} to {value}")
                self.seen[key] = value


def test_browsing_history_while_a_session_writes_loses_nothing(tmp_path: Path) -> None:
    provider = FakeProvider(latency_s=0.005, brain=offline_brain("base")).start()
    try:
        home = tmp_path / "home"
        env = cli_env(home, provider)
        db = home / "dspy-tui.db"
        browser = Browser(db)
        browser.start()  # creates the database while the writer starts up
        writer = cli_popen("run", str(write_config(tmp_path / "w.toml", rounds=2)), "--headless", env=env)
        shows: list[tuple[int, str]] = []
        while writer.poll() is None:
            listed = cli("sessions", "list", "--json", env=env)
            shows.append((listed.returncode, listed.stderr))
            rows = json.loads(listed.stdout or "[]")
            if rows:
                shown = cli("sessions", "show", rows[0]["id"], "--json", env=env)
                shows.append((shown.returncode, shown.stderr))
            time.sleep(0.2)
        _, writer_err = writer.communicate(timeout=60)
        browser.stop.set()
        browser.join(30)
    finally:
        provider.stop()

    assert writer.returncode == 0, writer_err[-2000:]
    assert "locked" not in writer_err and "Traceback" not in writer_err
    assert browser.errors == [], browser.errors[:5]
    assert browser.shrank == [], browser.shrank[:5]
    assert all(code == 0 and "locked" not in err for code, err in shows), shows
    assert browser.passes > 20, browser.passes

    # nothing lost
    store = SessionStore(db)
    [row] = store.list_sessions()
    sid = row.id
    assert row.status == "completed"
    seqs = [r["seq"] for r in store.query("SELECT seq FROM events WHERE session_id = ? ORDER BY seq", (sid,))]
    assert seqs == list(range(1, len(seqs) + 1)), "the event numbers have a gap or a repeat"
    calls = store.query("SELECT * FROM calls WHERE session_id = ?", (sid,))
    call_events = store.events(sid, types=["call_completed"])
    assert len(calls) == len(call_events), (len(calls), len(call_events))
    answered = provider.answered()
    groq_rows = [c for c in calls if c["provider"] == "groq" and not c["cache_hit"] and c["status"] == "ok"]
    assert len(groq_rows) == len(answered)
    assert {answer_id(r) for r in answered} <= cached_answer_ids(db)
    finished = {(e["model"], e["round"]) for e in store.events(sid, types=["round_completed"])}
    recorded: set[Any] = {(r["model"], r["round"]) for r in store.rounds(sid)}
    assert finished <= recorded
    print(
        f"\ntwo processes, one db: {browser.passes} browsing passes ({browser.reads} reads) and "
        f"{len(shows)} `sessions list/show` processes during the run; 0 errors, 0 'database is locked'; "
        f"events 1..{len(seqs)} contiguous; {len(calls)} call rows for {len(call_events)} call events; "
        f"{len(groq_rows)} provider answers all recorded"
    )


def test_a_new_database_opened_by_several_processes_at_once(tmp_path: Path) -> None:
    """The first launch of the TUI and a headless run at the same moment: one creates the schema, none fails."""
    env = cli_env(tmp_path / "fresh")
    procs = [cli_popen("sessions", "list", "--json", env=env, stdout=subprocess.PIPE) for _ in range(6)]
    outcomes = [(p.wait(timeout=60), p.stderr.read() if p.stderr else "") for p in procs]
    for proc in procs:
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    assert all(code == 0 for code, _ in outcomes), [err[-500:] for _, err in outcomes]
    migrations = SessionStore(tmp_path / "fresh" / "dspy-tui.db").query("SELECT name FROM _sqlite_migrations")
    assert [m["name"] for m in migrations] == migration_names()
    print(f"\nfresh database: {len(procs)} processes opened it at once, all exit 0, schema applied once")
