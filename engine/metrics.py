"""The 14 metrics a session reports per model, computed from what was measured (docs/metrics.md).

Each metric is stored as a value or as None with the reason it could not be
computed ("n/a: ..."), so every front end (report, `sessions show --json`, the
Detail screen) shows the same numbers and the same reasons. `metric_rows` is
the one place that turns a stored record into labelled text.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .stats import distinct_n, improvement_rate
from .usd import format_usd

# Weights of the overall score: a weighted mean of the quality metrics that exist.
QUALITY_WEIGHTS = {"accuracy": 1.0, "coherence": 0.5, "relevance": 0.5, "creativity": 0.25, "diversity": 0.25}
CONVERGED_SHARE = 0.95  # a model "has converged" at the round its gain reaches 95% of its final gain
NO_JUDGE = "no judge model configured; set [task] judge = { model = ... }"
SIMULATED = ("latency", "throughput")  # what the offline model only simulates


@dataclass(frozen=True)
class MetricDef:
    """One of the 14 metrics: its keys in the stored record, its label and how to show it."""

    name: str
    label: str
    keys: tuple[str, ...]
    fmt: str  # a format for one value: "score", "pct", "ms", "int", "usd", "mb", "rate"


METRICS: tuple[MetricDef, ...] = (
    MetricDef("overall", "overall score", ("overall",), "score"),
    MetricDef("accuracy", "accuracy (task metric, test)", ("accuracy",), "score"),
    MetricDef("coherence", "coherence (judge)", ("coherence",), "score"),
    MetricDef("relevance", "relevance (judge)", ("relevance",), "score"),
    MetricDef("creativity", "creativity (judge)", ("creativity",), "score"),
    MetricDef("diversity", "diversity (distinct-2)", ("diversity",), "score"),
    MetricDef(
        "latency", "latency p50 / p95 (provider time, test)", ("latency_p50_ms", "latency_p95_ms"), "ms"
    ),
    MetricDef("throughput", "throughput (test calls per second)", ("throughput_calls_per_s",), "rate"),
    MetricDef(
        "tokens", "tokens in / out / provider-cached in", ("tokens_in", "tokens_out", "tokens_cached"), "int"
    ),
    MetricDef("cost", "cost", ("cost_usd",), "usd"),
    MetricDef("memory", "process peak RSS during this model's phases", ("memory_peak_mb",), "mb"),
    MetricDef("error_rate", "error rate (failed calls / calls sent)", ("error_rate",), "pct"),
    MetricDef(
        "convergence_rate",
        "convergence rate (rounds to 95% of final gain / rounds run)",
        ("convergence_rate",),
        "score",
    ),
    MetricDef(
        "improvement_rate",
        "improvement rate ((best dev - baseline) / baseline)",
        ("improvement_rate",),
        "signed_pct",
    ),
)


def overall(quality: Mapping[str, float | None]) -> float | None:
    """Weighted mean of the quality metrics that exist (QUALITY_WEIGHTS); None when none does."""
    present = {k: v for k, v in quality.items() if v is not None and k in QUALITY_WEIGHTS}
    if not present:
        return None
    weight = sum(QUALITY_WEIGHTS[k] for k in present)
    return sum(QUALITY_WEIGHTS[k] * v for k, v in present.items()) / weight


def convergence(
    baseline: float | None, best_by_round: Sequence[float]
) -> tuple[int | None, float | None, str]:
    """(rounds to reach 95% of the final gain, that / rounds run, reason when n/a).

    `best_by_round` is the best dev score after each optimization round (1..R).
    """
    if not best_by_round:
        return None, None, "no optimization round ran"
    if baseline is None:
        return None, None, "no baseline score"
    final_gain = best_by_round[-1] - baseline
    if final_gain <= 0:
        return None, None, "no gain over the baseline, so nothing to converge to"
    reached = next(
        i for i, best in enumerate(best_by_round, 1) if best - baseline >= CONVERGED_SHARE * final_gain
    )
    return reached, reached / len(best_by_round), ""


class MemoryWatch:
    """Samples this process's resident set (RSS) so each model gets the peak seen during its phases.

    Python cannot attribute memory to a thread, so this is the whole process's peak
    while the model's phases ran (other models running at the same time count too).
    """

    INTERVAL_S = 0.25

    def __init__(self) -> None:
        self._samples: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> MemoryWatch:
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="dspy-tui-rss", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _loop(self) -> None:
        while not self._stop.wait(self.INTERVAL_S):
            self._sample()

    def _sample(self) -> None:
        mb = current_rss_mb()
        if mb is not None:
            with self._lock:
                self._samples.append((time.time(), mb))

    def peak_mb(self, since: float | None) -> float | None:
        """Highest RSS sampled since `since` (epoch seconds; None: since the watch started), or None."""
        self._sample()
        with self._lock:
            seen = [mb for ts, mb in self._samples if since is None or ts >= since - self.INTERVAL_S]
        return max(seen) if seen else None


def current_rss_mb() -> float | None:
    """This process's resident set now, from /proc (Linux); None where /proc is absent."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def peak_memory_mb() -> float:
    """Peak resident set size of this process since it started (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def model_metrics(
    *,
    test_scores: Sequence[float],
    outputs: Sequence[str],
    judged: Mapping[str, float | None] | None,
    totals: Mapping[str, Any],
    benchmark: Mapping[str, Any],
    benchmark_seconds: float | None,
    baseline: float | None,
    best_dev: float | None,
    best_by_round: Sequence[float],
    converged: bool,
    priced: bool,
    offline: bool,
    memory_mb: float | None,
) -> dict[str, Any]:
    """The stored record: {"values": {key: number | None}, "na": {key: reason}} for one model."""
    values: dict[str, Any] = {}
    na: dict[str, str] = {}

    def put(key: str, value: Any, reason: str) -> None:
        values[key] = value
        if value is None:
            na[key] = reason

    put(
        "accuracy", sum(test_scores) / len(test_scores) if test_scores else None, "no test example was scored"
    )
    put("diversity", distinct_n(outputs, 2), "the test outputs have no word pairs")
    for aspect in ("coherence", "relevance", "creativity"):
        put(aspect, (judged or {}).get(aspect), NO_JUDGE if judged is None else "the judge rated no answer")
    put("overall", overall(values), "no quality metric exists")
    sent = int(totals.get("calls") or 0)
    bench_calls = int(benchmark.get("calls") or 0) + int(benchmark.get("cache_hits") or 0)
    no_calls = "every test call was answered from the cache" if bench_calls else "no test call was made"
    put("latency_p50_ms", benchmark.get("latency_p50_ms"), no_calls)
    put("latency_p95_ms", benchmark.get("latency_p95_ms"), no_calls)
    put(
        "throughput_calls_per_s",
        bench_calls / benchmark_seconds if benchmark_seconds and bench_calls else None,
        "no test call was made",
    )
    put("tokens_in", int(totals.get("tokens_in") or 0), "")
    put("tokens_out", int(totals.get("tokens_out") or 0), "")
    put("tokens_cached", int(totals.get("tokens_cached") or 0), "")
    values["simulated"] = offline  # its latency and throughput are simulated, not a provider's
    values["cache_hits"] = int(totals.get("cache_hits") or 0)
    values["calls"] = sent
    if offline:
        put("cost_usd", None, "offline/simulated model: no real cost")
    elif not priced:
        put("cost_usd", None, "unpriced: no price is known for this model")
    else:
        put("cost_usd", float(totals.get("cost_usd") or 0.0), "")
    put("memory_peak_mb", memory_mb, "RSS cannot be read on this platform (no /proc)")
    answered = sent - int(totals.get("cancelled") or 0)  # a call the user's stop cut off came to nothing
    put("error_rate", int(totals.get("errors") or 0) / answered if answered else None, "no call was sent")
    rounds_to, rate, why = convergence(baseline, best_by_round)
    put("convergence_rate", rate, why)
    values["rounds_to_95"] = rounds_to
    values["rounds_run"] = len(best_by_round)
    values["converged"] = converged  # stopped by the convergence rule (patience / target)
    put(
        "improvement_rate",
        improvement_rate(baseline, best_dev),
        "no baseline score" if baseline is None else "the baseline is 0, a relative gain is undefined",
    )
    return {"values": values, "na": na}


def converged_share(statuses: Sequence[str]) -> float | None:
    """The session-level convergence figure: models stopped by the convergence rule / models."""
    return sum(s == "converged" for s in statuses) / len(statuses) if statuses else None


def _legacy(record: Mapping[str, Any]) -> dict[str, Any]:
    """Records written before the 14-metric layout (quality/performance/training groups)."""
    flat: dict[str, Any] = {}
    for group in ("quality", "performance", "training"):
        flat.update(record.get(group) or {})
    return {"values": flat, "na": {}}


def normalise(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """A stored metrics record in the current layout ({} when the model never reached the test)."""
    if not record:
        return {"values": {}, "na": {}}
    return dict(record) if "values" in record else _legacy(record)


def _one(value: Any, fmt: str) -> str:
    if fmt == "score":
        return f"{value:.3f}"
    if fmt == "pct":
        return f"{value:.1%}"
    if fmt == "signed_pct":
        return f"{value:+.1%}"
    if fmt == "ms":
        return f"{value:.0f} ms"
    if fmt == "int":
        return f"{int(value):,}"
    if fmt == "usd":
        return format_usd(value)
    if fmt == "mb":
        return f"{value:.0f} MB"
    return f"{value:.1f}/s"


def metric_text(record: Mapping[str, Any] | None, metric: MetricDef) -> str:
    """One metric as text: its value(s), or "n/a (reason)"."""
    got = normalise(record)
    values, na = got["values"], got["na"]
    parts = [values.get(k) for k in metric.keys]
    if all(v is None for v in parts):
        reason = next((na[k] for k in metric.keys if na.get(k)), "not measured")
        return f"n/a ({reason})"
    text = " / ".join("n/a" if v is None else _one(v, metric.fmt) for v in parts)
    if metric.name == "convergence_rate":
        text += f" ({values.get('rounds_to_95')} of {values.get('rounds_run')} rounds)"
    if metric.name in SIMULATED and values.get("simulated"):
        text += " (offline/simulated)"
    return text


def metric_rows(record: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(label, text) for all 14 metrics, in the documented order: what every front end shows."""
    return [(m.label, metric_text(record, m)) for m in METRICS]
