"""Soak: 10 processes at a time resume, delete, report and list the same sessions at random for 60 s.

Four sessions (each on its own dataset, so no two sessions ever send the same request) are
started and killed, then worker threads launch real `dspy-tui` processes against the fake
provider for a minute. The single-runner lease must hold: the provider never answers one
request twice (its ledger), no event is lost (every session's events run 1..N), no process
prints a traceback, and the database passes `PRAGMA integrity_check`.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from dspy_tui.engine.tasks import demo_examples

from fakes.offline_brain import offline_brain
from fakes.provider_server import FakeProvider
from reliability.support import GROQ_MODEL, cli, cli_env, cli_popen, integrity, write_config

LATENCY_S = 0.03
SESSIONS = 4
WORKERS = 10
SOAK_S = 60.0


def _dataset(path: Path, k: int) -> Path:
    rows = [
        {"review": f"[set {k}] {e.review}", "sentiment": e.sentiment}
        for e in demo_examples("demo:sentiment", 120, k)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _start_killed(env: dict[str, str], config: Path, provider: FakeProvider) -> None:
    before = len(provider.answered())
    proc = cli_popen("run", str(config), "--headless", env=env)
    deadline = time.monotonic() + 120
    while len(provider.answered()) < before + 6:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.soak
def test_ten_processes_resume_delete_and_report_at_random(tmp_path: Path) -> None:
    provider = FakeProvider(latency_s=LATENCY_S, brain=offline_brain("base")).start()
    try:
        env = cli_env(tmp_path / "home", provider)
        for k in range(SESSIONS):
            config = write_config(
                tmp_path / f"s{k}.toml",
                rounds=3,
                models=(GROQ_MODEL,),
                seed=k,
                dataset=str(_dataset(tmp_path / f"d{k}.jsonl", k)),
            )
            config.write_text(
                config.read_text().replace("[task]\n", '[task]\nsignature = "review -> sentiment"\n')
            )
            _start_killed(env, config, provider)
        time.sleep(LATENCY_S + 0.2)
        listed = json.loads(cli("sessions", "list", "--json", env=env).stdout)
        ids = [r["id"] for r in listed]
        assert len(ids) == SESSIONS and {r["status"] for r in listed} == {"interrupted"}
        provider.reset_records()  # from here on, every answer must be asked for once

        stop_at = time.monotonic() + SOAK_S
        tally: Counter[str] = Counter()
        problems: list[str] = []
        lock = threading.Lock()

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            while time.monotonic() < stop_at:
                sid = rng.choice(ids)
                op = rng.choices(["resume", "delete", "report", "list"], weights=[6, 1, 2, 1])[0]
                args = {
                    "resume": ("resume", sid, "--headless"),
                    "delete": ("sessions", "delete", sid),
                    "report": ("report", sid, "--format", "json"),
                    "list": ("sessions", "list", "--json"),
                }[op]
                out = cli(*args, env=env, timeout=300)
                with lock:
                    tally[f"{op} exit {out.returncode}"] += 1
                    if "Traceback" in out.stderr or out.returncode not in (0, 1, 2):
                        problems.append(f"{' '.join(args)} -> {out.returncode}: {out.stderr[-1500:]}")
                    if (
                        out.returncode == 2
                        and "already running (pid" not in out.stderr
                        and "No session" not in out.stderr
                        and "already completed" not in out.stderr
                        and "no report" not in out.stderr.lower()
                    ):
                        problems.append(f"{' '.join(args)} -> unexpected refusal: {out.stderr[-500:]}")

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        db = tmp_path / "home" / "dspy-tui.db"
        twice = provider.answered_twice()
        conn = sqlite3.connect(db)
        try:
            gaps = conn.execute(
                "SELECT session_id, count(*), max(seq) FROM events GROUP BY session_id"
                " HAVING count(*) != max(seq)"
            ).fetchall()
            orphans = conn.execute(
                "SELECT count(*) FROM lm_cache WHERE session_id IS NOT NULL AND session_id"
                " NOT IN (SELECT id FROM sessions)"
            ).fetchone()[0]
        finally:
            conn.close()
        print(
            f"\nrunner soak: {sum(tally.values())} processes in {SOAK_S:.0f}s ({dict(sorted(tally.items()))}); "
            f"{len(provider.answered())} paid answers, {len(twice)} paid twice, {len(gaps)} sessions with lost "
            f"events, integrity {integrity(db)}"
        )
        assert problems == [], "\n".join(problems[:5])
        assert twice == [], f"{len(twice)} requests were paid twice"
        assert gaps == [] and orphans == 0
        assert integrity(db) == "ok"
        assert tally["resume exit 0"] >= 1
    finally:
        provider.stop()
