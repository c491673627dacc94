"""The Events pane's fixed sentences are a table of templates over each event's fields (tui/event_text)."""

from __future__ import annotations

import string

from dspy_tui.engine import events as ev
from dspy_tui.tui import event_text
from dspy_tui.tui.format import money


def test_every_template_names_only_fields_its_event_has() -> None:
    for event_type, (template, _style) in event_text.TEMPLATES.items():
        named = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        assert named <= set(event_type.model_fields), (
            event_type.__name__,
            named - set(event_type.model_fields),
        )


def test_a_template_reads_money_as_money_and_a_reason_as_given() -> None:
    warning = ev.BudgetWarning(session_id="s", spent_usd=0.0123, budget_usd=0.02)
    assert event_text.event_line(warning).plain.endswith(
        f"budget warning: {money(0.0123)} of {money(0.02)} spent"
    )
    stopped = ev.SessionStopped(session_id="s", reason="user asked {twice}")
    assert event_text.event_line(stopped).plain.endswith("session stopped (user asked {twice})")
