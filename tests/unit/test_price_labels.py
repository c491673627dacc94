"""The offline rule for price labels is written once (tui/format) and read by home, live and results tables."""

from __future__ import annotations

import ast
from pathlib import Path

from dspy_tui.tui import format as fmt

TUI = Path(fmt.__file__).parent


def test_an_offline_model_reads_simulated_without_the_engines_prices() -> None:
    assert fmt.label_without_prices("offline/base") == fmt.SIMULATED
    assert fmt.label_without_prices("openai/gpt-4o-mini") == ""
    assert str(fmt.priced_money(0.0, fmt.label_without_prices("offline/base"))) == "$0 sim"


def test_no_screen_or_widget_spells_the_offline_prefix_itself() -> None:
    spelled = [
        f"{path.relative_to(TUI)}:{node.lineno}"
        for path in TUI.rglob("*.py")
        if path.name != "format.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in ("offline/", "offline/simulated")
    ]
    assert spelled == []
