"""How the call path behaves when a provider misbehaves like real ones do:
dead endpoints fail the model fast, long Retry-Afters fail it instead of
freezing, waits happen where a stop can cancel them, one overload episode
lowers the limit once, the account's headers keep us under its limit, and
latency is the provider's time with queueing reported apart."""

from __future__ import annotations

import statistics
import threading
import time

import pytest

from dspy_tui.engine.call_errors import CallCancelled, ModelFailed
from dspy_tui.engine.events import CallCompleted, Event, EventBus, ModelThrottled
from dspy_tui.engine.limits import LimitConfig
from dspy_tui.engine.runtime import Runtime

from fakes.lms import evaluate_echo, lm_with
from fakes.provider_server import FakeProvider

pytestmark = pytest.mark.usefixtures("engine_runtime")

MODEL = "openai/gpt-4o-mini"


class Recording:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.bus = EventBus("call-path")
        self.bus.subscribe(self.events.append)
        self.fatal: list[tuple[str, BaseException]] = []

    def on_fatal(self, model: str, exc: BaseException) -> None:
        self.fatal.append((model, exc))

    def calls(self) -> list[CallCompleted]:
        return [e for e in self.events if isinstance(e, CallCompleted)]


def test_a_closed_port_fails_the_model_within_seconds_naming_provider_and_url() -> None:
    seen = Recording()
    lm = lm_with(
        "vllm/llama-3-8b",
        keys=lambda _: None,
        base_url="http://127.0.0.1:9/v1",
        bus=seen.bus,
        on_fatal=seen.on_fatal,
        num_retries=3,
    )
    started = time.monotonic()
    with pytest.raises(ModelFailed) as caught:
        evaluate_echo(lm, 40)
    assert time.monotonic() - started < 15  # was ~142 s of retries on every example
    assert str(caught.value) == "could not connect to vllm at http://127.0.0.1:9/v1 (connection refused)"
    assert [model for model, _ in seen.fatal] == ["vllm/llama-3-8b"]  # told once
    with pytest.raises(ModelFailed):  # and it stays failed: not one more attempt
        evaluate_echo(lm, 4)
    assert len(seen.calls()) <= 8  # only the first calls, already under way, were tried


def test_after_the_breaker_opens_no_request_leaves_the_process(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    seen = Recording()
    lm = lm_with(
        MODEL,
        keys=lambda _: "k",
        base_urls=provider_urls,
        bus=seen.bus,
        on_fatal=seen.on_fatal,
        num_retries=10,
        breaker_after=5,
    )
    evaluate_echo(lm, 1)  # the endpoint answered once: resets are no proof it is dead
    fake_provider.fail_next("reset", times=100)
    with pytest.raises(ModelFailed, match=r"failed mid-request.*stopped calling openai/gpt-4o-mini after 5"):
        evaluate_echo(lm, 20, threads=1)
    sent = len(fake_provider.received)
    assert sent == 1 + 5
    with pytest.raises(ModelFailed):
        evaluate_echo(lm, 20)
    assert len(fake_provider.received) == sent


def test_resets_landing_after_the_answers_of_their_burst_do_not_fail_a_model_that_answers(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    """64 requests at once, 5 of them reset: the fake drops those 0.3 s on, after the others are
    answered, and the hold after the first keeps new requests back, so the 5 failures come one
    after another. The server answered 59 requests meanwhile: the model must not fail (it did,
    "after 5 failures in a row", in the fault soak at a 2.2 % reset rate)."""
    seen = Recording()
    lm = lm_with(MODEL, keys=lambda _: "k", base_urls=provider_urls, on_fatal=seen.on_fatal, breaker_after=5)
    evaluate_echo(lm, 1)  # the account's first answer: until then the limiter sends one probe at a time
    fake_provider.fail_next("reset", times=5, drop_after_s=0.3)
    result = evaluate_echo(lm, 64, threads=64)
    assert seen.fatal == []
    assert sum(1 for _, _, score in result.results if score) == 64  # each reset's retry was answered
    assert sum(1 for r in fake_provider.received if r.fault == "reset") == 5
    assert fake_provider.peak_in_flight[MODEL.split("/")[1]] > 5  # they were one burst


@pytest.mark.parametrize("retry_after", ["86400", "Fri, 01 Jan 2100 00:00:00 GMT"])
def test_a_retry_after_beyond_the_cap_fails_the_model_at_once_with_a_clear_sentence(
    retry_after: str, fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    lm = lm_with(MODEL, keys=lambda _: "k", base_urls=provider_urls, retry_after_cap_s=120)
    fake_provider.fail_next("429_retry_after", retry_after=retry_after)
    started = time.monotonic()
    with pytest.raises(
        ModelFailed,
        match=r"OpenAI asked to wait [\d,]+ s before the next request to "
        r"openai/gpt-4o-mini, more than the 120 s cap",
    ):
        evaluate_echo(lm, 6)
    assert time.monotonic() - started < 10
    assert len(fake_provider.received) <= 6


def test_a_retry_after_within_the_cap_is_waited_on_the_loop_and_announced(
    fake_provider: FakeProvider, provider_urls: dict[str, str], engine_runtime: Runtime
) -> None:
    seen = Recording()
    lm = lm_with(MODEL, keys=lambda _: "k", base_urls=provider_urls, bus=seen.bus, session_id="waiting")
    fake_provider.fail_next("429_retry_after", retry_after=30)
    outcome: list[BaseException] = []

    def ask() -> None:
        try:
            evaluate_echo(lm, 1)
        except BaseException as exc:  # noqa: BLE001 - the outcome is what we check
            outcome.append(exc)

    worker = threading.Thread(target=ask)
    worker.start()
    deadline = time.monotonic() + 5
    while not any(isinstance(e, ModelThrottled) for e in seen.events):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    (throttled,) = [e for e in seen.events if isinstance(e, ModelThrottled)]
    assert (
        throttled.model == MODEL and throttled.reason == "rate limited" and 29 <= throttled.retry_in_s <= 30
    )
    assert throttled.text() in ("rate-limited, retrying in 29 s", "rate-limited, retrying in 30 s")
    time.sleep(0.3)  # DSPy retried at once: the wait is in the limiter, on the loop ...
    stopped = time.monotonic()
    engine_runtime.cancel_session("waiting")  # ... where stopping the session cancels it
    worker.join(5)
    assert not worker.is_alive() and time.monotonic() - stopped < 2
    assert len(outcome) == 1 and isinstance(outcome[0], CallCancelled)
    assert len(fake_provider.received) == 1


def test_four_simultaneous_429s_lower_the_limit_once(
    fake_provider: FakeProvider, provider_urls: dict[str, str], engine_runtime: Runtime
) -> None:
    fake_provider.latency_s = 0.05
    lm = lm_with(
        MODEL,
        keys=lambda _: "k",
        base_urls=provider_urls,
        limits=LimitConfig(concurrency=16, default_pause_s=0.05),
    )
    # One call first, so that DSPy's first-call set-up is not inside the burst. A CI run at load 6 cut
    # twice: a 429 came more than the 2 s cooldown after the first cut, so the sixteen requests had
    # not left together (not reproduced by hand, 3 runs beside 4 CPU burners passed without it).
    evaluate_echo(lm, 1, threads=1)
    fake_provider.fail_next("429", times=4)
    evaluate_echo(lm, 16, threads=16)
    (limiter,) = engine_runtime._limiters.values()
    assert limiter.overloaded == 4 and limiter.decreases == 1 and limiter.cap >= 8


def test_the_accounts_headers_keep_us_under_its_limit_without_a_429(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    fake_provider.window_limit, fake_provider.window_s = 10, 1.0  # 600 RPM, told in x-ratelimit-* headers
    started = time.monotonic()
    evaluate_echo(lm_with(MODEL, keys=lambda _: "k", base_urls=provider_urls), 30)
    assert [(r.number, r.status) for r in fake_provider.received if r.status == 429] == []
    assert len(fake_provider.received) == 30 and time.monotonic() - started >= 2.0


@pytest.mark.serial  # a 250 ms answer's latency within 1.2x: the client's own delays count
def test_latency_is_the_providers_time_and_queueing_is_reported_apart(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    fake_provider.latency_s = 0.25
    seen = Recording()
    lm = lm_with(MODEL, keys=lambda _: "k", base_urls=provider_urls, bus=seen.bus, limits={"concurrency": 2})
    evaluate_echo(lm, 12, threads=12)  # 12 at once through 2 slots: most of each call's wall time is queueing
    calls = seen.calls()
    assert len(calls) == 12
    p50 = statistics.median(c.latency_ms for c in calls)
    assert 250 <= p50 <= 1.2 * 250, p50
    assert statistics.median(c.queue_ms for c in calls) > 400


def test_one_models_limits_never_throttle_another_model_of_the_same_provider(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    """Counted at the server, so load cannot decide it: the capped model never has two requests
    there at once, the other has its eight threads' requests there together (held 1 s each)."""
    fake_provider.latency_s = 1.0
    slow = lm_with(
        "openai/gpt-4o-mini", keys=lambda _: "k", base_urls=provider_urls, limits={"concurrency": 1}
    )
    other = lm_with("openai/gpt-4.1-nano", keys=lambda _: "k", base_urls=provider_urls)
    evaluate_echo(slow, 2, threads=2)
    evaluate_echo(other, 8, threads=8)
    assert fake_provider.peak_in_flight == {"gpt-4o-mini": 1, "gpt-4.1-nano": 8}


def test_two_models_on_one_account_share_what_its_headers_say_is_left(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    fake_provider.window_limit, fake_provider.window_s = 10, 1.0  # one window for the whole key
    first = lm_with("openai/gpt-4o-mini", keys=lambda _: "k", base_urls=provider_urls)
    second = lm_with("openai/gpt-4.1-nano", keys=lambda _: "k", base_urls=provider_urls)
    both = [threading.Thread(target=evaluate_echo, args=(lm, 20)) for lm in (first, second)]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join(30)
    assert [(r.number, r.model) for r in fake_provider.received if r.status == 429] == []
    assert len(fake_provider.received) == 40
