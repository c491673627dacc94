"""Statistics used by the benchmark and the report: known values, coverage, determinism, speed."""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable

import pytest

from dspy_tui.engine.stats import (
    PairedResult,
    bootstrap_ci,
    distinct_n,
    improvement_rate,
    paired_bootstrap,
    percentile,
)


def _binary(rate: float, n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [1.0 if rng.random() < rate else 0.0 for _ in range(n)]


# ---- percentile


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2, 3, 4], 50, 2.5),
        ([1, 2, 3, 4], 0, 1.0),
        ([1, 2, 3, 4], 100, 4.0),
        ([1, 2, 3, 4], 95, 3.85),
        ([10, 20, 30, 40, 50], 25, 20.0),
        ([4, 1, 3, 2], 75, 3.25),  # unsorted input
        ([7], 99, 7.0),
    ],
)
def test_percentile_interpolates_linearly(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_matches_statistics_quantiles_inclusive() -> None:
    values = [random.Random(3).uniform(0, 1000) for _ in range(101)]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    for q in (5, 50, 95, 99):
        assert percentile(values, q) == pytest.approx(cuts[q - 1])


def test_percentile_of_nothing_is_none_and_q_is_checked() -> None:
    assert percentile([], 50) is None
    assert percentile(iter(()), 50) is None
    with pytest.raises(ValueError, match="0..100"):
        percentile([1.0], 101)


# ---- bootstrap_ci


def test_ci_contains_the_mean_and_narrows_with_more_data() -> None:
    small, large = _binary(0.7, 40, 1), _binary(0.7, 1000, 1)
    for scores in (small, large):
        ci = bootstrap_ci(scores)
        assert ci is not None
        lo, hi = ci
        assert lo <= statistics.fmean(scores) <= hi
        assert 0.0 <= lo < hi <= 1.0
    small_ci, large_ci = bootstrap_ci(small), bootstrap_ci(large)
    assert small_ci and large_ci
    assert large_ci[1] - large_ci[0] < small_ci[1] - small_ci[0]


def test_ci_width_is_plausible_for_a_proportion() -> None:
    scores = _binary(0.5, 400, 2)
    ci = bootstrap_ci(scores, resamples=4000)
    assert ci is not None
    normal_half_width = 1.96 * (0.25 / 400) ** 0.5  # ~0.049
    assert (ci[1] - ci[0]) / 2 == pytest.approx(normal_half_width, rel=0.15)


def test_higher_confidence_gives_a_wider_interval() -> None:
    scores = _binary(0.6, 200, 4)
    ci90, ci99 = bootstrap_ci(scores, confidence=0.90), bootstrap_ci(scores, confidence=0.99)
    assert ci90 and ci99
    assert ci99[0] <= ci90[0] and ci90[1] <= ci99[1]


def test_ci_edge_cases() -> None:
    assert bootstrap_ci([]) is None
    assert bootstrap_ci([0.8]) == (0.8, 0.8)
    assert bootstrap_ci([1.0] * 30) == (1.0, 1.0)
    with pytest.raises(ValueError):
        bootstrap_ci([1.0, 0.0], confidence=1.0)
    with pytest.raises(ValueError):
        bootstrap_ci([1.0, 0.0], resamples=0)


def test_ci_is_deterministic_for_a_seed() -> None:
    scores = _binary(0.55, 120, 5)
    assert bootstrap_ci(scores, seed=7) == bootstrap_ci(scores, seed=7)
    assert bootstrap_ci(scores, seed=7) != bootstrap_ci(scores, seed=8)


# ---- paired_bootstrap


def test_paired_bootstrap_detects_a_clear_difference() -> None:
    a, b = _binary(0.85, 300, 10), _binary(0.55, 300, 11)
    result = paired_bootstrap(a, b)
    assert isinstance(result, PairedResult)
    assert result.mean_diff == pytest.approx(statistics.fmean(a) - statistics.fmean(b))
    assert result.significant
    assert result.ci[0] > 0
    assert result.p_value < 0.01
    assert result.n == 300
    flipped = paired_bootstrap(b, a)
    assert flipped.mean_diff == pytest.approx(-result.mean_diff)
    assert flipped.significant and flipped.ci[1] < 0 and flipped.p_value < 0.01


def test_paired_bootstrap_does_not_invent_a_difference() -> None:
    # 200 examples: both right on 100, both wrong on 68, a alone right on 17, b alone on 15
    pairs = [(1.0, 1.0)] * 100 + [(0.0, 0.0)] * 68 + [(1.0, 0.0)] * 17 + [(0.0, 1.0)] * 15
    random.Random(21).shuffle(pairs)
    result = paired_bootstrap([x for x, _ in pairs], [y for _, y in pairs])
    assert result.mean_diff == pytest.approx(0.01)
    assert not result.significant
    assert result.ci[0] <= 0 <= result.ci[1]
    assert result.p_value > 0.05


def test_identical_scores_have_no_difference() -> None:
    scores = _binary(0.5, 50, 30)
    result = paired_bootstrap(scores, scores)
    assert result.mean_diff == 0
    assert result.ci == (0.0, 0.0)
    assert result.p_value == 1.0
    assert not result.significant


def test_pairing_matters() -> None:
    # Same per-model means, but b is always exactly a - 0.05: paired, the gap is certain.
    rng = random.Random(40)
    a = [rng.uniform(0.2, 1.0) for _ in range(60)]
    b = [x - 0.05 for x in a]
    result = paired_bootstrap(a, b)
    assert result.mean_diff == pytest.approx(0.05)
    assert result.significant
    assert result.ci[0] == pytest.approx(0.05) and result.ci[1] == pytest.approx(0.05)


def test_paired_bootstrap_checks_lengths_and_is_deterministic() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap([1.0, 0.0], [1.0])
    with pytest.raises(ValueError):
        paired_bootstrap([], [])
    a, b = _binary(0.6, 80, 50), _binary(0.5, 80, 51)
    assert paired_bootstrap(a, b, seed=3) == paired_bootstrap(a, b, seed=3)
    assert paired_bootstrap(a, b, seed=3).ci != paired_bootstrap(a, b, seed=4).ci


def _thread_seconds(work: Callable[[], object]) -> float:
    """CPU seconds of this thread for `work`, best of two: other processes' load does not count."""
    timings = []
    for _ in range(2):
        start = time.thread_time()
        work()
        timings.append(time.thread_time() - start)
    return min(timings)


def test_bootstrap_is_fast_enough_for_a_report() -> None:
    """A report's two bootstraps (500 examples, 2,000 resamples) cost about what their random draws
    alone cost, measured here beside them (ratio ~1.0): a 3x slowdown fails, whatever the load."""
    a, b = _binary(0.7, 500, 60), _binary(0.65, 500, 61)

    def draws_alone() -> None:  # the least the two bootstraps must do: draw 2 x 2,000 samples and sum each
        for scores in (a, b):
            choices = random.Random(0).choices
            for _ in range(2000):
                math.fsum(choices(scores, k=len(scores)))

    def report() -> None:
        bootstrap_ci(a)
        paired_bootstrap(a, b)

    floor, spent = _thread_seconds(draws_alone), _thread_seconds(report)
    assert spent < 3 * floor, f"bootstraps {spent:.3f} s of CPU, their draws alone {floor:.3f} s"


# ---- distinct_n and improvement_rate


def test_distinct_n_counts_within_texts() -> None:
    assert distinct_n(["a b c", "a b d"], n=2) == pytest.approx(3 / 4)  # ab, bc, ab, bd
    assert distinct_n(["a a a a"], n=1) == pytest.approx(1 / 4)
    assert distinct_n(["x y", "z"], n=2) == 1.0  # no bigram spans the two texts
    assert distinct_n(["  spaced\tout\nwords "], n=3) == 1.0


def test_distinct_n_without_ngrams_is_none() -> None:
    assert distinct_n([], n=2) is None
    assert distinct_n(["one", ""], n=2) is None
    with pytest.raises(ValueError):
        distinct_n(["a b"], n=0)


@pytest.mark.parametrize(
    ("baseline", "final", "expected"),
    [
        (0.4, 0.5, 0.25),
        (0.5, 0.4, -0.2),
        (0.5, 0.5, 0.0),
        (0.0, 0.5, None),
        (None, 0.5, None),
        (0.5, None, None),
    ],
)
def test_improvement_rate(baseline: float | None, final: float | None, expected: float | None) -> None:
    result = improvement_rate(baseline, final)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)
