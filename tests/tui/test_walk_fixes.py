"""Defects the lead found walking the TUI as a user (five hosted models, stopped with `s`, resumed with `r`)."""

from __future__ import annotations

from types import SimpleNamespace

from dspy_tui.tui import format as fmt
from dspy_tui.tui.screens.detail import DetailScreen


def test_no_change_in_a_score_reads_as_plus_or_minus_zero() -> None:
    """Detail's transfers pane read `0.000 → 0.000 0`: the bare `0` looked like a stray digit."""
    model = SimpleNamespace(
        model="openai/gpt-4o-mini",
        transfer={"source_model": "groq/llama-3.3-70b-versatile", "before": 0.0, "after": 0.0, "kept": False},
    )
    detail = SimpleNamespace(models=[model], config={})
    pane = DetailScreen._transfers_text(detail, ["openai/gpt-4o-mini"])  # type: ignore[arg-type]
    lines = [line.plain.strip() for line in pane.renderables]  # type: ignore[union-attr]
    assert lines[-1] == "0.000 → 0.000 ±0"
    assert (fmt.delta(0.0002), fmt.delta(0.02), fmt.delta(-0.02), fmt.delta(None)) == (
        "±0",
        "+0.020",
        "-0.020",
        "-",
    )
