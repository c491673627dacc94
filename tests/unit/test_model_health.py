"""The circuit breaker's count: which transport failures are "in a row"."""

from __future__ import annotations

from dspy_tui.engine.call_context import ModelHealth

LABEL = "openai/gpt-4o-mini"


def _reset(health: ModelHealth, answers_when_sent: int) -> bool:
    """A request's reset as the call path reports it: counted while still out, then ended."""
    opened = health.transport_failed("reset", never_connected=False, answers_when_sent=answers_when_sent)
    health.ended()
    return opened


def test_failures_of_requests_out_while_an_answer_arrived_do_not_count() -> None:
    health = ModelHealth(LABEL, breaker_after=5)
    burst = [health.sending() for _ in range(64)]  # 64 requests leave at once
    for _ in range(59):
        health.ended()
        health.succeeded()
    assert not any(_reset(health, sent) for sent in burst[:5])  # their resets land after the answers
    assert health.failed is None and health.consecutive_failures == 0


def test_quick_failures_while_more_requests_are_out_wait_for_those() -> None:
    health = ModelHealth(LABEL, breaker_after=5)
    health.succeeded()
    burst = [health.sending() for _ in range(64)]
    assert not any(_reset(health, sent) for sent in burst[:5])  # 5 resets before any answer
    for _ in range(59):  # then the slower answers of the same burst
        health.ended()
        health.succeeded()
    assert health.failed is None and health.consecutive_failures == 0


def test_a_server_that_drops_everything_fails_the_model_once_all_that_was_out_failed() -> None:
    health = ModelHealth(LABEL, breaker_after=5)
    health.succeeded()
    burst = [health.sending() for _ in range(64)]
    outcomes = [_reset(health, sent) for sent in burst]
    assert outcomes == [False] * 63 + [True]
    assert health.failed == f"reset; stopped calling {LABEL} after 64 failures in a row"


def test_five_failures_one_at_a_time_with_no_answer_between_fail_the_model() -> None:
    health = ModelHealth(LABEL, breaker_after=5)
    health.succeeded()
    outcomes = [_reset(health, health.sending()) for _ in range(5)]
    assert outcomes == [False] * 4 + [True]
    assert health.failed == f"reset; stopped calling {LABEL} after 5 failures in a row"
