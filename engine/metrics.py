"""The metrics a session reports per model, each defined here and computed from what was measured.

Quality
  accuracy     mean task-metric score on the test split (0..1)
  diversity    distinct-2 over the model's test outputs: distinct word pairs / all word pairs
  coherence, relevance, creativity
               only from a judge model when the task configures one (`llm_judge`); otherwise
               null: dspy-tui never invents them
  overall      weighted mean of the quality metrics that exist (weights in QUALITY_WEIGHTS)
Performance
  latency p50/p95 of the benchmark phase's calls (ms); throughput = benchmark calls / benchmark
  seconds; tokens in/out and cost over the whole session; process memory = peak resident set of
  the dspy-tui process (shared by all models, in MB); error rate = failed calls / calls sent
Training
  converged (stopped by the convergence rule) and the round; improvement rate =
  (best dev - baseline dev) / baseline dev; at session level, convergence rate = converged
  models / models
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Sequence
from typing import Any

from .stats import distinct_n, improvement_rate

QUALITY_WEIGHTS = {"accuracy": 1.0, "coherence": 0.5, "relevance": 0.5, "creativity": 0.25, "diversity": 0.25}


def overall(quality: dict[str, float | None]) -> float | None:
    present = {k: v for k, v in quality.items() if v is not None and k in QUALITY_WEIGHTS}
    if not present:
        return None
    weight = sum(QUALITY_WEIGHTS[k] for k in present)
    return sum(QUALITY_WEIGHTS[k] * v for k, v in present.items()) / weight


def peak_memory_mb() -> float:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def model_metrics(
    *,
    test_scores: Sequence[float],
    outputs: Sequence[str],
    judged: dict[str, float | None] | None,
    totals: dict[str, Any],
    benchmark: dict[str, Any],
    benchmark_seconds: float | None,
    baseline: float | None,
    best_dev: float | None,
    converged_round: int | None,
) -> dict[str, Any]:
    quality: dict[str, float | None] = {
        "accuracy": sum(test_scores) / len(test_scores) if test_scores else None,
        "diversity": distinct_n(outputs, 2),
        "coherence": None, "relevance": None, "creativity": None,
        **(judged or {}),
    }
    quality["overall"] = overall(quality)
    sent = totals.get("calls") or 0
    bench_calls = (benchmark.get("calls") or 0) + (benchmark.get("cache_hits") or 0)
    return {
        "quality": quality,
        "performance": {
            "latency_p50_ms": benchmark.get("latency_p50_ms"),
            "latency_p95_ms": benchmark.get("latency_p95_ms"),
            "throughput_calls_per_s": bench_calls / benchmark_seconds if benchmark_seconds else None,
            "tokens_in": totals.get("tokens_in"), "tokens_out": totals.get("tokens_out"),
            "cost_usd": totals.get("cost_usd"),
            "process_memory_mb": peak_memory_mb(),
            "error_rate": (totals.get("errors") or 0) / sent if sent else None,
        },
        "training": {
            "converged": converged_round is not None,
            "converged_round": converged_round,
            "improvement_rate": improvement_rate(baseline, best_dev),
        },
    }
