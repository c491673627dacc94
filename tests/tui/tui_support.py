"""Support for the TUI tests: a fixed clock, a scripted stand-in for the engine, stored sessions, waiting.

`ScriptedSession` has the surface the app uses of `engine.session.Session`
(config, bus, session_id, resumed, run, stop, report_paths) and publishes a
fixed list of typed events, so screens can be tested and snapshotted
deterministically without DSPy. test_engine_flows.py drives the real engine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable

from dspy_tui.engine import events as ev
from dspy_tui.engine.budget import Budget
from dspy_tui.engine.config import SessionConfig, parse_config
from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.screens.home import HomeScreen
from dspy_tui.tui.screens.modals import ConfirmScreen
from dspy_tui.tui.screens.new_session import NewSessionScreen

T0 = 1_767_000_000.0  # a fixed start, 2025-12-29 09:20:00 UTC
MODELS = ["offline/small", "offline/base", "openai/gpt-4o-mini"]


def fixed_clock() -> float:
    return T0 + 95.0


def make_config(
    models: list[str] | None = None, rounds: int = 3, budget: float | None = 0.05
) -> SessionConfig:
    data: dict[str, Any] = {
        "name": "scripted",
        "task": {"dataset": "demo:sentiment"},
        "models": models or MODELS,
        "rounds": rounds,
    }
    if budget is not None:
        data["budget_usd"] = budget
    return parse_config(data)


def limiter_sample(models: list[str], ts: float) -> ev.ProviderStats:
    """What the engine samples from the hosted models' limiters: the first one throttled and paused."""
    hosted = [m for m in models if not m.startswith("offline/")]
    return ev.ProviderStats(
        ts=ts,
        limiters=[
            ev.LimiterStatus(
                model=m,
                provider=m.partition("/")[0],
                account=k + 1,
                in_flight=6 if k else 8,
                limit=16 if k else 8,
                max_limit=16,
                queued=0 if k else 9,
                rpm=310 - 40 * k,
                rpm_limit=None if k else 500,
                rpm_limit_from=None if k else "headers",
                tpm=48_000 - 5_000 * k,
                queued_s=0.4 if k else 12.4,
                served_s=9.6 if k else 7.6,
                rate_limited=0 if k else 4,
                retryable_failures=0 if k else 5,
                paused_s=0.0 if k else 37.0,
                pause_reason="" if k else "rate limited",
            )
            for k, m in enumerate(hosted)
        ],
    )


def script(models: list[str], *, rounds_done: int, finished: bool, rounds: int = 3) -> list[ev.Event]:
    """A plausible session, event by event, with fixed timestamps and numbers."""
    ts = iter(T0 + i * 0.5 for i in range(10_000))
    out: list[ev.Event] = [ev.SessionStarted(name="scripted", models=models, ts=next(ts))]

    def calls(model: str, n: int, k: int) -> None:
        priced = not model.startswith("offline/")
        for i in range(n):
            out.append(
                ev.CallCompleted(
                    model=model,
                    provider=model.split("/")[0],
                    latency_ms=100.0 + 10 * i + k,
                    tokens_in=120,
                    tokens_out=6,
                    cost_usd=0.0004 if priced else 0.0,
                    ts=next(ts),
                    status="error" if (i == 3 and k == 1) else "ok",
                    error_kind="rate_limit" if (i == 3 and k == 1) else None,
                )
            )

    out.append(ev.PhaseStarted(phase="baseline", ts=next(ts)))
    best = {}
    for k, m in enumerate(models):
        calls(m, 4, k)
        best[m] = 0.40 + 0.1 * k
        out.append(
            ev.RoundCompleted(
                model=m,
                round=0,
                dev_score=best[m],
                best_dev_score=best[m],
                delta=0.0,
                cost_usd=0.0016 if k == 2 else 0.0,
                calls=4,
                tokens_in=480,
                tokens_out=24,
                latency_p50_ms=105.0 + k,
                ts=next(ts),
            )
        )
    out.append(ev.PhaseCompleted(phase="baseline", ts=next(ts)))
    out.append(ev.PhaseStarted(phase="optimization", ts=next(ts)))
    for r in range(1, rounds_done + 1):
        for k, m in enumerate(models):
            if k == 0 and r > 2:
                continue  # converged
            out.append(ev.RoundStarted(model=m, round=r, ts=next(ts)))
            calls(m, 5, k)
            score = round(best[m] + (0.08 if r % 2 else 0.03) - 0.02 * k, 3)
            gain = max(0.0, score - best[m])
            best[m] = max(best[m], score)
            out.append(
                ev.RoundCompleted(
                    model=m,
                    round=r,
                    dev_score=score,
                    best_dev_score=best[m],
                    delta=gain,
                    cost_usd=0.002 if k == 2 else 0.0,
                    calls=5,
                    tokens_in=900 + 50 * r,
                    tokens_out=30,
                    latency_p50_ms=110.0 + 5 * r + k,
                    ts=next(ts),
                )
            )
            if k == 0 and r == 2:
                out.append(
                    ev.ModelConverged(model=m, round=2, reason="no gain of 0.005 for 2 round(s)", ts=next(ts))
                )
    out.append(limiter_sample(models, ts=out[-1].ts))  # its own time would shift every later one
    if not finished:
        return out
    out.append(ev.PhaseCompleted(phase="optimization", ts=next(ts)))
    out.append(ev.PhaseStarted(phase="cross_model", ts=next(ts)))
    leader = max(models, key=lambda m: best[m])
    for m in models:
        if m != leader:
            out.append(
                ev.CrossModelTransfer(
                    model=m, source_model=leader, before=best[m], after=best[m] + 0.01, kept=True, ts=next(ts)
                )
            )
            best[m] += 0.01
            out.append(
                ev.RoundCompleted(
                    model=m,
                    round=0,
                    dev_score=best[m],
                    best_dev_score=best[m],
                    delta=0.01,
                    cost_usd=0.0,
                    calls=3,
                    tokens_in=300,
                    tokens_out=10,
                    latency_p50_ms=100.0,
                    ts=next(ts),
                )
            )
    out.append(ev.PhaseStarted(phase="benchmark", ts=next(ts)))
    for m in models:
        out.append(ev.BenchmarkProgress(model=m, done=0, total=75, ts=next(ts)))
        out.append(
            ev.BenchmarkProgress(model=m, done=75, total=75, test_score=round(best[m] - 0.02, 3), ts=next(ts))
        )
    out.append(ev.PhaseStarted(phase="report", ts=next(ts)))
    out.append(ev.ReportReady(paths={"md": "/data/exports/abc/report.md"}, ts=next(ts)))
    out.append(ev.SessionCompleted(ts=next(ts)))
    return out


class ScriptedSession:
    """Publishes a script on its bus; blocks at the end until stopped when `hold` is set."""

    def __init__(
        self,
        store: SessionStore,
        paths: Paths,
        events: list[ev.Event],
        *,
        config: SessionConfig | None = None,
        hold: bool = False,
        delay: float = 0.0,
        session_id: str | None = None,
        gate_at: int | None = None,
    ) -> None:
        self.config = config or make_config()
        self.store = store
        self.paths = paths
        self.bus = ev.EventBus()
        self.events = events
        self.hold = hold
        self.delay = delay
        self.gate_at = (
            gate_at  # publishing waits before this event until `gate` is set (a test saw the screen)
        )
        self.gate = threading.Event()
        self.resumed = session_id is not None
        self.stop_event = threading.Event()
        self.stop_reason = ""
        self.report_paths: dict[str, str] = {}
        self.budget = Budget(self.config.budget_usd)  # the engine's: a test preloads what was spent
        self.session_id = session_id or store.create_session(
            name=self.config.name,
            config=self.config.model_dump(mode="json"),
            task="demo:sentiment",
            seed=0,
            budget_usd=self.config.budget_usd,
            models=[(m, m.split("/")[0]) for m in self.config.model_ids()],
            session_id="abc123def456",
        )
        self.bus.session_id = self.session_id
        self.published = 0
        self.stored: list[dict[str, Any]] = []  # what the engine's recorder would have written
        self.bus.subscribe(lambda e: self.stored.append(e.model_dump(mode="json")))

    def stop(self, reason: str = "user") -> None:
        self.stop_reason = self.stop_reason or reason
        self.stop_event.set()

    def run(self) -> str:
        store = SessionStore(self.store.path)
        try:
            for i, e in enumerate(self.events):
                if i == self.gate_at:
                    self.gate.wait(30)
                if self.stop_event.is_set():
                    break
                if isinstance(e, ev.SessionCompleted):
                    self._store_results(store)
                self.bus.publish(e)
                self.published += 1
                if self.delay:
                    time.sleep(self.delay)
            if self.hold:
                self.stop_event.wait(30)
            if self.stop_event.is_set():
                self.bus.publish(ev.SessionStopped(reason=self.stop_reason, ts=T0 + 90))
                outcome = "budget" if self.stop_reason == "budget" else "stopped"
            else:
                outcome = "completed"
            store.append_events(self.session_id, self.stored)
            store.update_status(self.session_id, "stopped" if outcome == "budget" else outcome)
            return outcome
        finally:
            store.close()

    def _store_results(self, store: SessionStore) -> None:
        tests = {
            e.model: e.test_score for e in self.events if isinstance(e, ev.BenchmarkProgress) and e.test_score
        }
        for k, m in enumerate(self.config.model_ids()):
            test = tests.get(m)
            if test is None:
                continue
            priced = not m.startswith("offline/")
            store.update_model(
                self.session_id,
                m,
                status="converged" if k == 0 else "done",
                test_score=test,
                test_ci_low=round(test - 0.08, 3),
                test_ci_high=round(test + 0.07, 3),
                cost_usd=0.0164 if priced else 0.0,
                calls=41,
                results={
                    "test_scores": [1.0] * int(test * 75) + [0.0] * (75 - int(test * 75)),
                    "benchmark_latency_p50_ms": 101.0 + k,
                    "benchmark_latency_p95_ms": 180.0 + k,
                },
            )
        store.save_report(
            self.session_id, "md", "# scripted\n\n| model | test |\n|---|---|\n| offline/base | 0.6 |\n"
        )
        self.report_paths = {"md": str(self.paths.exports_dir / self.session_id / "report.md")}


def scripted(
    store: SessionStore, paths: Paths, rounds_done: int, *, finished: bool = False, **options: Any
) -> ScriptedSession:
    """A scripted session of MODELS after `rounds_done` rounds: held running there unless `finished`."""
    events = script(MODELS, rounds_done=rounds_done, finished=finished)
    return ScriptedSession(store, paths, events, hold=not finished, **options)


def insert_sessions(store: SessionStore) -> list[str]:
    """Three stored sessions with fixed timestamps, for the home list."""
    ids = []
    rows = [
        ("sentiment", "completed", T0 - 86_400 * 2, 0.812, 0.0),
        ("intent-gpt", "stopped", T0 - 86_400, None, 0.1234),
        ("sentiment-2", "failed", T0 - 3_600, None, 0.0),
    ]
    for i, (name, status, created, test, cost) in enumerate(rows):
        config = make_config().model_dump(mode="json") | {"name": name}
        sid = store.create_session(
            name=name,
            config=config,
            task="demo:sentiment",
            seed=0,
            session_id=f"s{i}xxxxxxxxxx",
            models=[(m, m.split("/")[0]) for m in MODELS],
        )
        store.update_status(sid, status, error="boom" if status == "failed" else None)
        store.update_model(sid, MODELS[2], test_score=test, cost_usd=cost)
        store._conn().execute(
            "UPDATE sessions SET created_at = ?, updated_at = ? WHERE id = ?", (created, created, sid)
        )
        store._conn().commit()
        ids.append(sid)
    return ids


async def wait_for(
    pilot: Pilot[object], condition: Callable[[], object], timeout: float = 10.0, what: str = ""
) -> None:
    """Poll `condition` after each pilot pause: every 50 ms for a second, then every 250 ms. Each pause
    walks the whole screen, so a real run's 20-60 s wait at 20 polls a second cost seconds of CPU."""
    started = time.monotonic()
    while not condition():
        waited = time.monotonic() - started
        if waited > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        await pilot.pause(0.05 if waited < 1.0 else 0.25)


async def home_lists(pilot: Pilot[Any], rows: int, what: str = "") -> HomeScreen:
    """Wait until the home screen is up and its session table holds `rows` rows."""
    app = pilot.app
    await wait_for(
        pilot,
        lambda: (
            isinstance(app.screen, HomeScreen)
            and app.screen.query_one("#sessions", DataTable).row_count == rows
        ),
        what=what or f"{rows} sessions on home",
    )
    await pilot.pause()
    assert isinstance(app.screen, HomeScreen)
    return app.screen


async def answer(pilot: Pilot[Any], key: str, reply: str) -> None:
    """Press `key`, wait for the question it asks (a ConfirmScreen) and press `reply` (y, n or escape)."""
    await pilot.press(key)
    await wait_for(
        pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), what=f"the question {key} asks"
    )
    await pilot.press(reply)


async def new_session_form(pilot: Pilot[Any]) -> NewSessionScreen:
    """n on the home screen: the new-session form once shown (its estimate may still be on its way)."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, NewSessionScreen))
    assert isinstance(app.screen, NewSessionScreen)
    return app.screen


# -- stored history: finished sessions inserted straight into the database ----------------------
SENTIMENT_IDS = [f"sent-{i:02d}" for i in range(40)]
INTENT_IDS = [f"int-{i:02d}" for i in range(30)]
PROGRAM_SIGNATURE = "text -> label"
PROGRAM_STATE: dict[str, Any] = {  # what dspy.Predict("text -> label").dump_state() gives, with two demos
    "traces": [],
    "train": [],
    "lm": None,
    "demos": [{"text": "a lovely film", "label": "positive"}, {"text": "dull and long", "label": "negative"}],
    "signature": {
        "instructions": "Given the fields `text`, produce the fields `label`.",
        "fields": [
            {"prefix": "Text:", "description": "${text}"},
            {"prefix": "Label:", "description": "${label}"},
        ],
    },
}


def _scores(n: int, correct: int, shift: int) -> list[float]:
    """`correct` ones out of `n`, spread by a fixed rule so different models miss different examples."""
    return [1.0 if (i * 7 + shift) % n < correct else 0.0 for i in range(n)]


def _history_session(
    store: SessionStore,
    sid: str,
    name: str,
    task: str,
    created: float,
    ids: list[str],
    results: dict[str, tuple[float, float, int]],
    rounds: int = 3,
) -> str:
    """One completed session: models with (baseline, cost, correct on test), rounds, events, checkpoints."""
    models = list(results)
    config = make_config(models, rounds=rounds, budget=0.5).model_dump(mode="json") | {
        "name": name,
        "task": {"dataset": task},
    }
    store.create_session(
        name=name,
        config=config,
        task=task,
        seed=0,
        budget_usd=0.5,
        session_id=sid,
        models=[(m, m.split("/")[0]) for m in models],
    )
    events = script(models, rounds_done=rounds, finished=True, rounds=rounds)
    shift = created - T0  # the scripted events, moved to this session's start
    store.append_events(sid, [e.model_dump(mode="json") | {"ts": e.ts + shift} for e in events])
    leader = max(models, key=lambda m: results[m][2])
    for k, (model, (baseline, cost, correct)) in enumerate(results.items()):
        scores = _scores(len(ids), correct, k)
        test = correct / len(ids)
        best = round(min(1.0, baseline + 0.2), 3)
        for r in range(rounds + 1):
            dev = round(baseline + (best - baseline) * r / rounds, 3)
            store.record_round(
                sid,
                model,
                "baseline" if r == 0 else "optimization",
                r,
                dev_score=dev,
                best_dev_score=dev,
                cost_usd=cost / (rounds + 1),
                tokens_in=900,
                tokens_out=40,
                calls=12,
                started_at=created + 10 * r + k,
                finished_at=created + 10 * r + k + 5,
                metrics={"latency_p50_ms": 100.0 + 10 * k + r},
            )
            store.save_checkpoint(
                sid,
                model,
                "baseline" if r == 0 else "optimization",
                r,
                dev,
                PROGRAM_STATE if r else {**PROGRAM_STATE, "demos": []},
            )
        transfer = None
        if model != leader:
            transfer = {
                "source_model": leader,
                "before": best,
                "after": round(best + 0.02, 3),
                "kept": k % 2 == 1,
            }
            store.record_round(
                sid,
                model,
                "cross_model",
                0,
                dev_score=best + 0.02,
                best_dev_score=best + 0.02,
                cost_usd=0.0,
                tokens_in=300,
                tokens_out=10,
                calls=4,
                started_at=created + 60 + k,
                finished_at=created + 61 + k,
                metrics={"latency_p50_ms": 99.0},
            )
        store.update_model(
            sid,
            model,
            status="converged" if k == 0 else "done",
            phase="benchmark",
            baseline_score=baseline,
            best_dev_score=best,
            test_score=test,
            test_ci_low=round(max(0.0, test - 0.12), 3),
            test_ci_high=round(min(1.0, test + 0.1), 3),
            cost_usd=cost,
            calls=60 + 5 * k,
            results={
                "test_scores": scores,
                "test_ids": ids,
                "benchmark_latency_p50_ms": 101.0 + 20 * k,
                "benchmark_latency_p95_ms": 180.0 + 30 * k,
                "tokens_in": 14_000 + 500 * k,
                "tokens_out": 600 + 10 * k,
                "errors": 1 if k == 2 else 0,
                "transfer": transfer,
            },
        )
    store.update_status(sid, "completed")
    conn = store._conn()
    conn.execute(
        "UPDATE sessions SET created_at = ?, updated_at = ? WHERE id = ?", (created, created + 95, sid)
    )
    conn.commit()
    return sid


def insert_history(store: SessionStore) -> list[str]:
    """Three finished sessions, oldest first: two of demo:sentiment on the same 40 test examples (the
    second better), one of demo:intent on other examples (not comparable with them)."""
    return [
        _history_session(
            store,
            "hist0sent0aa",
            "sentiment-a",
            "demo:sentiment",
            T0 - 2 * 86_400,
            SENTIMENT_IDS,
            {
                "offline/small": (0.40, 0.0, 22),
                "offline/base": (0.50, 0.0, 27),
                "openai/gpt-4o-mini": (0.60, 0.0421, 34),
            },
        ),
        _history_session(
            store,
            "hist1sent1bb",
            "sentiment-b",
            "demo:sentiment",
            T0 - 86_400,
            SENTIMENT_IDS,
            {"offline/base": (0.55, 0.0, 29), "openai/gpt-4o-mini": (0.65, 0.0388, 36)},
        ),
        _history_session(
            store,
            "hist2intentc",
            "intent-c",
            "demo:intent",
            T0 - 3_600,
            INTENT_IDS,
            {"offline/base": (0.45, 0.0, 18), "openai/gpt-4o-mini": (0.50, 0.0207, 21)},
            rounds=2,
        ),
    ]
