"""The circuit breaker's count: which transport failures are "in a row"."""

from __future__ import annotations

from dspy_tui.engine.call_context import ModelHealth


def test_failures_of_requests_out_while_an_answer_arrived_do_not_count() -> None:
    health = ModelHealth("openai/gpt-4o-mini", breaker_after=5)
    burst = [health.answers for _ in range(64)]  # 64 requests leave at once
    for _ in range(59):
        health.succeeded()
    for sent in burst[:5]:  # their 5 resets land after the burst's answers
        assert not health.transport_failed("reset", never_connected=False, answers_when_sent=sent)
    assert health.failed is None and health.consecutive_failures == 0


def test_five_failures_with_no_answer_while_they_were_out_fail_the_model() -> None:
    health = ModelHealth("openai/gpt-4o-mini", breaker_after=5)
    health.succeeded()
    outcomes = [
        health.transport_failed("reset", never_connected=False, answers_when_sent=health.answers)
        for _ in range(5)
    ]
    assert outcomes == [False] * 4 + [True]
    assert health.failed == "reset; stopped calling openai/gpt-4o-mini after 5 failures in a row"
