"""Every one of the 14 metrics, computed on a real session against the fake provider, checked by value.

Two priced models on two fake servers: `groq/...` answers with the offline model's brain (so it
learns and has a gain to converge to), `openai/gpt-4o-mini` answers every review with the same
two words after two 500s (so its accuracy, diversity and error rate are known exactly). A judge
on the first server rates every aspect with a fixed score, so the judged metrics are known too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from dspy_tui.engine.config import parse_config
from dspy_tui.engine.metrics import (
    CONVERGED_SHARE,
    QUALITY_WEIGHTS,
    current_rss_mb,
    metric_rows,
    peak_memory_mb,
)
from dspy_tui.engine.pricing import price_for
from dspy_tui.storage.paths import resolve_paths

from fakes.offline_brain import offline_brain
from fakes.provider_server import FakeProvider, Received
from reliability.support import session_in_home

LEARNER, SCRIPTED, JUDGE = "groq/llama-3.3-70b-versatile", "openai/gpt-4o-mini", "groq/llama-3.1-8b-instant"
ASPECT_SCORES = {"consistent": 0.8, "address": 0.6, "original": 0.3}  # a word of each aspect's question
LATENCY_S = {LEARNER: 0.03, SCRIPTED: 0.06}


def _judge_or_learner() -> Any:
    learn = offline_brain("base")

    def reply(system: str | None, turns: list[tuple[str, str]]) -> str:
        if system and "`aspect`" in system:
            asked = turns[-1][1]
            score = next(v for k, v in ASPECT_SCORES.items() if k in asked)
            return f"[[ ## score ## ]]\n{score}\n\n[[ ## completed ## ]]"
        return learn(system, turns)

    return reply


@pytest.fixture
def servers() -> Iterator[tuple[FakeProvider, FakeProvider]]:
    first = FakeProvider(latency_s=LATENCY_S[LEARNER], brain=_judge_or_learner()).start()
    second = FakeProvider(
        latency_s=LATENCY_S[SCRIPTED],
        answer=lambda _inputs, _outs: {"sentiment": "very positive"},
        cached_tokens=7,
    ).start()
    second.fail_next("500", times=2)
    yield first, second
    first.stop()
    second.stop()


def _tokens(records: list[Received]) -> tuple[int, int, int]:
    return (
        sum(r.tokens_in or 0 for r in records),
        sum(r.tokens_out or 0 for r in records),
        sum(r.tokens_cached or 0 for r in records),
    )


def test_every_metric_has_its_value(servers: tuple[FakeProvider, FakeProvider]) -> None:
    first, second = servers
    limits = {"rpm": 1_000_000, "tpm": 1_000_000_000, "concurrency": 8}
    config = parse_config(
        {
            "name": "metrics",
            "optimizer": "bootstrap",
            "rounds": 2,
            "seed": 1,
            "concurrency": 4,
            "num_retries": 3,
            "convergence": {"patience": 5},
            "task": {
                "dataset": "demo:sentiment",
                "max_train": 24,
                "max_dev": 16,
                "max_test": 12,
                "judge": {"model": JUDGE},
                "metric": "exact_match",
            },
            "models": [{"id": LEARNER, "limits": limits}, {"id": SCRIPTED, "limits": limits}],
            "base_urls": {"groq": f"{first.url}/openai/v1", "openai": f"{second.url}/v1"},
        }
    )
    rss_before = current_rss_mb()
    session = session_in_home(config, key="sk-test-000")
    session.prepare()
    assert session.run() == "completed", session.store.get_session(session.session_id).error
    stored = {m.model: m for m in session.store.get_session(session.session_id).models}
    rounds = session.store.rounds(session.session_id)
    n_test = 12

    for model in (LEARNER, SCRIPTED):
        got = stored[model].stored.metrics
        v, na = got["values"], got["na"]
        run = session.runs[model]
        # quality: accuracy is the task metric's mean; the judge said 0.8 / 0.6 / 0.3 for every answer
        assert (
            v["accuracy"] == pytest.approx(sum(run.test_scores) / len(run.test_scores))
            and len(run.test_scores) == n_test
        )
        assert (v["coherence"], v["relevance"], v["creativity"]) == pytest.approx((0.8, 0.6, 0.3))
        # tokens and cost: what the server billed this model, at its list price
        server = first if model == LEARNER else second
        served = model.split("/", 1)[1]
        billed = [r for r in server.answered() if r.model == served]
        tin, tout, tcached = _tokens(billed)
        assert (v["tokens_in"], v["tokens_out"], v["tokens_cached"]) == (tin, tout, tcached)
        price = price_for(*model.split("/", 1))
        assert price is not None
        rate_in, rate_out, rate_cached = price.rates(0)
        expected_cost = (
            (tin - tcached) * rate_in
            + tcached * (rate_cached if rate_cached is not None else rate_in)
            + tout * rate_out
        ) / 1e6
        assert v["cost_usd"] == pytest.approx(expected_cost, rel=1e-6)
        # error rate: failed attempts / attempts the server saw for this model
        sent = [r for r in server.received if r.model == served]
        assert v["calls"] == len(sent)
        assert v["error_rate"] == pytest.approx(sum(not r.answered for r in sent) / len(sent))
        # latency is provider time: at least the server's fixed delay; throughput is bounded by it
        floor_ms = LATENCY_S[model] * 1000
        assert floor_ms <= v["latency_p50_ms"] <= v["latency_p95_ms"] < floor_ms + 1500
        assert 0 < v["throughput_calls_per_s"] <= 8 / LATENCY_S[model]
        # memory: the process's resident set while the model ran, never above the process's peak
        assert rss_before is not None and 0.5 * rss_before <= v["memory_peak_mb"] <= peak_memory_mb() + 1
        # training: improvement and convergence from the stored rounds
        mine = [r for r in rounds if r["model"] == model]
        baseline = next(r["dev_score"] for r in mine if r["phase"] == "baseline")
        best = [r["best_dev_score"] for r in mine if r["phase"] == "optimization"]
        assert v["rounds_run"] == len(best) == 2
        final_best = stored[model].best_dev
        if baseline:
            assert v["improvement_rate"] == pytest.approx((final_best - baseline) / baseline)
        if best[-1] > baseline:
            reached = next(
                i for i, b in enumerate(best, 1) if b - baseline >= CONVERGED_SHARE * (best[-1] - baseline)
            )
            assert v["rounds_to_95"] == reached and v["convergence_rate"] == pytest.approx(reached / 2)
        else:
            assert v["convergence_rate"] is None and "no gain" in na["convergence_rate"]
        # overall: the documented weighted mean of the quality metrics present
        quality = {k: v[k] for k in QUALITY_WEIGHTS if v[k] is not None}
        assert v["overall"] == pytest.approx(
            sum(QUALITY_WEIGHTS[k] * x for k, x in quality.items()) / sum(QUALITY_WEIGHTS[k] for k in quality)
        )
        # every one of the 14 rows shows a value or "n/a (reason)"
        rows = metric_rows(got)
        assert len(rows) == 14 and all(
            text and (not text.startswith("n/a") or "(" in text) for _, text in rows
        )

    scripted = stored[SCRIPTED].stored.metrics["values"]
    assert scripted["accuracy"] == 0.0  # "very positive" is never an exact label
    assert scripted["diversity"] == pytest.approx(1 / n_test)  # one distinct word pair over 12 outputs
    assert scripted["error_rate"] > 0 and scripted["tokens_cached"] > 0
    learner = stored[LEARNER].stored.metrics
    assert (
        learner["values"]["diversity"] is None and "word pairs" in learner["na"]["diversity"]
    )  # one-word labels
    assert learner["values"]["improvement_rate"] > 0  # the offline brain learns from the bootstrapped demos


def test_sessions_show_json_and_report_carry_every_metric(
    servers: tuple[FakeProvider, FakeProvider], capsys: pytest.CaptureFixture[str]
) -> None:
    from dspy_tui.cli.main import main
    from dspy_tui.engine.exports import render_report
    from dspy_tui.engine.service import SessionService

    first, _ = servers
    config = parse_config(
        {
            "name": "shown",
            "rounds": 1,
            "task": {"dataset": "demo:sentiment", "max_train": 12, "max_dev": 8, "max_test": 6},
            "models": ["offline/base", {"id": LEARNER, "limits": {"concurrency": 8}}],
            "base_urls": {"groq": f"{first.url}/openai/v1"},
        }
    )
    paths = resolve_paths()
    session = session_in_home(config, key="sk-test-000")
    session.prepare()
    assert session.run() == "completed"
    shown = SessionService(paths).summary(session.session_id)
    assert shown["converged_share"] is not None
    for m in shown["models"]:
        values, na = m["metrics"]["values"], m["metrics"]["na"]
        for key in (
            "overall",
            "accuracy",
            "coherence",
            "relevance",
            "creativity",
            "diversity",
            "latency_p50_ms",
            "latency_p95_ms",
            "throughput_calls_per_s",
            "tokens_in",
            "tokens_out",
            "cost_usd",
            "memory_peak_mb",
            "error_rate",
            "convergence_rate",
            "improvement_rate",
        ):
            assert key in values and (values[key] is not None or na[key])
        assert "no judge" in na["coherence"]
    offline = next(m for m in shown["models"] if m["model"] == "offline/base")
    assert offline["cost_usd"] is None and "offline" in offline["cost_note"]  # never a fake $0.0
    md = render_report(session.store, session.session_id, "md")
    section = md.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    assert len(re.findall(r"^\| (?!metric|---)", section, re.M)) == 14
    assert "n/a (no judge model configured" in section
    report = json.loads(render_report(session.store, session.session_id, "json"))
    assert all(len(m["metrics"]["values"]) >= 14 for m in report["models"])
    assert "process peak RSS" in render_report(session.store, session.session_id, "html")
    capsys.readouterr()
    assert main(["sessions", "show", session.session_id]) == 0
    text = capsys.readouterr().out
    assert text.count("convergence rate") == 2 and "ms (offline/simulated)" in text


def test_the_judged_example_runs_end_to_end_with_the_offline_model_as_judge(tmp_path: Any) -> None:
    """examples/quality_focused.toml (llm_judge metric + judged aspects), its providers served by the fake server."""
    from pathlib import Path

    from dspy_tui.engine.config import load_config

    example = Path(__file__).parents[2] / "examples" / "quality_focused.toml"
    server = FakeProvider(brain=offline_brain("base")).start()
    try:
        data = load_config(example).model_dump(mode="json")
        data.update(
            rounds=1,
            budget_usd=None,
            base_urls={"openai": f"{server.url}/v1", "anthropic": server.url},
            optimizer_settings={"num_candidates": 2, "num_trials": 2},
        )
        data["task"].update(max_train=12, max_dev=8, max_test=6)
        for m in data["models"]:
            m["limits"] = {"concurrency": 8}
        session = session_in_home(data, key="sk-test-000")
        session.prepare()
        assert session.run() == "completed", session.store.get_session(session.session_id).error
    finally:
        server.stop()
    for model in session.runs:
        got = session.store.get_session(session.session_id).models
        values = next(m for m in got if m.model == model).stored.metrics["values"]
        assert all(
            0 <= values[k] <= 1 for k in ("accuracy", "coherence", "relevance", "creativity", "overall")
        )
        assert values["accuracy"] > 0  # the offline judge gives 1 when the label matches the expected one
