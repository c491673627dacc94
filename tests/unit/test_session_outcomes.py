"""The pieces behind a session's honest outcomes: failure sentences and the one meeting point."""

from __future__ import annotations

import threading
import time

from dspy_tui.engine import events as ev
from dspy_tui.engine.call_failures import CallFailures
from dspy_tui.engine.evaluation import ERRORED, UNPARSED, Evaluation, Scored, degraded_reason
from dspy_tui.engine.meeting import Meeting


def _call(model: str, status: str = "ok", kind: str | None = None, hit: bool = False) -> ev.CallCompleted:
    return ev.CallCompleted(model=model, status=status, error_kind=kind, cache_hit=hit)


def test_failed_calls_are_named_in_words_not_as_dspys_cancellation() -> None:
    failures = CallFailures()
    for _ in range(8):
        failures.on_event(_call("m"))
    for _ in range(12):
        failures.on_event(_call("m", "error", "timeout"))
    failures.on_event(_call("m", hit=True))  # cache hits and refusals were never sent
    failures.on_event(_call("m", "refused", "budget"))
    assert failures.describe("m", timeout_s=120, base_url=None) == "12 of 20 calls timed out after 120 s."
    failures.on_event(_call("m", "error", "transport"))
    assert failures.describe("m", timeout_s=120, base_url="http://127.0.0.1:9/v1") == (
        "13 of 21 calls failed: 12 timed out after 120 s, "
        "1 could not connect or lost the connection at http://127.0.0.1:9/v1."
    )
    assert failures.describe("other", timeout_s=120, base_url=None) is None


def test_scores_leave_errored_examples_out_and_count_unparsed_as_wrong() -> None:
    items = [
        Scored("answered", 1.0),
        Scored("answered", 0.0),
        Scored(UNPARSED, 0.0),
        Scored(ERRORED, None, error="boom"),
    ]
    result = Evaluation(items)
    assert result.score == 1 / 3
    assert result.counts() == {"examples": 4, "answered": 3, "errored": 1, "unparsed": 1}
    assert Evaluation([Scored(ERRORED, None)]).score is None  # never answered: no score, not 0.0
    tally = result.counts()
    assert degraded_reason("baseline", tally, 0.2, "boom") == (
        "1 of 4 dev examples errored in the baseline (more than 20%): boom."
    )
    assert degraded_reason("baseline", tally, 0.25, "boom") is None


def test_the_meeting_waits_only_for_models_that_can_still_arrive() -> None:
    a, b, c = {"n": "a", "s": 0.5}, {"n": "b", "s": 0.9}, {"n": "c", "s": 0.1}
    meeting = Meeting([a, b, c], lambda m: m["s"])
    leaders: list[object] = []
    waiter = threading.Thread(target=lambda: leaders.append(meeting.arrive(a, lambda: False)))
    waiter.start()
    time.sleep(0.1)
    assert not leaders  # b and c may still come
    meeting.leave(c)  # c failed: nobody waits for it
    assert meeting.arrive(b, lambda: False) is b
    waiter.join(2)
    assert leaders == [b]


def test_a_stopped_session_lets_waiting_models_go() -> None:
    a, b = {"s": 1.0}, {"s": 0.0}
    meeting = Meeting([a, b], lambda m: m["s"])
    assert meeting.arrive(a, lambda: True, poll_s=0.01) is None


def test_a_tie_picks_the_same_leader_whatever_the_arrival_order() -> None:
    """A resumed session must ask what the uninterrupted one asked: with equal dev scores the
    leader is the first model of the config, not whichever finished optimizing first."""
    first, second = {"s": 0.5}, {"s": 0.5}
    meeting = Meeting([first, second], lambda m: m["s"])
    leaders: list[object] = []
    waiter = threading.Thread(target=lambda: leaders.append(meeting.arrive(second, lambda: False)))
    waiter.start()
    time.sleep(0.05)
    assert meeting.arrive(first, lambda: False) is first
    waiter.join(2)
    assert leaders == [first]
