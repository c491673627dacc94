"""Whole sessions: offline improvement, every optimizer, convergence, budget stop, kill -9 and resume."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from dspy_tui.engine import events as ev
from dspy_tui.engine.config import OPTIMIZERS
from dspy_tui.engine.session import Session

from fakes.offline_brain import offline_brain
from fakes.provider_server import FakeProvider
from reliability.support import (
    GROQ_MODEL,
    billed_usd,
    cached_answer_ids,
    cli,
    cli_env,
    cli_in_process,
    cli_popen,
    only_session_id,
    session_in_home,
    show,
    write_config,
)

FAST_LIMITS = {"rpm": 1_000_000, "tpm": 1_000_000_000, "concurrency": 16}


def _run(config: dict[str, Any]) -> tuple[Session, str, list[ev.Event]]:
    session = session_in_home(config)
    seen: list[ev.Event] = []
    session.bus.subscribe(seen.append)
    session.prepare()
    return session, session.run(), seen


def test_three_offline_models_improve_on_dev_in_well_under_a_minute() -> None:
    start = time.monotonic()
    session, outcome, seen = _run(
        {
            "name": "offline",
            "task": {"dataset": "demo:sentiment"},
            "optimizer": "bootstrap",
            "rounds": 3,
            "models": ["offline/small", "offline/base", "offline/large"],
            "seed": 3,
        }
    )
    elapsed = time.monotonic() - start
    assert outcome == "completed"
    assert elapsed < 60, f"took {elapsed:.1f} s"
    gains = {r.model: (r.best_dev or 0) - (r.baseline or 0) for r in session.runs.values()}
    assert max(gains.values()) > 0.05, gains
    # the gain came from an optimization round (not only from the cross-model step)
    rounds = session.store.rounds(session.session_id)
    assert any(
        r["phase"] == "optimization" and r["dev_score"] > r_base["dev_score"]
        for r in rounds
        for r_base in rounds
        if r_base["phase"] == "baseline" and r_base["model"] == r["model"]
    )
    types = {e.type for e in seen}
    assert {
        "session_started",
        "phase_started",
        "round_completed",
        "call_completed",
        "cost_updated",
        "benchmark_progress",
        "report_ready",
        "session_completed",
    } <= types
    stored = session.store.get_session(session.session_id)
    assert stored.status == "completed"
    assert all(
        m.test is not None and m.ci is not None and m.ci[0] <= m.test <= m.ci[1] for m in stored.models
    )
    for fmt in ("md", "json", "html"):
        assert Path(session.report_paths[fmt]).exists()
    print(
        f"\noffline session: {elapsed:.1f} s; dev gains {json.dumps({k: round(v, 3) for k, v in gains.items()})}"
    )


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_completes_a_short_session(optimizer: str) -> None:
    session, outcome, _ = _run(
        {
            "name": optimizer,
            "optimizer": optimizer,
            "rounds": 1,
            "cross_model": False,
            "task": {"dataset": "demo:intent", "max_train": 24, "max_dev": 16, "max_test": 16},
            "models": ["offline/base"],
            "optimizer_settings": {
                "num_trials": 2,
                "num_candidates": 2,
                "max_metric_calls": 30,
                "num_candidate_programs": 2,
                "breadth": 2,
                "bsize": 4,
            },
        }
    )
    assert outcome == "completed", session.store.get_session(session.session_id).error
    run = session.runs["offline/base"]
    assert run.test_score is not None and run.best_dev is not None
    assert len(session.store.checkpoints(session.session_id, "offline/base")) >= 2  # baseline + round 1


def test_convergence_stops_rounds_early() -> None:
    session, outcome, seen = _run(
        {
            "name": "converge",
            "task": {"dataset": "demo:intent", "max_dev": 20, "max_test": 10},
            "models": ["offline/base"],
            "optimizer": "labeled",
            "rounds": 8,
            "cross_model": False,
            "convergence": {"patience": 1, "min_delta": 0.9},
        }
    )
    assert outcome == "completed"
    rounds = [r for r in session.store.rounds(session.session_id) if r["phase"] == "optimization"]
    assert len(rounds) == 1  # a gain of 0.9 is impossible: it stops after `patience` rounds, not 8
    converged = [e for e in seen if isinstance(e, ev.ModelConverged)]
    assert converged and converged[0].round == 1
    assert session.runs["offline/base"].status == "converged"


# -- against a priced provider over HTTP (the fake server), in a real dspy-tui process -----------------
def test_budget_stop_spends_at_most_the_budget_and_exits_3(
    tmp_path: Path, brainy_provider: FakeProvider
) -> None:
    home = tmp_path / "home"
    config = write_config(tmp_path / "budget.toml", budget_usd=0.002)
    env = cli_env(home, brainy_provider)
    out = cli("run", str(config), "--headless", env=env)
    assert out.returncode == 3, out.stderr[-2000:]
    assert "budget" in out.stderr and "Traceback" not in out.stderr
    shown = show(env, only_session_id(env))
    assert shown["status"] == "stopped"
    assert shown["cost_usd"] <= 0.002
    assert billed_usd(brainy_provider.answered()) <= 0.002
    assert shown["cost_usd"] == pytest.approx(billed_usd(brainy_provider.answered()), rel=1e-6, abs=1e-12)
    print(f"\nbudget stop: spent ${shown['cost_usd']:.6f} of $0.002 ({shown['calls']} calls)")


def test_kill_9_then_resume_repeats_no_paid_call_and_matches_an_uninterrupted_run(
    tmp_path: Path, brainy_provider: FakeProvider
) -> None:
    config = write_config(tmp_path / "s.toml")
    # 1. the uninterrupted reference run, on its own server
    reference_provider = FakeProvider(latency_s=0.004, brain=offline_brain("base")).start()
    try:
        ref_home = tmp_path / "ref"
        ref_env = cli_env(ref_home, reference_provider)
        out = cli_in_process("run", str(config), "--headless", env=ref_env)
        assert out.returncode == 0, out.stderr[-2000:]
        reference = show(ref_env, only_session_id(ref_env))
    finally:
        reference_provider.stop()

    # 2. the same session, killed with SIGKILL part-way through
    home = tmp_path / "killed"
    env = cli_env(home, brainy_provider)
    proc = cli_popen("run", str(config), "--headless", env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(brainy_provider.answered()) < 60:
        time.sleep(0.02)
    assert proc.poll() is None, "the session ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    db = home / "dspy-tui.db"
    cached_before = cached_answer_ids(db)
    sid = only_session_id(env)
    assert show(env, sid)["status"] == "interrupted"
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # 3. resume to the end
    answered_at_kill = len(brainy_provider.answered())
    out = cli_in_process("resume", sid, "--headless", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    resumed = show(env, sid)
    assert resumed["status"] == "completed"

    # no request whose answer had been stored was sent again
    after = brainy_provider.answered()[answered_at_kill:]
    stored_hashes = {
        r.body_hash
        for r in brainy_provider.answered()[:answered_at_kill]
        if f"chatcmpl-{r.number}" in cached_before
    }
    assert stored_hashes, "nothing was stored before the kill"
    repeated_paid = [r for r in after if r.body_hash in stored_hashes]
    assert repeated_paid == []
    # the same final scores as the uninterrupted run
    for ref_model, model in zip(reference["models"], resumed["models"], strict=True):
        assert model["model"] == ref_model["model"]
        for key in ("baseline_score", "best_dev_score", "test_score"):
            assert model[key] == pytest.approx(ref_model[key]), (model["model"], key)
    # what the session recorded is what the provider billed for every answer that reached it:
    # all of them, but for the ones in flight at the kill (billed, never received)
    before = brainy_provider.answered()[:answered_at_kill]
    never_received = [r for r in before if f"chatcmpl-{r.number}" not in cached_before]
    received = [r for r in brainy_provider.answered() if r not in never_received]
    assert resumed["cost_usd"] == pytest.approx(billed_usd(received), rel=1e-6)
    print(
        f"\nkill -9 at {answered_at_kill} answered calls; resumed with {len(after)} new calls; "
        f"{len(never_received)} answered in flight at the kill were never received (asked again); "
        "0 stored answers repeated"
    )


# -- examples whose calls fail are errored: left out of the score, counted, shown -----------------------
# The model has no limits of its own: tests whose calls fail take the engine_runtime fixture's, whose
# limiter holds 50 ms after a 5xx instead of the default second. They are about what failing calls do
# to scores and errors; test_limits.py covers the hold itself.
UNTHROTTLED = pytest.mark.usefixtures("engine_runtime")


def _http_config(provider: FakeProvider, **extra: Any) -> dict[str, Any]:
    return {
        "name": "errored",
        "optimizer": "labeled",
        "rounds": 1,
        "cross_model": False,
        "seed": 5,
        "num_retries": 1,
        "concurrency": 8,
        "task": {"dataset": "demo:sentiment", "max_train": 20, "max_dev": 20, "max_test": 20},
        "models": [{"id": GROQ_MODEL, "base_url": f"{provider.url}/openai/v1"}],
        **extra,
    }


def _prepared(config: dict[str, Any]) -> Session:
    session = session_in_home(config, key="gsk_fake_key_for_tests_0000")
    session.prepare()
    return session


def _failing(session: Session, share: float, kind: str = "500") -> set[str]:
    """The dev reviews the fake provider fails on every attempt: the first `share` of the dev split."""
    dev = session.task.dev
    picked = {str(e["review"]) for e in dev[: round(len(dev) * share)]}
    return picked


def _expected_score(session: Session, skip: set[str]) -> float:
    """The mean of the metric over the dev examples that were answered, as plain DSPy scores them."""
    import dspy

    from dspy_tui.engine.call_context import ModelOptions
    from dspy_tui.engine.lm import make_lm
    from dspy_tui.engine.session import build_program

    model = session.config.models[0]
    options = ModelOptions(
        base_url=model.base_url, max_tokens=model.max_tokens, temperature=model.temperature
    )
    # a fresh LM: the session's own sends nothing once the session has ended
    lm = make_lm(GROQ_MODEL, keys=lambda _provider: "gsk_fake_key_for_tests_0000", options=options)
    program = build_program(session.task)
    scores = []
    with dspy.context(lm=lm):
        for example in session.task.dev:
            if str(example["review"]) not in skip:
                scores.append(float(session.task.metric(example, program(**example.inputs()))))
    return sum(scores) / len(scores)


@UNTHROTTLED
def test_a_model_erroring_on_ten_percent_of_dev_is_scored_over_the_answered_ninety(
    brainy_provider: FakeProvider,
) -> None:
    session = _prepared(_http_config(brainy_provider))
    failing = _failing(session, 0.10)
    assert len(failing) == 2
    brainy_provider.fault_for = lambda text: "500" if any(r in text for r in failing) else None
    assert session.run() == "completed"
    run = session.runs[GROQ_MODEL]
    brainy_provider.fault_for = None
    assert run.baseline == pytest.approx(_expected_score(session, failing))
    stored = session.store.get_session(session.session_id).models[0]
    assert stored.baseline == pytest.approx(run.baseline)
    results = stored.stored.model_dump()
    assert results["errored_examples"]["baseline"] == 2
    assert results["outcomes"]["baseline"] == {"examples": 20, "answered": 18, "errored": 2, "unparsed": 0}
    assert results["degraded"] is None
    assert stored.status == "done"
    baseline_round = next(r for r in session.store.rounds(session.session_id) if r["phase"] == "baseline")
    assert baseline_round["metrics"]["errored_examples"] == 2
    report = Path(session.report_paths["md"]).read_text()
    assert "2 of 20 dev examples errored" in report
    from dspy_tui.engine.service import SessionService

    shown = SessionService(session.paths).summary(session.session_id)["models"][0]
    assert shown["errored_examples"]["baseline"] == 2 and shown["degraded"] is None


@UNTHROTTLED
def test_a_model_erroring_on_more_than_the_threshold_is_degraded(brainy_provider: FakeProvider) -> None:
    session = _prepared(_http_config(brainy_provider))
    failing = _failing(session, 0.25)
    brainy_provider.fault_for = lambda text: "500" if any(r in text for r in failing) else None
    assert session.run() == "completed"
    stored = session.store.get_session(session.session_id).models[0]
    reason = stored.stored.degraded
    assert reason is not None and "5 of 20" in reason and "baseline" in reason, reason
    assert "degraded" in Path(session.report_paths["md"]).read_text()


@UNTHROTTLED
def test_answers_no_adapter_can_parse_are_counted_as_unparsed_and_score_wrong(
    brainy_provider: FakeProvider,
) -> None:
    session = _prepared(_http_config(brainy_provider))
    garbled = _failing(session, 0.15)
    brainy_provider.fault_for = lambda text: "unparseable" if any(r in text for r in garbled) else None
    assert session.run() == "completed"
    run = session.runs[GROQ_MODEL]
    stored = session.store.get_session(session.session_id).models[0]
    assert stored.stored.outcomes is not None
    assert stored.stored.outcomes["baseline"] == {
        "examples": 20,
        "answered": 20,
        "errored": 0,
        "unparsed": 3,
    }
    assert (stored.stored.unparsed or 0) >= 3
    brainy_provider.fault_for = None
    expected = _expected_score(session, garbled) * 17 / 20  # the three count as wrong, over all 20
    assert run.baseline == pytest.approx(expected)
    assert "could not be parsed" in Path(session.report_paths["md"]).read_text()


@UNTHROTTLED
def test_a_model_that_never_answers_fails_with_null_scores_and_the_cause(
    brainy_provider: FakeProvider,
) -> None:
    session = _prepared(_http_config(brainy_provider))
    brainy_provider.fault_for = lambda text: "500"
    outcome = session.run()
    assert outcome == "failed"
    stored = session.store.get_session(session.session_id).models[0]
    assert stored.status == "failed"
    assert stored.baseline is None and stored.best_dev is None and stored.test is None
    assert stored.error is not None and "20 of 20 dev examples" in stored.error and "500" in stored.error, (
        stored.error
    )


# -- models are independent: a dead one neither slows the others nor keeps calling ----------------------
def _closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there once the socket is closed


def _healthy_seconds(session: Session, seen: list[ev.Event], model: str) -> float:
    started = next(e.ts for e in seen if isinstance(e, ev.SessionStarted))
    done = next(
        e.ts
        for e in seen
        if isinstance(e, ev.BenchmarkProgress) and e.model == model and e.test_score is not None
    )
    return done - started


@pytest.mark.serial
def test_a_healthy_model_next_to_a_dead_one_finishes_as_fast_as_alone() -> None:
    provider = FakeProvider(latency_s=0.25, brain=offline_brain("base")).start()
    try:
        alone_cfg = _http_config(provider, rounds=2)
        alone = _prepared(alone_cfg)
        alone_seen: list[ev.Event] = []
        alone.bus.subscribe(alone_seen.append)
        assert alone.run() == "completed"
        dead = {"id": "openai/gpt-4o-mini", "base_url": _closed_port_url(), "limits": FAST_LIMITS}
        pair = _prepared({**alone_cfg, "cross_model": True, "models": [*alone_cfg["models"], dead]})
        pair_seen: list[ev.Event] = []
        pair.bus.subscribe(pair_seen.append)
        assert pair.run() == "completed"
    finally:
        provider.stop()
    healthy = pair.runs[GROQ_MODEL]
    assert healthy.status == "done" and healthy.test_score is not None
    failed = pair.runs["openai/gpt-4o-mini"]
    assert failed.status == "failed" and "could not connect" in (failed.error or ""), failed.error
    assert failed.baseline is None and failed.test_score is None
    t_alone, t_pair = (
        _healthy_seconds(alone, alone_seen, GROQ_MODEL),
        _healthy_seconds(pair, pair_seen, GROQ_MODEL),
    )
    print(
        f"\nhealthy model alone {t_alone:.2f} s, next to a dead one {t_pair:.2f} s ({t_pair / t_alone:.2f}x)"
    )
    assert t_pair <= 1.2 * t_alone


@UNTHROTTLED
def test_no_request_leaves_for_a_model_after_it_failed(brainy_provider: FakeProvider) -> None:
    """The server breaks in the middle of an optimizer's own parallel evaluation: DSPy cancels it
    ("Execution cancelled ...") and leaves its threads retrying; once the model has failed they send
    nothing more."""
    session = _prepared(
        _http_config(
            brainy_provider,
            optimizer="random_search",
            rounds=2,
            num_retries=2,
            optimizer_settings={"num_candidate_programs": 2},
        )
    )
    at_failure: list[int] = []

    def watch(e: ev.Event) -> None:
        if isinstance(e, ev.RoundStarted):
            brainy_provider.fault_for = lambda text: "500"
        elif isinstance(e, ev.ModelFailed):
            at_failure.append(len(brainy_provider.received))

    session.bus.subscribe(watch)
    assert session.run() == "failed"
    time.sleep(4.0)  # long enough for a left-behind thread's retries (1 s, 2 s back-off) to reach the server
    assert at_failure, "the model never failed"
    assert len(brainy_provider.received) == at_failure[0]
    run = session.runs[GROQ_MODEL]
    assert run.status == "failed"
    assert "Execution cancelled" not in (run.error or "")  # DSPy's words name no cause; ours do
    assert re.fullmatch(r"\d+ of \d+ calls got a server error \(HTTP 5xx\)\.", run.error or ""), run.error


def test_a_model_at_a_closed_port_fails_in_seconds_with_its_url_and_the_other_completes() -> None:
    started = time.monotonic()
    session, outcome, seen = _run(
        {
            "name": "dead endpoint",
            "rounds": 1,
            "optimizer": "labeled",
            "task": {"dataset": "demo:sentiment", "max_train": 8, "max_dev": 12, "max_test": 8},
            "models": ["offline/small", {"id": "vllm/llama-3-8b", "base_url": "http://127.0.0.1:9/v1"}],
        }
    )
    assert outcome == "completed"
    dead, alive = session.runs["vllm/llama-3-8b"], session.runs["offline/small"]
    assert dead.status == "failed" and alive.status in ("done", "converged") and alive.test_score is not None
    failed = [e for e in seen if isinstance(e, ev.ModelFailed)]
    assert [e.model for e in failed] == ["vllm/llama-3-8b"]
    assert "could not connect to vllm at http://127.0.0.1:9/v1 (connection refused)" in failed[0].error
    first_call = min(e.ts for e in seen if isinstance(e, ev.CallCompleted) and e.model == "vllm/llama-3-8b")
    assert failed[0].ts - first_call < 15
    assert sum(1 for e in seen if isinstance(e, ev.CallCompleted) and e.model == "vllm/llama-3-8b") <= 8
    assert time.monotonic() - started < 120


def test_a_server_that_never_answers_in_time_fails_its_model_and_the_other_completes() -> None:
    """Every request held past the timeout (a wedged or hopelessly overloaded server): timeouts are
    overload only once the server has answered; before any answer, `breaker_after` of them in a row
    fail the model with one sentence, instead of retrying the baseline for minutes."""
    server = FakeProvider(fault_rate=1.0, fault_kinds=("timeout",)).start()
    try:
        started = time.monotonic()
        session, outcome, seen = _run(
            {
                "name": "wedged endpoint",
                "rounds": 1,
                "optimizer": "labeled",
                "timeouts": {"total_s": 1},
                "task": {"dataset": "demo:sentiment", "max_train": 8, "max_dev": 40, "max_test": 8},
                "models": ["offline/small", {"id": "vllm/llama-3-8b", "base_url": f"{server.url}/v1"}],
            }
        )
    finally:
        server.stop()
    assert outcome == "completed"
    dead, alive = session.runs["vllm/llama-3-8b"], session.runs["offline/small"]
    assert dead.status == "failed" and alive.test_score is not None
    failed = [e for e in seen if isinstance(e, ev.ModelFailed)]
    assert [e.model for e in failed] == ["vllm/llama-3-8b"]
    assert "never answered" in failed[0].error and server.url in failed[0].error, failed[0].error
    first_call = min(e.ts for e in seen if isinstance(e, ev.CallCompleted) and e.model == "vllm/llama-3-8b")
    assert failed[0].ts - first_call < 15
    assert time.monotonic() - started < 60


def test_cost_is_stored_per_phase_and_the_judge_apart_from_the_competitor_of_its_id(
    brainy_provider: FakeProvider,
) -> None:
    """The judge is the competing model itself: its calls are charged to the judge role, not to the model."""
    from dspy_tui.engine.service import SessionService

    config = _http_config(
        brainy_provider,
        task={
            "dataset": "demo:sentiment",
            "max_train": 20,
            "max_dev": 20,
            "max_test": 20,
            "judge": {"model": GROQ_MODEL},
        },
        base_urls={"groq": f"{brainy_provider.url}/openai/v1"},
    )
    session = _prepared(config)
    assert session.run() == "completed"
    sid = session.session_id
    calls = session.store.query("SELECT phase, role, cost_usd FROM calls WHERE session_id = ?", (sid,))
    assert {c["phase"] for c in calls if c["role"] == "model"} == {"baseline", "optimization", "benchmark"}
    judged = [c for c in calls if c["role"] == "judge"]
    assert judged and sum(c["cost_usd"] or 0 for c in judged) > 0
    assert {c["phase"] for c in judged} == {"judge"}  # the judge's own phase, not `unattributed`
    shown = SessionService(session.paths).summary(sid)
    by_phase = shown["models"][0]["cost_by_phase"]
    judge_cost = sum(shown["judge_cost_by_phase"][GROQ_MODEL].values())
    assert set(by_phase) == {"baseline", "optimization", "benchmark"} and all(
        v > 0 for v in by_phase.values()
    )
    assert judge_cost == pytest.approx(sum(c["cost_usd"] for c in judged))
    assert sum(by_phase.values()) + judge_cost == pytest.approx(shown["cost_usd"])
    assert shown["models"][0]["cost_usd"] == pytest.approx(
        sum(by_phase.values())
    )  # the judge's is not its own
    assert set(shown["judge_cost_by_phase"][GROQ_MODEL]) == {"judge"}
    # the budget charges the judge, not the competitor of its id (whose per-model cap it would eat),
    # and counts it against the hold of the model it rated
    assert session.budget.model_spent(GROQ_MODEL) == pytest.approx(shown["models"][0]["cost_usd"])
    assert session.budget.model_spent(f"{GROQ_MODEL} (judge)") == pytest.approx(judge_cost)
    assert session.budget.assisted_spent(GROQ_MODEL) == pytest.approx(judge_cost)
