"""The session report: rankings, recommendations and paired comparisons, as Markdown, JSON and HTML.

Pure functions over a plain dict, so the report can be rebuilt from the
database at any time and tested without running a session. Input contract
(the session layer builds it from the DB; unknown extra keys are carried along):

    data = {
      "session": {"id", "name", "status", "task", "created_at" (epoch seconds or text),
                  "seed", "budget_usd" (None: no cap), "config": {...}, "versions": {...}},
      "models": [{
        "model": "provider/model", "status": "done|failed|stopped|...", "error": str | None,
        "offline": bool,            # the built-in simulated model: scores, costs, latency are not real
        "priced": bool,             # False: no price known, cost_usd is not a real total
        "baseline_score": float | None, "best_dev_score": float | None,
        "test_score": float | None, "test_ci": [lo, hi] | None,
        "test_scores": [float, ...], "test_ids": [str, ...],   # per test example, same order
        "cost_usd": float, "calls": int, "cache_hits": int,
        "errors": int, "cancelled": int,  # failed calls; calls the user's stop cut off (not errors)
        "tokens_in": int, "tokens_out": int,
        "latency_p50_ms": float | None, "latency_p95_ms": float | None,
        "cost_per_correct": float | None,
        "one_off_cost_usd": float | None,  # cost_usd minus the benchmark's: the optimization spend
        "price": str,                 # where its price comes from: "list 2026-11", "litellm 1.x.y", "config", ...
        "cost_by_phase": {phase: float},  # baseline, optimization, cross_model, benchmark (its own calls)
        "rounds": [{"round": int, "dev_score": float, "best_dev_score": float, "cost_usd": float}],
        "transfer": {"source_model": str, "before": float, "after": float, "kept": bool} | None,
        "program_path": str | None,
        "outcomes": {phase: {"examples", "answered", "errored", "unparsed"}},  # the session's own scoring
        "unparsed": int, "degraded": str | None,  # why too many examples errored, if they did
      }, ...],
    }
    (`session` may also hold "judge_cost_by_phase": {judge model: {"judge": float}}, the llm_judge's
    calls, apart from every model's cost.)

`build_report` adds "rankings", "recommendations", "pairwise" and "totals";
the renderers read only what `build_report` returns. Secrets never reach a
report: the whole input goes through `storage.secrets.scrub` first. Unpriced
costs render as "unpriced" and offline ones as "offline/simulated", never as
$0, so nobody mistakes a missing price for a free model.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

from dspy_tui.storage.secrets import scrub

from .evaluation import split_of
from .metrics import converged_share, metric_rows
from .stats import bootstrap_ci, improvement_rate, paired_bootstrap
from .strict_json import strict_json
from .usd import format_usd

OFFLINE = "offline/simulated"
UNPRICED = "unpriced"
_DASH = "—"


# --------------------------------------------------------------------------- building


def build_report(data: Mapping[str, Any]) -> dict[str, Any]:
    """The report as one JSON-ready dict: the scrubbed input plus the conclusions drawn from it."""
    clean: dict[str, Any] = scrub(dict(data))
    session: dict[str, Any] = dict(clean.get("session") or {})
    seed: int = session["seed"] if isinstance(session.get("seed"), int) else 0
    models = [_complete_model(dict(m), seed) for m in clean.get("models") or []]
    pairwise = _pairwise(models, seed)
    return {
        "session": session,
        "models": models,
        "rankings": _rankings(models),
        "recommendations": _recommendations(models, pairwise),
        "pairwise": pairwise,
        "totals": _totals(models),
    }


def _complete_model(model: dict[str, Any], seed: int) -> dict[str, Any]:
    """Fill what can be derived (test CI, cost per correct answer) when the caller left it out."""
    model.setdefault("offline", False)
    model.setdefault("priced", not model["offline"])
    scores = model.get("test_scores") or []
    if model.get("test_ci") is None and scores and model.get("test_score") is not None:
        ci = bootstrap_ci(scores, seed=seed)
        model["test_ci"] = list(ci) if ci else None
    elif model.get("test_ci") is not None:
        model["test_ci"] = list(model["test_ci"])
    score = model.get("test_score")
    if model.get("cost_per_correct") is None and scores and score and model.get("cost_usd") is not None:
        if model["offline"]:
            model["cost_per_correct"] = 0.0
        elif model["priced"]:
            model["cost_per_correct"] = model["cost_usd"] / (score * len(scores))
    return model


def _rankings(models: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Models with a test score, best first; equal scores share a rank (1, 2, 2, 4)."""
    scored = sorted((m for m in models if m.get("test_score") is not None), key=lambda m: -m["test_score"])
    ranks: list[dict[str, Any]] = []
    for i, m in enumerate(scored):
        rank = ranks[-1]["rank"] if ranks and ranks[-1]["test_score"] == m["test_score"] else i + 1
        ranks.append(
            {
                "rank": rank,
                "model": m["model"],
                "test_score": m["test_score"],
                "test_ci": m.get("test_ci"),
                "status": m.get("status"),
                "offline": m["offline"],
            }
        )
    return ranks


def _aligned_scores(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[list[float], list[float]] | None:
    """Both models' scores in one example order, or None when they were not tested on the same examples."""
    ids_a, ids_b = list(a.get("test_ids") or []), list(b.get("test_ids") or [])
    scores_a, scores_b = list(a["test_scores"]), list(b["test_scores"])
    if len(ids_a) != len(scores_a) or len(ids_b) != len(scores_b):
        return None
    if ids_a == ids_b:
        return scores_a, scores_b
    if len(set(ids_a)) != len(ids_a) or set(ids_a) != set(ids_b) or len(ids_a) != len(ids_b):
        return None
    by_id = dict(zip(ids_b, scores_b, strict=True))
    return scores_a, [by_id[i] for i in ids_a]


def _pairwise(models: Sequence[Mapping[str, Any]], seed: int) -> list[dict[str, Any]]:
    """A paired bootstrap for every two models tested on the same examples, higher mean first."""
    tested = [m for m in models if m.get("test_scores")]
    out: list[dict[str, Any]] = []
    for x, y in combinations(tested, 2):
        aligned = _aligned_scores(x, y)
        if aligned is None:
            out.append(
                {
                    "a": x["model"],
                    "b": y["model"],
                    "comparable": False,
                    "reason": "tested on different examples",
                }
            )
            continue
        sx, sy = aligned
        if sum(sy) > sum(sx):
            x, y, sx, sy = y, x, sy, sx
        result = paired_bootstrap(sx, sy, seed=seed)
        out.append(
            {
                "a": x["model"],
                "b": y["model"],
                "comparable": True,
                "n": result.n,
                "mean_diff": result.mean_diff,
                "ci": list(result.ci),
                "p_value": result.p_value,
                "significant": result.significant,
            }
        )
    return out


def _recommendations(
    models: Sequence[Mapping[str, Any]], pairwise: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, str] | None]:
    tested = [m for m in models if m.get("test_score") is not None]
    return {
        "best_quality": _best_quality(tested, pairwise),
        "best_value": _best_value(tested, models),
        "fastest": _fastest(tested),
    }


def _best_quality(
    tested: Sequence[Mapping[str, Any]], pairwise: Sequence[Mapping[str, Any]]
) -> dict[str, str] | None:
    if not tested:
        return None
    ordered = sorted(tested, key=lambda m: -m["test_score"])
    best = ordered[0]
    reason = f"Highest test score, {_score(best['test_score'])}"
    if best.get("test_ci"):
        reason += f" (95% CI {_ci(best['test_ci'])})"
    if len(ordered) > 1:
        runner = ordered[1]
        pair = next((p for p in pairwise if {p["a"], p["b"]} == {best["model"], runner["model"]}), None)
        gap = best["test_score"] - runner["test_score"]
        reason += f", ahead of {runner['model']} by {gap:.3f}" if gap else f", tied with {runner['model']}"
        if pair is not None and not pair["comparable"]:
            reason += ", which was tested on other examples"
        elif pair is not None:
            verdict = "a significant" if pair["significant"] else "not a significant"
            reason += f", {verdict} difference (p {_p(pair['p_value'])})"
    if best["offline"]:
        reason += "; this is the offline simulated model, not a real provider"
    return {"model": best["model"], "reason": reason + "."}


def _best_value(
    tested: Sequence[Mapping[str, Any]], models: Sequence[Mapping[str, Any]]
) -> dict[str, str] | None:
    candidates = [
        m
        for m in tested
        if m["test_score"] > 0 and m.get("cost_per_correct") is not None and (m["offline"] or m["priced"])
    ]
    if not candidates:
        return None
    best = min(candidates, key=lambda m: (m["cost_per_correct"], -m["test_score"]))
    if best["offline"]:
        reason = (
            "Lowest cost per correct answer, $0, but only because it is the offline simulated model: "
            "no real price, so this says nothing about a paid provider"
        )
    else:
        reason = (
            f"Lowest cost per correct answer, {format_usd(best['cost_per_correct'])}, "
            f"at a test score of {_score(best['test_score'])}"
        )
    unpriced = [m["model"] for m in models if not m["priced"] and not m["offline"]]
    if unpriced:
        reason += f" (unpriced models left out: {', '.join(unpriced)})"
    return {"model": best["model"], "reason": reason + "."}


def _fastest(tested: Sequence[Mapping[str, Any]]) -> dict[str, str] | None:
    candidates = [m for m in tested if m.get("latency_p50_ms") is not None]
    if not candidates:
        return None
    best = min(candidates, key=lambda m: m["latency_p50_ms"])
    reason = f"Lowest median latency, {best['latency_p50_ms']:.0f} ms"
    if best.get("latency_p95_ms") is not None:
        reason += f" (p95 {best['latency_p95_ms']:.0f} ms)"
    if best["offline"]:
        reason += ", simulated by the offline model, not a real provider's latency"
    return {"model": best["model"], "reason": reason + "."}


def _totals(models: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    priced = [m for m in models if m["priced"] and not m["offline"]]
    return {
        "cost_usd": math.fsum(m.get("cost_usd") or 0.0 for m in priced),
        "unpriced_models": [m["model"] for m in models if not m["priced"] and not m["offline"]],
        "offline_models": [m["model"] for m in models if m["offline"]],
        "calls": sum(m.get("calls") or 0 for m in models),
        "tokens_in": sum(m.get("tokens_in") or 0 for m in models),
        "tokens_out": sum(m.get("tokens_out") or 0 for m in models),
    }


# --------------------------------------------------------------------------- formatting


def _score(x: float | None) -> str:
    return _DASH if x is None else f"{x:.3f}"


def _ci(ci: Sequence[float] | None) -> str:
    return _DASH if not ci else f"{ci[0]:.3f}–{ci[1]:.3f}"


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def _cost(model: Mapping[str, Any], usd: float | None) -> str:
    """Never $0 for a model whose price is unknown or simulated."""
    if model["offline"]:
        return OFFLINE
    if not model["priced"]:
        return UNPRICED
    return _DASH if usd is None else format_usd(usd)


def _latency(model: Mapping[str, Any]) -> str:
    p50, p95 = model.get("latency_p50_ms"), model.get("latency_p95_ms")
    if p50 is None and p95 is None:
        return _DASH
    return f"{_DASH if p50 is None else f'{p50:.0f}'} / {_DASH if p95 is None else f'{p95:.0f}'} ms"


def _errors(model: Mapping[str, Any]) -> str:
    """Failed calls, with those the user's stop cancelled apart (they are no error: a resume sent them again)."""
    cancelled = model.get("cancelled") or 0
    return f"{model.get('errors') or 0}" + (f" ({cancelled} cancelled)" if cancelled else "")


def _when(created_at: Any) -> str:
    if isinstance(created_at, int | float):
        return datetime.fromtimestamp(created_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return _DASH if created_at is None else str(created_at)


def _text(value: Any) -> str:
    return _DASH if value is None or value == "" else str(value)


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class _Facts:
    items: list[tuple[str, str]]


@dataclass(frozen=True)
class _Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class _Para:
    text: str


@dataclass(frozen=True)
class _Bullets:
    items: list[str]


@dataclass(frozen=True)
class _Code:
    lang: str
    text: str


_Block = _Facts | _Table | _Para | _Bullets | _Code


def _title(report: Mapping[str, Any]) -> str:
    return f"dspy-tui report: {_text(report['session'].get('name') or report['session'].get('id'))}"


def _sections(report: Mapping[str, Any]) -> list[tuple[str, list[_Block]]]:
    """Every section once, as plain text blocks, so Markdown and HTML cannot drift apart."""
    return [
        ("Session", [_session_facts(report)]),
        ("Results", _results(report)),
        ("Cost", _costs(report)),
        ("Recommendations", [_recommendation_list(report)]),
        ("Metrics", _metrics(report)),
        ("Optimization rounds", _rounds(report)),
        ("Cross-model transfers", [_transfers(report)]),
        ("Pairwise comparisons", _pairwise_blocks(report)),
        ("Optimized programs", [_programs(report)]),
        (
            "Configuration",
            [
                _Code(
                    "json",
                    json.dumps(report["session"].get("config") or {}, indent=2, sort_keys=True, default=str),
                )
            ],
        ),
        ("Reproducibility", [_reproducibility(report)]),
    ]


def _session_facts(report: Mapping[str, Any]) -> _Facts:
    s, totals = report["session"], report["totals"]
    priced = len(report["models"]) - len(totals["unpriced_models"]) - len(totals["offline_models"])
    spent = format_usd(totals["cost_usd"]) if priced else "nothing priced"
    if totals["unpriced_models"]:
        spent += f" (not counting unpriced: {', '.join(totals['unpriced_models'])})"
    budget = s.get("budget_usd")
    return _Facts(
        [
            ("Session", _text(s.get("id"))),
            ("Name", _text(s.get("name"))),
            ("Status", _text(s.get("status"))),
            ("Task", _text(s.get("task"))),
            ("Created", _when(s.get("created_at"))),
            ("Seed", _text(s.get("seed")) + _repeat_note(s)),
            ("Budget", "no cap" if budget is None else format_usd(budget)),
            ("Spent", spent),
            ("Models", str(len(report["models"]))),
            ("Calls", f"{totals['calls']:,}"),
            ("Tokens in / out", f"{totals['tokens_in']:,} / {totals['tokens_out']:,}"),
        ]
    )


def _repeat_note(session: Mapping[str, Any]) -> str:
    group = (session.get("config") or {}).get("repeat_group")
    if not group:
        return ""
    return f" (one seed of repeated run {group}; mean ± CI over its seeds: exports/repeats-{group}.json)"


def _results(report: Mapping[str, Any]) -> list[_Block]:
    rank_of = {r["model"]: r["rank"] for r in report["rankings"]}
    ordered = sorted(report["models"], key=lambda m: rank_of.get(m["model"], math.inf))
    rows = []
    for m in ordered:
        test = _score(m.get("test_score"))
        if m.get("test_ci"):
            test += f" ({_ci(m['test_ci'])})"
        status = _text(m.get("status")) + (", degraded" if m.get("degraded") else "")
        status += f" ({OFFLINE})" if m["offline"] else ""
        rows.append(
            [
                str(rank_of.get(m["model"], _DASH)),
                m["model"],
                status,
                _score(m.get("baseline_score")),
                _score(m.get("best_dev_score")),
                test,
                _cost(m, m.get("cost_usd")),
                _cost(m, m.get("cost_per_correct")),
                _cost(m, m.get("one_off_cost_usd")),
                _latency(m),
                f"{m.get('tokens_in') or 0:,} / {m.get('tokens_out') or 0:,}",
                _errors(m),
            ]
        )
    blocks: list[_Block] = [
        _Table(
            [
                "#",
                "model",
                "status",
                "baseline dev",
                "best dev",
                "test (95% CI)",
                "cost",
                "cost/correct",
                "one-off",
                "p50/p95 latency",
                "tokens in/out",
                "errors",
            ],
            rows,
        )
    ]
    if report["totals"]["offline_models"]:
        blocks.append(
            _Para(
                f"{OFFLINE}: the built-in offline model; its scores, costs and latencies are "
                "simulated and do not describe a real provider."
            )
        )
    if report["totals"]["unpriced_models"]:
        blocks.append(_Para(f"{UNPRICED}: no price is known for this model, so its cost is not counted."))
    blocks.extend(_outcome_blocks(ordered))
    failures = [f"{m['model']}: {_text(m.get('error'))[:300]}" for m in ordered if m.get("error")]
    if failures:
        blocks.append(_Para("Errors:"))
        blocks.append(_Bullets(failures))
    return blocks


COST_PHASES = ("baseline", "optimization", "cross_model", "benchmark")


def _costs(report: Mapping[str, Any]) -> list[_Block]:
    """Where each model's money went, phase by phase, and what its price is and where it comes from."""
    rows = []
    for m in report["models"]:
        phases = m.get("cost_by_phase") or {}
        rows.append(
            [
                m["model"],
                _text(m.get("price")),
                *(_cost(m, phases.get(p, 0.0) if phases else None) for p in COST_PHASES),
                _cost(m, m.get("one_off_cost_usd")),
                _cost(m, m.get("cost_per_correct")),
            ]
        )
    blocks: list[_Block] = [
        _Table(["model", "price", *COST_PHASES, "one-off", "cost/correct"], rows),
        _Para(
            "cost/correct is the benchmark's inference cost divided by the correct test answers: what "
            "using the optimized program costs per right answer. one-off is everything else the model "
            "spent (baseline, optimization, cross-model trials), paid once to get the program. price "
            "says where the price comes from: list YYYY-MM (dspy-tui's table, checked that month), "
            "litellm (LiteLLM's bundled list, by version), config (the session's own)."
        ),
    ]
    judges = report["session"].get("judge_cost_by_phase") or {}
    for judge, phases in judges.items():
        blocks.append(
            _Para(
                f"The judge {judge} cost {format_usd(sum(phases.values()))}, not counted in any model's cost."
            )
        )
    return blocks


def _outcome_blocks(models: Sequence[Mapping[str, Any]]) -> list[_Block]:
    """Errored examples, unparsed answers and degraded models, each said once with what it means."""
    blocks: list[_Block] = []
    errored, unparsed = [], []
    for m in models:
        outcomes = m.get("outcomes") or {}
        phases = [
            f"{phase}: {o['errored']} of {o['examples']} {split_of(phase)} examples errored"
            for phase, o in outcomes.items()
            if o.get("errored")
        ]
        if phases:
            errored.append(f"{m['model']}: " + "; ".join(phases))
        if m.get("unparsed"):
            total = sum(o.get("answered", 0) for o in outcomes.values())
            unparsed.append(f"{m['model']}: {m['unparsed']} of {total} scored answers could not be parsed")
    degraded = [f"{m['model']}: {m['degraded']}" for m in models if m.get("degraded")]
    titled = (
        (
            "Errored examples (the call failed after retries): left out of the score, which is over the "
            "answered examples.",
            errored,
        ),
        ("Unparsed answers (no DSPy adapter could read them): scored as wrong.", unparsed),
        ("Degraded models (too many errored examples; their scores rest on fewer examples):", degraded),
    )
    for title, items in titled:
        if items:
            blocks += [_Para(title), _Bullets(items)]
    return blocks


def _recommendation_list(report: Mapping[str, Any]) -> _Bullets | _Para:
    labels = {"best_quality": "Best quality", "best_value": "Best value", "fastest": "Fastest"}
    items = [
        f"{label}: {rec['model']}. {rec['reason']}"
        for key, label in labels.items()
        if (rec := report["recommendations"].get(key))
    ]
    return (
        _Bullets(items)
        if items
        else _Para("No model finished the test benchmark, so there is nothing to recommend.")
    )


def _rounds(report: Mapping[str, Any]) -> list[_Block]:
    blocks: list[_Block] = []
    for m in report["models"]:
        rounds = m.get("rounds") or []
        if not rounds:
            continue
        gain = improvement_rate(m.get("baseline_score"), m.get("best_dev_score"))
        head = (
            f"{m['model']}: baseline dev {_score(m.get('baseline_score'))}, "
            f"best dev {_score(m.get('best_dev_score'))}"
        )
        blocks.append(_Para(head + ("" if gain is None else f" ({gain:+.1%})")))
        blocks.append(
            _Table(
                ["round", "dev", "best dev", "cost"],
                [
                    [
                        str(r.get("round")),
                        _score(r.get("dev_score")),
                        _score(r.get("best_dev_score")),
                        _cost(m, r.get("cost_usd")),
                    ]
                    for r in rounds
                ],
            )
        )
    return blocks or [_Para("No optimization rounds were recorded.")]


def _metrics(report: Mapping[str, Any]) -> list[_Block]:
    """The 14 metrics of docs/metrics.md, one row each, one column per model; "n/a (why)" where missing."""
    models = [m for m in report["models"] if m.get("metrics")]
    if not models:
        return [_Para("No model reached the benchmark, so there are no metrics.")]
    columns = [metric_rows(m["metrics"]) for m in models]
    rows = [[label, *(col[i][1] for col in columns)] for i, (label, _) in enumerate(columns[0])]
    share = converged_share([m.get("status") or "" for m in report["models"]])
    blocks: list[_Block] = [_Table(["metric", *(m["model"] for m in models)], rows)]
    if share is not None:
        blocks.append(
            _Para(
                f"Models converged (stopped by the convergence rule): {share:.0%}. "
                "Definitions: docs/metrics.md."
            )
        )
    if any(m["offline"] for m in models):
        blocks.append(
            _Para(f"{OFFLINE}: latency, throughput and judge scores of the offline model are simulated.")
        )
    return blocks


def _transfers(report: Mapping[str, Any]) -> _Table | _Para:
    rows = [
        [
            m["model"],
            _text(t.get("source_model")),
            _score(t.get("before")),
            _score(t.get("after")),
            "yes" if t.get("kept") else "no",
        ]
        for m in report["models"]
        if (t := m.get("transfer"))
    ]
    if not rows:
        return _Para("No cross-model transfers were tried.")
    return _Table(["model", "from", "dev before", "dev after", "kept"], rows)


def _pairwise_blocks(report: Mapping[str, Any]) -> list[_Block]:
    pairs = report["pairwise"]
    rows = [
        [
            p["a"],
            p["b"],
            str(p["n"]),
            f"{p['mean_diff']:+.3f}",
            f"{p['ci'][0]:+.3f} to {p['ci'][1]:+.3f}",
            _p(p["p_value"]).removeprefix("= "),
            "yes" if p["significant"] else "no",
        ]
        for p in pairs
        if p["comparable"]
    ]
    blocks: list[_Block] = []
    if rows:
        blocks.append(
            _Para(
                "Paired bootstrap over the shared test examples (2000 resamples, 95% CI); "
                "significant means the interval excludes 0."
            )
        )
        blocks.append(_Table(["A", "B", "n", "mean diff (A − B)", "95% CI", "p", "significant"], rows))
    apart = [f"{p['a']} vs {p['b']}: not comparable, {p['reason']}" for p in pairs if not p["comparable"]]
    if apart:
        blocks.append(_Bullets(apart))
    return blocks or [_Para("Fewer than two models have test scores, so there is nothing to compare.")]


def _programs(report: Mapping[str, Any]) -> _Bullets | _Para:
    items = [f"{m['model']}: {m['program_path']}" for m in report["models"] if m.get("program_path")]
    return _Bullets(items) if items else _Para("No optimized program was saved.")


def _reproducibility(report: Mapping[str, Any]) -> _Facts:
    s = report["session"]
    versions = s.get("versions") or {}
    return _Facts(
        [("Seed", _text(s.get("seed")))] + [(str(k), _text(v)) for k, v in sorted(versions.items())]
    )


# --------------------------------------------------------------------------- renderers


_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|])")


def _md(text: str) -> str:
    """Backslash-escape what Markdown would read as markup, HTML, or a table cell border."""
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def _md_block(block: _Block) -> str:
    if isinstance(block, _Facts):
        return "\n".join(f"- **{_md(k)}**: {_md(v)}" for k, v in block.items)
    if isinstance(block, _Table):
        lines = [
            "| " + " | ".join(_md(h) for h in block.headers) + " |",
            "|" + "|".join("---" for _ in block.headers) + "|",
        ]
        lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in block.rows]
        return "\n".join(lines)
    if isinstance(block, _Bullets):
        return "\n".join(f"- {_md(item)}" for item in block.items)
    if isinstance(block, _Code):
        longest = max((len(run) for run in re.findall(r"`+", block.text)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"{fence}{block.lang}\n{block.text}\n{fence}"
    return _md(block.text)


def render_markdown(report: Mapping[str, Any]) -> str:
    parts = [f"# {_md(_title(report))}"]
    for title, blocks in _sections(report):
        parts.append(f"## {_md(title)}")
        parts.extend(_md_block(b) for b in blocks)
    return "\n\n".join(parts) + "\n"


def render_cost_markdown(report: Mapping[str, Any]) -> str:
    """The report's Cost section alone (the detail screen shows it with the metrics)."""
    return "\n\n".join(_md_block(b) for b in _costs(report)) + "\n"


def render_json(report: Mapping[str, Any]) -> str:
    """Stable output: the same report always serialises to the same bytes. Strict JSON: an inf or NaN
    (stored by an older version) is written as null, never as `Infinity`/`NaN`."""
    return strict_json(report, sort_keys=True, indent=2, ensure_ascii=False, default=str) + "\n"


_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1d2125; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; margin: .5rem 0; } th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; }
th { background: #f3f5f7; text-align: left; } td { font-variant-numeric: tabular-nums; }
dl { display: grid; grid-template-columns: max-content auto; gap: .15rem 1rem; } dt { font-weight: 600; }
pre { background: #f6f8fa; padding: .75rem; overflow-x: auto; }
"""


def _html_block(block: _Block) -> str:
    e = html.escape
    if isinstance(block, _Facts):
        return "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in block.items) + "</dl>"
    if isinstance(block, _Table):
        head = "".join(f"<th>{e(h)}</th>" for h in block.headers)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in block.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, _Bullets):
        return "<ul>" + "".join(f"<li>{e(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, _Code):
        return f'<pre><code class="language-{e(block.lang)}">{e(block.text)}</code></pre>'
    return f"<p>{e(block.text)}</p>"


def render_html(report: Mapping[str, Any]) -> str:
    """One self-contained page (inline CSS, no scripts, nothing fetched); every value escaped."""
    title = html.escape(_title(report))
    body = [f"<h1>{title}</h1>"]
    for heading, blocks in _sections(report):
        body.append(f"<section><h2>{html.escape(heading)}</h2>")
        body.extend(_html_block(b) for b in blocks)
        body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
