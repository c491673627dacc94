"""History at scale: home and compare with 1,000 sessions and 1,000,000 call rows.

Builds a database the way a heavy user's would look (every session with
three models, per-example test scores, rounds, events, checkpoints, and
1,000 calls each), inserted directly with executemany in large
transactions, then times, each against a peer measured in the same run:

  (a) home's session list query            vs  a plain `SELECT * FROM sessions` scan
  (b) the home screen opened headless with Pilot until its table is filled
                                           vs  the same on an empty database
  (c) the compare data of 5 sessions, and the compare screen rendered with them
                                           vs  the same 5 sessions in a database holding only them

and prints the query plans, which show every read going through an index.

Usage: python benchmarks/history_scale.py [--sessions N] [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import CALL_COLUMNS, INSERT_CALL, SessionStore

MODELS = (
    ("openai/gpt-4o-mini", "openai"),
    ("anthropic/claude-3-5-haiku-latest", "anthropic"),
    ("offline/base", "offline"),
)
TASKS = ("demo:sentiment", "demo:intent", "demo:qa", "data/support.jsonl")
TEST_EXAMPLES = 100
ROUNDS = 5
T_START = 1_735_000_000.0
TARGET_S = 1.0
COMPARED = 5


def build(db_path: Path, sessions: int, calls: int, seed: int = 0) -> float:
    """Fill a new database; returns the seconds it took."""
    start = time.perf_counter()
    SessionStore(db_path).close()  # the schema, by our migrations
    rng = random.Random(seed)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA synchronous = OFF")
    per_session = calls // sessions
    test_ids = {task: [f"{task}-{i}" for i in range(TEST_EXAMPLES)] for task in TASKS}
    with conn:
        session_rows, model_rows, round_rows, event_rows, checkpoint_rows = [], [], [], [], []
        for s in range(sessions):
            sid = f"s{s:011d}"
            task = TASKS[s % len(TASKS)]
            created = T_START + s * 3_600
            config = {
                "name": f"run {s}",
                "task": {"dataset": task},
                "models": [m for m, _ in MODELS],
                "rounds": ROUNDS,
                "budget_usd": 2.0,
            }
            status = "completed" if s % 10 else ("stopped" if s % 20 else "failed")
            session_rows.append(
                (
                    sid,
                    f"run {s} {task.split(':')[-1]}",
                    status,
                    created,
                    created + 900,
                    task,
                    0,
                    2.0,
                    json.dumps(config),
                    "{}",
                    None,
                )
            )
            for k, (model, provider) in enumerate(MODELS):
                scores = [1.0 if rng.random() < 0.5 + 0.15 * k else 0.0 for _ in range(TEST_EXAMPLES)]
                test = sum(scores) / TEST_EXAMPLES
                results = {
                    "test_scores": scores,
                    "test_ids": test_ids[task],
                    "tokens_in": 400_000,
                    "tokens_out": 12_000,
                    "errors": rng.randint(0, 3),
                    "benchmark_latency_p50_ms": 300.0 + k,
                    "benchmark_latency_p95_ms": 900.0 + k,
                    "transfer": None,
                    "cache_hits": 0,
                }
                model_rows.append(
                    (
                        sid,
                        model,
                        provider,
                        "done",
                        "benchmark",
                        0.4,
                        0.7,
                        test,
                        test - 0.1,
                        test + 0.1,
                        0.0 if provider == "offline" else rng.uniform(0.01, 0.5),
                        per_session // 3,
                        json.dumps(results),
                    )
                )
                for r in range(ROUNDS + 1):
                    round_rows.append(
                        (
                            sid,
                            model,
                            "baseline" if r == 0 else "optimization",
                            r,
                            0.4 + 0.05 * r,
                            0.4 + 0.05 * r,
                            0.01,
                            9_000,
                            400,
                            30,
                            created + 60 * r,
                            created + 60 * r + 50,
                            json.dumps({"latency_p50_ms": 280.0 + r}),
                        )
                    )
                checkpoint_rows.append(
                    (sid, model, "optimization", ROUNDS, 0.65, json.dumps({"demos": []}), created + 800)
                )
                event_rows += [
                    (
                        sid,
                        1 + k * 20 + r,
                        created + r,
                        "round_completed",
                        model,
                        json.dumps({"type": "round_completed", "model": model, "round": r}),
                    )
                    for r in range(20)
                ]
        conn.executemany(
            "INSERT INTO sessions (id, name, status, created_at, updated_at, task, seed, budget_usd,"
            " config_json, versions_json, error) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            session_rows,
        )
        conn.executemany(
            "INSERT INTO session_models (session_id, model, provider, status, phase, baseline_score,"
            " best_dev_score, test_score, test_ci_low, test_ci_high, cost_usd, calls, results_json)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            model_rows,
        )
        conn.executemany(
            "INSERT INTO rounds (session_id, model, phase, round, dev_score, best_dev_score, cost_usd,"
            " tokens_in, tokens_out, calls, started_at, finished_at, metrics_json)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            round_rows,
        )
        conn.executemany("INSERT INTO checkpoints VALUES (?,?,?,?,?,?,?)", checkpoint_rows)
        conn.executemany(
            "INSERT INTO events (session_id, seq, ts, type, model, payload) VALUES (?,?,?,?,?,?)", event_rows
        )
    assert len(CALL_COLUMNS) == 20  # the row below follows its order
    batch: list[tuple[Any, ...]] = []
    for s in range(sessions):
        sid = f"s{s:011d}"
        created = T_START + s * 3_600
        for i in range(per_session):
            model, provider = MODELS[i % 3]
            batch.append(
                (
                    sid,
                    created + i * 0.5,
                    provider,
                    model,
                    "chat",
                    f"h{s}-{i}",
                    900,
                    30,
                    0,
                    None if provider == "offline" else 0.0002,
                    250.0 + (i % 97),
                    "ok",
                    None,
                    0,
                    0,
                    f"c{i}",
                    0,
                    None,
                    "model",
                    0.0,
                )
            )
        if len(batch) >= 200_000 or s == sessions - 1:
            with conn:
                conn.executemany(INSERT_CALL, batch)
            batch = []
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - start


def median_time(fn: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def plans(store: SessionStore, ids: list[str]) -> list[str]:
    from dspy_tui.storage.history import LIST_SQL, SessionFilter

    where, params = SessionFilter(model="gpt").where()
    marks = ",".join("?" * len(ids))
    queries = {
        "home list": (LIST_SQL.format(where="", limit=" LIMIT ?"), [2000]),
        "home list, filtered by model": (LIST_SQL.format(where=where, limit=" LIMIT ?"), [*params, 2000]),
        "compare: models": (
            f"SELECT * FROM session_models WHERE session_id IN ({marks}) ORDER BY rowid",
            ids,
        ),
        "compare: rounds": (
            f"SELECT * FROM rounds WHERE session_id IN ({marks})"
            " ORDER BY session_id, model, started_at, round",
            ids,
        ),
    }
    out = []
    for name, (sql, args) in queries.items():
        steps = [r["detail"] for r in store.query("EXPLAIN QUERY PLAN " + sql, args)]
        out.append(f"{name}: " + "; ".join(steps))
    return out


async def _open_home(paths: Paths, rows: int) -> float:
    from textual.widgets import DataTable

    from dspy_tui.tui.app import DspyTuiApp
    from dspy_tui.tui.screens.home import HomeScreen

    start = time.perf_counter()
    app = DspyTuiApp(paths)
    async with app.run_test(size=(120, 40)) as pilot:

        def filled() -> bool:
            screen = app.screen
            if not isinstance(screen, HomeScreen):
                return False
            if rows:
                return screen.query_one(DataTable).row_count == rows
            return bool(screen.query_one("#empty").display)

        while not filled():
            await pilot.pause(0.005)
        await pilot.pause(0)  # the frame with the rows
        return time.perf_counter() - start


async def _open_compare(paths: Paths, ids: list[str]) -> tuple[float, float]:
    """Seconds from `c` to the compare table and charts drawn, and to the bootstrap verdicts shown."""
    from dspy_tui.tui.app import DspyTuiApp
    from dspy_tui.tui.screens.compare import CompareScreen
    from dspy_tui.tui.screens.home import HomeScreen

    app = DspyTuiApp(paths)
    async with app.run_test(size=(120, 40)) as pilot:
        while not (isinstance(app.screen, HomeScreen) and app.screen.rows):
            await pilot.pause(0.01)
        app.screen.marked = list(ids)
        start = time.perf_counter()
        await pilot.press("c")
        while not (
            isinstance(app.screen, CompareScreen)
            and app.screen.data is not None
            and app.screen.table.row_count == len(ids) * len(MODELS)
        ):
            await asyncio.sleep(0.002)  # (a Pilot pause would wait for the verdicts' message too)
        drawn = time.perf_counter() - start  # the rows and charts are set; the frame follows at once
        screen = app.screen
        while screen.verdicts is None:
            await pilot.pause(0.005)
        await pilot.pause(0)
        return drawn, time.perf_counter() - start


def compare_data(paths: Paths, ids: list[str]) -> None:
    from dspy_tui.engine.service import SessionService
    from dspy_tui.tui.history import load_compare

    load_compare(SessionService(paths), ids)


def copy_sessions(src: Path, dst: Path, ids: list[str]) -> None:
    """A database holding only `ids` (and their calls): the peer for the compare timings."""
    SessionStore(dst).close()
    conn = sqlite3.connect(dst)
    conn.execute("ATTACH DATABASE ? AS big", (str(src),))
    marks = ",".join("?" * len(ids))
    with conn:
        for table in ("sessions", "session_models", "rounds", "checkpoints", "events", "calls"):
            key = "id" if table == "sessions" else "session_id"
            conn.execute(f"INSERT INTO main.{table} SELECT * FROM big.{table} WHERE {key} IN ({marks})", ids)
    conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=1_000)
    ap.add_argument("--calls", type=int, default=1_000_000)
    args = ap.parse_args()
    from dspy_tui.storage.history import SessionFilter, list_sessions
    from dspy_tui.tui.screens.home import LIST_LIMIT

    with tempfile.TemporaryDirectory() as tmp:
        big = Paths.under(Path(tmp) / "big")
        built = build(big.db_path, args.sessions, args.calls)
        size_mb = big.db_path.stat().st_size / 1e6
        print(
            f"history_scale: built {args.sessions:,} sessions, {args.calls:,} calls "
            f"({size_mb:,.0f} MB) in {built:.1f} s"
        )
        store = SessionStore(big.db_path)
        n_calls = store.query("SELECT count(*) AS n FROM calls")[0]["n"]
        assert n_calls == args.calls // args.sessions * args.sessions, n_calls
        listed = median_time(lambda: list_sessions(store, SessionFilter(), LIST_LIMIT))
        filtered = median_time(
            lambda: list_sessions(store, SessionFilter(text="intent", model="gpt"), LIST_LIMIT)
        )
        scan = median_time(lambda: store.query("SELECT * FROM sessions"))
        ids = [r.id for r in list_sessions(store, SessionFilter(task="demo:sentiment"), COMPARED)[0]]
        plan_lines = plans(store, ids)
        store.close()

        home = asyncio.run(_open_home(big, min(args.sessions, LIST_LIMIT)))
        empty = Paths.under(Path(tmp) / "empty")
        home_empty = asyncio.run(_open_home(empty, 0))

        small = Paths.under(Path(tmp) / "small")
        copy_sessions(big.db_path, small.db_path, ids)
        data_big = median_time(lambda: compare_data(big, ids))
        data_small = median_time(lambda: compare_data(small, ids))
        asyncio.run(_open_compare(small, ids))  # warm-up: the first one pays for imports (pricing, stats)
        drawn_big, judged_big = asyncio.run(_open_compare(big, ids))
        drawn_small, judged_small = asyncio.run(_open_compare(small, ids))

    print(
        f"history_scale: (a) home list query ({LIST_LIMIT} newest of {args.sessions:,}): {listed:.4f} s;"
        f" filtered by text and model {filtered:.4f} s"
    )
    print(f"history_scale: (a) peer `SELECT * FROM sessions` scan: {scan:.4f} s; ratio {listed / scan:.1f}x")
    print(
        f"history_scale: (b) home opened headless until {min(args.sessions, LIST_LIMIT):,} rows shown: "
        f"{home:.3f} s (target < {TARGET_S:.0f} s)"
    )
    print(
        f"history_scale: (b) peer: home on an empty database {home_empty:.3f} s; ratio {home / home_empty:.2f}x"
    )
    print(
        f"history_scale: (c) compare data of {COMPARED} sessions: {data_big:.4f} s vs {data_small:.4f} s with only "
        f"them in the database; ratio {data_big / data_small:.2f}x"
    )
    print(
        f"history_scale: (c) compare screen of {COMPARED} sessions drawn (table, charts) {drawn_big:.3f} s "
        f"(target < {TARGET_S:.0f} s), verdicts shown {judged_big:.3f} s"
    )
    print(
        f"history_scale: (c) peer: same with only them in the database: drawn {drawn_small:.3f} s, verdicts "
        f"{judged_small:.3f} s; ratio {drawn_big / drawn_small:.2f}x"
    )
    for line in plan_lines:
        print(f"history_scale: plan {line}")


if __name__ == "__main__":
    main()
