"""The session report: conclusions drawn from a fixture session, and its three renderings."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from dspy_tui.engine.report import build_report, render_html, render_json, render_markdown

EVIL = "ollama/<script>alert(1)</script>"
SECRETS = ("sk-SECRET-0123456789abcdef", "tok-SECRET-bearer", "hunter2-SECRET", "SECRET-nested-token")
IDS = [f"test-{i:02d}" for i in range(20)]


def _scores(correct: int, n: int = 20) -> list[float]:
    return [1.0] * correct + [0.0] * (n - correct)


def _model(name: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": name,
        "status": "done",
        "error": None,
        "offline": False,
        "priced": True,
        "baseline_score": 0.5,
        "best_dev_score": 0.6,
        "test_score": None,
        "test_ci": None,
        "test_scores": [],
        "test_ids": [],
        "cost_usd": 0.0,
        "calls": 10,
        "cache_hits": 0,
        "errors": 0,
        "tokens_in": 1000,
        "tokens_out": 200,
        "latency_p50_ms": None,
        "latency_p95_ms": None,
        "cost_per_correct": None,
        "rounds": [],
        "transfer": None,
        "program_path": None,
    }
    base.update(overrides)
    return base


@pytest.fixture
def data() -> dict[str, Any]:
    evil_ids = list(reversed(IDS))  # same examples, another order: still comparable
    evil_scores = list(reversed(_scores(12)))
    return {
        "session": {
            "id": "s-123",
            "name": "qa <demo>",
            "status": "completed",
            "task": "qa",
            "created_at": 1_700_000_000,
            "seed": 7,
            "budget_usd": 2.5,
            "config": {
                "models": ["openai/gpt-4o-mini", "offline/echo"],
                "optimizer": "bootstrap_fewshot",
                "api_key": SECRETS[0],
                "headers": {"Authorization": SECRETS[1]},
                "providers": [{"name": "groq", "password": SECRETS[2], "base_url": "http://127.0.0.1:1"}],
                "deep": {"refresh_token": SECRETS[3], "max_tokens": 256},
            },
            "versions": {"dspy": "3.4.1", "dspy-tui": "0.1.0", "python": "3.11.9"},
        },
        "models": [
            _model(
                "openai/gpt-4o-mini",
                baseline_score=0.55,
                best_dev_score=0.8,
                test_score=0.85,
                test_ci=[0.7, 1.0],
                test_scores=_scores(17),
                test_ids=IDS,
                cost_usd=0.12,
                calls=340,
                latency_p50_ms=420.0,
                latency_p95_ms=900.0,
                program_path="/tmp/p/openai.json",
                rounds=[
                    {"round": 1, "dev_score": 0.7, "best_dev_score": 0.7, "cost_usd": 0.05},
                    {"round": 2, "dev_score": 0.8, "best_dev_score": 0.8, "cost_usd": 0.04},
                ],
            ),
            _model(
                "offline/echo",
                offline=True,
                priced=False,
                test_score=0.5,
                test_scores=_scores(10),
                test_ids=IDS,
                latency_p50_ms=1.0,
                latency_p95_ms=2.0,
                rounds=[{"round": 1, "dev_score": 0.5, "best_dev_score": 0.5, "cost_usd": 0.0}],
            ),
            _model(
                EVIL,
                priced=False,
                test_score=0.6,
                test_ci=[0.4, 0.8],
                test_scores=evil_scores,
                test_ids=evil_ids,
                cost_usd=0.0,
                latency_p50_ms=800.0,
                latency_p95_ms=2000.0,
                transfer={"source_model": "openai/gpt-4o-mini", "before": 0.5, "after": 0.6, "kept": True},
            ),
            _model(
                "anthropic/claude-3-5-haiku",
                status="failed",
                error="AuthError: the key was rejected",
                cost_usd=0.003,
                errors=3,
            ),
            _model(
                "groq/llama-3.1-8b",
                status="stopped",
                test_score=0.7,
                test_scores=_scores(7, 10),
                test_ids=IDS[:10],
                cost_usd=0.01,
                latency_p50_ms=150.0,
                latency_p95_ms=300.0,
            ),
        ],
    }


@pytest.fixture
def report(data: dict[str, Any]) -> dict[str, Any]:
    return build_report(data)


def _pair(report: dict[str, Any], x: str, y: str) -> dict[str, Any]:
    return next(p for p in report["pairwise"] if {p["a"], p["b"]} == {x, y})


# ---- what the report concludes


def test_rankings_follow_test_scores(report: dict[str, Any]) -> None:
    assert [(r["rank"], r["model"]) for r in report["rankings"]] == [
        (1, "openai/gpt-4o-mini"),
        (2, "groq/llama-3.1-8b"),
        (3, EVIL),
        (4, "offline/echo"),
    ]


def test_equal_scores_share_a_rank() -> None:
    models = [_model(m, test_score=s) for m, s in (("a/x", 0.9), ("b/y", 0.8), ("c/z", 0.8), ("d/w", 0.1))]
    ranks = build_report({"session": {}, "models": models})["rankings"]
    assert [r["rank"] for r in ranks] == [1, 2, 2, 4]


def test_recommendations(report: dict[str, Any]) -> None:
    rec = report["recommendations"]
    assert rec["best_quality"]["model"] == "openai/gpt-4o-mini"
    assert "0.850" in rec["best_quality"]["reason"]
    assert (
        "ahead of groq/llama-3.1-8b by 0.150, which was tested on other examples"
        in rec["best_quality"]["reason"]
    )
    # the offline model is free only because it is simulated, and the reason must say so
    assert rec["best_value"]["model"] == "offline/echo"
    assert "simulated" in rec["best_value"]["reason"]
    assert EVIL in rec["best_value"]["reason"]  # the unpriced model was left out, visibly
    assert rec["fastest"]["model"] == "offline/echo"
    assert "simulated" in rec["fastest"]["reason"]


def test_recommendations_without_the_offline_model(data: dict[str, Any]) -> None:
    data["models"] = [m for m in data["models"] if not m["offline"]]
    rec = build_report(data)["recommendations"]
    # groq: $0.01 / 7 correct beats gpt-4o-mini: $0.12 / 17 correct; the unpriced model cannot be "cheapest"
    assert rec["best_value"]["model"] == "groq/llama-3.1-8b"
    assert "$0.0014" in rec["best_value"]["reason"]
    assert rec["fastest"]["model"] == "groq/llama-3.1-8b"
    assert "simulated" not in rec["fastest"]["reason"] + rec["best_value"]["reason"]


def test_best_quality_says_whether_the_lead_is_significant(data: dict[str, Any]) -> None:
    data["models"] = [m for m in data["models"] if m["model"] != "groq/llama-3.1-8b"]
    reason = build_report(data)["recommendations"]["best_quality"]["reason"]
    assert f"ahead of {EVIL} by 0.250, a significant difference (p = 0.0" in reason
    data["models"] = [m for m in data["models"] if m["model"] in (EVIL, "offline/echo")]
    reason = build_report(data)["recommendations"]["best_quality"]["reason"]
    assert "ahead of offline/echo by 0.100, not a significant difference (p = 0." in reason


def test_no_recommendation_without_test_scores() -> None:
    report = build_report({"session": {"name": "empty"}, "models": [_model("a/b", status="failed")]})
    assert report["recommendations"] == {"best_quality": None, "best_value": None, "fastest": None}
    assert report["pairwise"] == []
    assert "nothing to recommend" in render_markdown(report)


def test_pairwise_only_for_the_same_test_examples(report: dict[str, Any]) -> None:
    comparable = {frozenset((p["a"], p["b"])) for p in report["pairwise"] if p["comparable"]}
    assert comparable == {
        frozenset(("openai/gpt-4o-mini", "offline/echo")),
        frozenset(("openai/gpt-4o-mini", EVIL)),
        frozenset(("offline/echo", EVIL)),
    }
    apart = [p for p in report["pairwise"] if not p["comparable"]]
    assert {frozenset((p["a"], p["b"])) for p in apart} == {
        frozenset(("groq/llama-3.1-8b", m)) for m in ("openai/gpt-4o-mini", "offline/echo", EVIL)
    }
    assert all(p["reason"] for p in apart)
    # the failed model has no test scores and is in no pair
    assert not any("anthropic/claude-3-5-haiku" in (p["a"], p["b"]) for p in report["pairwise"])


def test_pairwise_numbers(report: dict[str, Any]) -> None:
    strong = _pair(report, "openai/gpt-4o-mini", "offline/echo")
    assert (strong["a"], strong["b"]) == ("openai/gpt-4o-mini", "offline/echo")  # higher mean first
    assert strong["n"] == 20
    assert strong["mean_diff"] == pytest.approx(0.35)
    assert strong["significant"] and strong["ci"][0] > 0
    # reversed ids were aligned by id: 12 correct vs 17 correct on the same examples
    aligned = _pair(report, "openai/gpt-4o-mini", EVIL)
    assert aligned["mean_diff"] == pytest.approx(0.25)
    assert aligned["significant"]
    close = _pair(report, EVIL, "offline/echo")
    assert close["mean_diff"] == pytest.approx(0.1)
    assert not close["significant"] and close["p_value"] > 0.05


def test_derived_fields_and_totals(report: dict[str, Any]) -> None:
    by_name = {m["model"]: m for m in report["models"]}
    offline = by_name["offline/echo"]
    assert offline["test_ci"] is not None and offline["test_ci"][0] <= 0.5 <= offline["test_ci"][1]
    assert by_name["openai/gpt-4o-mini"]["cost_per_correct"] == pytest.approx(0.12 / 17)
    assert by_name[EVIL]["cost_per_correct"] is None  # unpriced: no value to claim
    totals = report["totals"]
    assert totals["cost_usd"] == pytest.approx(0.12 + 0.003 + 0.01)
    assert totals["unpriced_models"] == [EVIL]
    assert totals["offline_models"] == ["offline/echo"]


def test_build_is_deterministic_and_leaves_the_input_alone(data: dict[str, Any]) -> None:
    before = copy.deepcopy(data)
    first = build_report(data)
    assert data == before
    assert render_json(build_report(data)) == render_json(first)


# ---- renderings


def test_markdown(report: dict[str, Any]) -> None:
    md = render_markdown(report)
    assert md.startswith("# dspy-tui report: qa \\<demo\\>\n")
    for heading in (
        "Session",
        "Results",
        "Recommendations",
        "Optimization rounds",
        "Cross-model transfers",
        "Pairwise comparisons",
        "Optimized programs",
        "Configuration",
        "Reproducibility",
    ):
        assert f"\n## {heading}\n" in md
    header = (
        "| # | model | status | baseline dev | best dev | test (95% CI) | cost | cost/correct | one-off | "
        "p50/p95 latency | tokens in/out | errors |"
    )
    assert header in md
    results = md.split("\n## Results\n")[1].split("\n## ")[0]
    rows = {line.split(" | ")[1]: line for line in results.splitlines() if line.startswith("| ")}
    gpt = rows["openai/gpt-4o-mini"]
    assert (
        "0.850 (0.700–1.000)" in gpt and "$0.1200" in gpt and "420 / 900 ms" in gpt and "1,000 / 200" in gpt
    )
    assert gpt.startswith("| 1 |")
    offline = rows["offline/echo"]
    assert "done (offline/simulated)" in offline and "$" not in offline
    evil = rows["ollama/\\<script\\>alert(1)\\</script\\>"]
    assert "| unpriced | unpriced |" in evil and "$" not in evil
    failed = rows["anthropic/claude-3-5-haiku"]
    assert "| failed |" in failed and failed.endswith("| 3 |")
    assert "anthropic/claude-3-5-haiku: AuthError: the key was rejected" in md
    assert "<script>" not in md
    assert "+45.5%" in md  # gpt-4o-mini: baseline dev 0.55 -> best dev 0.80
    assert "| 2 | 0.800 | 0.800 | $0.0400 |" in md
    assert "| openai/gpt-4o-mini | 0.500 | 0.600 | yes |" in md  # the transfer row
    assert (
        "groq/llama-3.1-8b vs openai/gpt-4o-mini: not comparable" in md
        or "openai/gpt-4o-mini vs groq/llama-3.1-8b: not comparable" in md
    )
    assert "```json\n{" in md and '"optimizer": "bootstrap_fewshot"' in md
    assert "- **Seed**: 7" in md and "- **dspy**: 3.4.1" in md
    assert "- **Created**: 2023-11-14 22:13:20 UTC" in md
    assert "- **Budget**: $2.50" in md
    assert "Best value: offline/echo." in md


def test_json_is_stable_and_complete(report: dict[str, Any]) -> None:
    text = render_json(report)
    assert text == render_json(json.loads(text))
    loaded = json.loads(text)
    assert loaded["recommendations"]["best_quality"]["model"] == "openai/gpt-4o-mini"
    assert [r["model"] for r in loaded["rankings"]][0] == "openai/gpt-4o-mini"
    assert list(loaded) == sorted(loaded)
    assert '\n  "models": [' in text  # indent=2


def test_html_is_one_escaped_page(report: dict[str, Any]) -> None:
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert (
        "<style>" in page and "<script" not in page and "http" not in page.replace("http://127.0.0.1:1", "")
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>dspy-tui report: qa &lt;demo&gt;</title>" in page
    for heading in ("Results", "Recommendations", "Pairwise comparisons", "Configuration", "Reproducibility"):
        assert f"<h2>{heading}</h2>" in page
    assert "<td>offline/simulated</td>" in page and "<td>unpriced</td>" in page
    assert "&quot;optimizer&quot;: &quot;bootstrap_fewshot&quot;" in page


def test_no_secret_in_any_format(report: dict[str, Any]) -> None:
    for text in (render_markdown(report), render_json(report), render_html(report)):
        for secret in SECRETS:
            assert secret not in text
        assert "SECRET" not in text
        assert "redacted" in text
    # what is not a secret survives the scrub
    assert '"max_tokens": 256' in render_json(report)


def test_a_seed_of_a_repeated_run_says_so_and_where_the_summary_is() -> None:
    from dspy_tui.engine.report import build_report, render_markdown

    data = {"session": {"id": "s1", "seed": 2, "config": {"repeat_group": "g123"}}, "models": []}
    md = render_markdown(build_report(data))
    assert "one seed of repeated run g123" in md and "repeats-g123.json" in md
    assert "repeated run" not in render_markdown(
        build_report({"session": {"id": "s2", "seed": 0}, "models": []})
    )
