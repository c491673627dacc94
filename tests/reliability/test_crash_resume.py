"""Crash and resume: SIGKILL a real headless session at random moments, resume it each time, until it completes.

The kills are drawn with a seeded RNG and land in five kinds of moment:
`call` (the provider has just answered the k-th request; others are in flight),
`stored` (a paid answer has just been committed with its call row),
`db-write` (the WAL file is growing under us), `phase` (a phase or round has just
ended) and `startup` (a random instant after launch: imports, prepare, replay).

After every kill the database passes `PRAGMA integrity_check`. At the end:
the scores equal an uninterrupted run with the same seed; no stored answer was
ever asked for again (each answer the cache held after a kill is still the one
it holds at the end, and the provider answered each distinct request exactly as
often as in the uninterrupted run, plus the answers lost in flight at a kill);
and the cost the session recorded is what the provider billed for the answers
that reached the client.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fakes.offline_brain import offline_brain
from fakes.provider_server import FakeProvider
from reliability.support import (
    answer_id,
    billed_usd,
    cached_answer_ids,
    cli,
    cli_env,
    cli_in_process,
    cli_popen,
    integrity,
    only_session_id,
    show,
    write_config,
)

LATENCY_S = 0.02
KINDS = ("call", "stored", "db-write", "phase", "startup")
BOUNDARY_EVENTS = {"phase_started", "phase_completed", "round_completed", "model_converged"}


@dataclass
class _Process:
    """One dspy-tui process and the events it printed (--json), read by a thread."""

    proc: subprocess.Popen[str]
    started: float
    events: list[dict[str, object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))


def _launch(args: list[str], env: dict[str, str]) -> _Process:
    return _Process(
        cli_popen(*args, "--headless", "--json", env=env, stdout=subprocess.PIPE), time.monotonic()
    )


def _trigger(
    kind: str, target: int, run: _Process, provider: FakeProvider, wal: Path, rng: random.Random
) -> Callable[[], bool]:
    """A predicate that turns true at the moment this kill should land."""
    if kind == "startup":
        at = run.started + rng.uniform(0.2, 2.5)
        return lambda: time.monotonic() >= at
    state = {"armed_at_event": -1, "wal": (-1, -1)}

    def armed() -> bool:
        if len(provider.answered()) < target:
            return False
        if state["armed_at_event"] < 0:
            state["armed_at_event"] = len(run.events)
        return True

    if kind == "call":
        return armed

    def stored() -> bool:
        return armed() and any(
            e.get("type") == "call_completed"
            and not e.get("cache_hit")
            and str(e.get("model") or "").startswith("groq/")
            for e in run.events[state["armed_at_event"] :]
        )

    def phase() -> bool:
        return armed() and any(
            e.get("type") in BOUNDARY_EVENTS for e in run.events[state["armed_at_event"] :]
        )

    def db_write() -> bool:
        try:
            st = wal.stat()
            now = (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            now = (-1, -1)
        before, state["wal"] = state["wal"], now
        return armed() and before != (-1, -1) and now != before

    return {"stored": stored, "phase": phase, "db-write": db_write}[kind]


@dataclass
class CrashReport:
    kills: int = 0
    survived: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    in_flight_lost: int = 0
    lost_usd: float = 0.0
    processes: int = 0


def crash_and_resume(tmp_path: Path, *, kills: int, seed: int, rounds: int) -> CrashReport:
    config = write_config(tmp_path / "crash.toml", rounds=rounds)
    rng = random.Random(seed)

    # the uninterrupted reference, on its own server
    ref_provider = FakeProvider(latency_s=LATENCY_S, brain=offline_brain("base")).start()
    try:
        ref_env = cli_env(tmp_path / "ref", ref_provider)
        out = cli_in_process("run", str(config), "--headless", env=ref_env)
        assert out.returncode == 0, out.stderr[-2000:]
        reference = show(ref_env, only_session_id(ref_env))
        ref_answered = ref_provider.answered()
    finally:
        ref_provider.stop()
    total = len(ref_answered)
    assert total > kills * 3, f"the reference session made only {total} provider calls"

    provider = FakeProvider(latency_s=LATENCY_S, brain=offline_brain("base")).start()
    report = CrashReport()
    try:
        home = tmp_path / "killed"
        env = cli_env(home, provider)
        db, wal = home / "dspy-tui.db", home / "dspy-tui.db-wal"
        targets = sorted(rng.sample(range(3, int(total * 0.9)), kills))
        kinds = ["call"] + [rng.choice(KINDS) for _ in range(kills - 1)]  # the first kill needs a session row
        stored_after_kill: set[str] = set()
        snapshots: list[tuple[int, Counter[str]]] = []  # (requests seen at a kill, stored answers per body)
        lost: set[str] = set()
        sid = ""
        for target, kind in zip(targets, kinds, strict=True):
            run = _launch(["resume", sid] if sid else ["run", str(config)], env)
            report.processes += 1
            fire = _trigger(kind, target, run, provider, wal, rng)
            while run.proc.poll() is None and not fire():
                time.sleep(0.001)
            if run.proc.poll() is not None:
                stderr = run.proc.stderr.read() if run.proc.stderr else ""
                pytest.fail(
                    f"the session ended (exit {run.proc.returncode}) before kill {report.kills + 1} "
                    f"({kind} at {target} answers): {stderr[-1500:]}"
                )
            run.proc.send_signal(signal.SIGKILL)
            run.proc.wait(timeout=30)
            if run.proc.stderr:
                run.proc.stderr.close()
            report.kills += 1
            report.by_kind[kind] += 1
            time.sleep(LATENCY_S + 0.05)  # requests in flight at the kill finish on the server side
            if not db.exists():
                continue
            assert integrity(db) == "ok", f"kill {report.kills} ({kind}) damaged the database"
            sid = sid or only_session_id(env)
            now_stored = cached_answer_ids(db)
            assert stored_after_kill <= now_stored, (
                "a stored answer was replaced: its request was asked again"
            )
            stored_after_kill = now_stored
            lost |= {answer_id(r) for r in provider.answered()} - now_stored
            by_id = {answer_id(r): r for r in provider.answered()}
            snapshots.append(
                (len(provider.received), Counter(by_id[i].body_hash for i in now_stored if i in by_id))
            )
            report.survived += 1

        # resume to the end (a kill can land after the session recorded its completion, as it exits)
        if show(env, sid)["status"] != "completed":
            out = cli("resume", sid, "--headless", env=env)
            assert out.returncode == 0, out.stderr[-2000:]
            report.processes += 1
        final = show(env, sid)
        assert final["status"] == "completed"
        assert integrity(db) == "ok"
        final_stored = cached_answer_ids(db)
        assert stored_after_kill <= final_stored, "a stored answer was replaced after the last kill"

        # same results as the uninterrupted run
        for ref_model, model in zip(reference["models"], final["models"], strict=True):
            assert model["model"] == ref_model["model"]
            for key in ("baseline_score", "best_dev_score", "test_score"):
                assert model[key] == pytest.approx(ref_model[key]), (model["model"], key)

        # every answer the provider sent either reached the cache or was lost in flight at a kill
        answered = provider.answered()
        received = [r for r in answered if answer_id(r) in final_stored]
        in_flight = [r for r in answered if answer_id(r) not in final_stored]
        assert {answer_id(r) for r in in_flight} <= lost, "an answer was lost outside a kill"
        assert len(received) + len(in_flight) == len(answered)
        # the provider answered each distinct request as often as the uninterrupted run needed
        assert Counter(r.body_hash for r in received) == Counter(r.body_hash for r in ref_answered)
        # no stored request was sent again: a body sent after a kill had fewer stored answers than it needs
        needed = Counter(r.body_hash for r in ref_answered)
        for seen_at_kill, stored in snapshots:
            repeats = [
                r.number
                for r in provider.received[seen_at_kill:]
                if stored[r.body_hash] >= needed[r.body_hash]
            ]
            assert repeats == [], f"requests {repeats} asked again for answers already stored"
        # and what was recorded is what the provider billed for the answers that reached the client
        assert final["cost_usd"] == pytest.approx(billed_usd(received), rel=1e-9, abs=1e-12)
        # offline/unpriced models show cost_usd null (never a fake $0): they add nothing to the total
        assert sum(m["cost_usd"] or 0.0 for m in final["models"]) == pytest.approx(
            final["cost_usd"], rel=1e-9
        )
        report.in_flight_lost = len(in_flight)
        report.lost_usd = billed_usd(in_flight)
    finally:
        provider.stop()
    return report


def _print(report: CrashReport, kills: int) -> None:
    kinds = ", ".join(f"{k} {report.by_kind[k]}" for k in KINDS if report.by_kind[k])
    print(
        f"\ncrash-resume: kills survived {report.survived}/{kills} ({kinds}); "
        f"in-flight losses {report.in_flight_lost} answers (${report.lost_usd:.6f} billed, never received); "
        f"{report.processes} processes"
    )


def test_three_kills_then_resume_keep_the_books(tmp_path: Path) -> None:
    report = crash_and_resume(tmp_path, kills=3, seed=int(os.environ.get("CRASH_SEED", "11")), rounds=2)
    _print(report, 3)
    assert report.survived == report.kills == 3


@pytest.mark.soak
def test_twenty_random_kills_then_resume_keep_the_books(tmp_path: Path) -> None:
    report = crash_and_resume(tmp_path, kills=20, seed=int(os.environ.get("CRASH_SEED", "2024")), rounds=4)
    _print(report, 20)
    assert report.survived == report.kills == 20
