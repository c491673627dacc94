"""The word-overlap F1 of two token lists: the `f1` task metric and the offline judge's rating both use it.

A leaf module (no DSPy, no engine imports), so the offline provider can use it without loading the metrics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def overlap_f1(got: Sequence[str], expected: Sequence[str]) -> float:
    """Harmonic mean of the share of `got` found in `expected` and of `expected` found in `got`,
    counting repeats; 1 when both are empty, 0 when only one is."""
    if not got or not expected:
        return float(not got and not expected)
    common = sum((Counter(got) & Counter(expected)).values())
    if not common:
        return 0.0
    precision, recall = common / len(got), common / len(expected)
    return 2 * precision * recall / (precision + recall)
