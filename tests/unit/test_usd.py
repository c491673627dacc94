"""Dollars read the same everywhere, and a cheap model's fraction of a cent is not rounded away."""

from __future__ import annotations

import pytest

from dspy_tui.engine.usd import format_usd
from dspy_tui.tui import format as fmt


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "$0"),
        (0.0000512, "$0.000051"),  # groq llama-3.1-8b's cost per correct answer, seen as $0.0001
        (0.00004, "$0.000040"),  # read $0.0000 before: a priced model looked free
        (0.00099, "$0.00099"),
        (0.001, "$0.0010"),
        (0.0058, "$0.0058"),
        (1.5, "$1.5000"),
        (12.345, "$12.35"),
        (1234.5, "$1,234.50"),
    ],
)
def test_dollars_keep_two_significant_figures_below_a_tenth_of_a_cent(value: float, text: str) -> None:
    assert format_usd(value) == text


def test_the_screens_print_a_fraction_of_a_cent_as_the_report_does() -> None:
    assert fmt.money(0.00004) == format_usd(0.00004) == "$0.000040"
    assert fmt.money(None) == "unpriced"
