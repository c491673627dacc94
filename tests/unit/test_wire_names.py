"""The side-by-side table of what each wire calls DSPy's token counts and finish reasons."""

from __future__ import annotations

import pytest
from dspy.lm15 import Usage

from dspy_tui.engine.providers import _http, wire_names


@pytest.mark.parametrize("wire", wire_names.WIRES)
def test_every_wire_names_real_usage_fields_and_counts_input_and_output(wire: str) -> None:
    fields = wire_names.usage_fields(wire)
    assert {"input_tokens", "output_tokens"} <= fields.keys()
    raw = {name: 7 for name in fields.values() if "." not in name}
    usage = _http.usage(raw, fields)  # an unknown Usage field would raise here
    assert usage.input_tokens == 7 and usage != Usage()


def test_a_column_reads_several_names_and_skips_a_dash() -> None:
    assert wire_names.finish_reasons("anthropic")["model_context_window_exceeded"] == "length"
    assert "tool_call" not in wire_names.finish_reasons("gemini").values()
    assert "total_tokens" not in wire_names.usage_fields("anthropic")


def test_a_reason_dspy_does_not_know_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire_names, "FINISH", "halted | stop | end_turn | STOP")
    with pytest.raises(ValueError, match="'halted' is not a DSPy finish reason"):
        wire_names.finish_reasons("openai")


def test_a_row_without_a_cell_for_each_wire_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire_names, "USAGE", "input_tokens | prompt_tokens | input_tokens")
    with pytest.raises(ValueError, match="one a wire"):
        wire_names.usage_fields("gemini")
