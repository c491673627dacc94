"""The word-overlap F1 that the `f1` metric and the offline judge share."""

from __future__ import annotations

import pytest

from dspy_tui.engine.word_overlap import overlap_f1


@pytest.mark.parametrize(
    ("got", "expected", "f1"),
    [
        ([], [], 1.0),
        ([], ["paris"], 0.0),
        (["paris"], [], 0.0),
        (["the", "capital", "is", "paris"], ["paris"], 0.4),  # precision 1/4, recall 1
        (["a", "a", "b"], ["a", "b", "b"], 2 / 3),  # repeats count once per match
        (["x"], ["y"], 0.0),
        (["same", "words"], ["same", "words"], 1.0),
    ],
)
def test_overlap_f1(got: list[str], expected: list[str], f1: float) -> None:
    assert overlap_f1(got, expected) == pytest.approx(f1)
    assert overlap_f1(expected, got) == pytest.approx(f1)  # symmetric
