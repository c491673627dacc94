"""Small, honest statistics for scores, latencies and generated text.

Standard library only, so the engine stays light. Every resampling function
takes a seed and is deterministic for it: a report rebuilt from the same
session shows the same intervals. A point score without its uncertainty
invites over-reading a 2-point gap on 50 examples, hence the bootstrap.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (q in 0..100) with linear interpolation between ranks; None when empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"a percentile must be within 0..100, got {q!r}")
    ordered = sorted(values)
    if not ordered:
        return None
    return _sorted_percentile(ordered, q)


def _sorted_percentile(ordered: Sequence[float], q: float) -> float:
    """Same as `percentile` on an already sorted, non-empty sequence (no copy)."""
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def _resampled_means(values: Sequence[float], resamples: int, seed: int) -> list[float]:
    """Sorted means of `resamples` bootstrap samples (with replacement, same size as `values`)."""
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    population = [float(v) for v in values]
    n = len(population)
    choices = random.Random(seed).choices
    return sorted(math.fsum(choices(population, k=n)) / n for _ in range(resamples))


def _interval(ordered_means: Sequence[float], confidence: float) -> tuple[float, float]:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    tail = (1 - confidence) / 2 * 100
    return _sorted_percentile(ordered_means, tail), _sorted_percentile(ordered_means, 100 - tail)


def bootstrap_ci(
    scores: Sequence[float], *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile-bootstrap confidence interval of the mean score; None when there are no scores."""
    if not scores:
        return None
    return _interval(_resampled_means(scores, resamples, seed), confidence)


@dataclass(frozen=True)
class PairedResult:
    """Two models scored on the same examples: is the gap real?"""

    mean_diff: float  # mean(a) - mean(b)
    ci: tuple[float, float]  # 95% bootstrap interval of mean_diff
    p_value: float  # two-sided; 0.0 means no resample crossed 0 (read it as p < 1/resamples)
    significant: bool  # the interval excludes 0
    n: int


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, resamples: int = 2000, seed: int = 0
) -> PairedResult:
    """Paired bootstrap of mean(a) - mean(b): resampling examples keeps each pair together.

    Resampling the per-example differences is the same as resampling example
    indices and taking both scores, and needs half the work.
    """
    if len(a) != len(b):
        raise ValueError(f"paired scores need equal lengths, got {len(a)} and {len(b)}")
    if not a:
        raise ValueError("paired scores need at least one example")
    diffs = [float(x) - float(y) for x, y in zip(a, b, strict=True)]
    mean_diff = math.fsum(diffs) / len(diffs)
    means = _resampled_means(diffs, resamples, seed)
    lo, hi = _interval(means, 0.95)
    if mean_diff > 0:
        crossing = sum(1 for m in means if m <= 0)
    elif mean_diff < 0:
        crossing = sum(1 for m in means if m >= 0)
    else:
        crossing = resamples  # no observed gap: nothing to reject
    p_value = min(1.0, 2 * crossing / resamples)
    return PairedResult(
        mean_diff=mean_diff, ci=(lo, hi), p_value=p_value, significant=lo > 0 or hi < 0, n=len(diffs)
    )


def distinct_n(texts: Iterable[str], n: int = 2) -> float | None:
    """Distinct n-grams over all n-grams (whitespace tokens, never across texts); None without n-grams."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        tokens = text.split()
        for i in range(len(tokens) - n + 1):
            seen.add(tuple(tokens[i : i + n]))
            total += 1
    return len(seen) / total if total else None


def improvement_rate(baseline: float | None, final: float | None) -> float | None:
    """Relative gain over the baseline, e.g. 0.25 for 0.4 -> 0.5; None when undefined.

    Divides by |baseline| so that a rise always reads as a positive rate.
    """
    if baseline is None or final is None or baseline == 0:
        return None
    return (final - baseline) / abs(baseline)
