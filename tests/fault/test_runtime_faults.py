"""Every provider fault ends as it should, and the books match what the server billed.

Retryable faults (429, 5xx, timeouts, resets) are retried by DSPy, not by us:
the server sees one request per attempt and answers exactly one of them.
The rest end in one clear error naming the provider, without a retry.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from typing import Any

import dspy
import pytest
from dspy import lm15
from dspy.lm15 import Usage
from dspy.utils.exceptions import LMProviderError, LMTimeoutError

from dspy_tui.engine.budget import Budget
from dspy_tui.engine.call_errors import CallCancelled, ModelFailed
from dspy_tui.engine.events import CallCompleted, Event, EventBus
from dspy_tui.engine.pricing import cost_of, price_for
from dspy_tui.engine.runtime import Runtime

from fakes.lms import lm_with
from fakes.provider_server import FakeProvider

pytestmark = pytest.mark.usefixtures("engine_runtime")

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "gemini/gemini-2.5-flash"]


class Books:
    """An LM plus everything it recorded: events and the budget."""

    def __init__(self, model: str, urls: dict[str, str], **kwargs: Any) -> None:
        self.model = model
        self.events: list[Event] = []
        self.bus = EventBus("fault-test")
        self.bus.subscribe(self.events.append)
        self.budget = Budget(5.0)
        kwargs.setdefault("num_retries", 3)
        self.lm = lm_with(
            model, keys=lambda _: "sk-test", base_urls=urls, budget=self.budget, bus=self.bus, **kwargs
        )

    def ask(self, question: str) -> str:
        predict = dspy.Predict("question -> answer")
        predict.set_lm(self.lm)
        return str(predict(question=question).answer)

    def calls(self, status: str | None = None) -> list[CallCompleted]:
        found = [e for e in self.events if isinstance(e, CallCompleted)]
        return [e for e in found if status is None or e.status == status]

    def check_against(self, server: FakeProvider) -> None:
        """Recorded tokens and cost equal what the server billed; nothing answered twice."""
        billed = server.billed()
        ok = self.calls("ok")
        assert sum(e.tokens_in or 0 for e in ok) == billed["tokens_in"]  # cached included, on every wire
        assert sum(e.tokens_cached or 0 for e in ok) == billed["tokens_cached"]
        assert sum(e.tokens_out or 0 for e in ok) == billed["tokens_out"]
        provider, model = self.model.split("/", 1)
        price = price_for(provider, model)
        expected = sum(cost_of(price, _usage_of(r, provider)) or 0 for r in server.answered())
        assert sum(e.cost_usd or 0 for e in ok) == pytest.approx(expected)
        if self.budget.unknown_costs:  # sent but unreadable: held at its worst case, never free
            assert self.budget.spent > expected
        else:
            assert self.budget.spent == pytest.approx(expected)
        assert server.answered_twice() == []


def _usage_of(record: Any, provider: str) -> Usage:
    cached = record.tokens_cached or 0
    tokens_in = record.tokens_in - cached if provider == "anthropic" else record.tokens_in
    return Usage(
        input_tokens=tokens_in,
        output_tokens=record.tokens_out,
        cache_read_tokens=cached,
        reasoning_tokens=record.tokens_thoughts,
    )


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("fault", ["429_retry_after", "503", "reset"])
def test_transient_faults_are_retried_by_dspy_and_succeed(
    model: str, fault: str, fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    books = Books(model, provider_urls)
    fake_provider.fail_next(fault, retry_after=0.01)
    assert books.ask(f"{fault} on {model}?") == f"{fault} on {model}?"
    assert [r.fault for r in fake_provider.received] == [fault, None]
    assert [e.status for e in books.calls()] == ["error", "ok"]
    assert books.calls("error")[0].error_kind in {"rate_limit", "server", "transport"}
    # An error status is not billed; a reset mid-body may have been, so it is held at its worst case.
    assert books.budget.unknown_costs == (1 if fault == "reset" else 0)
    books.check_against(fake_provider)


@pytest.mark.parametrize("model", MODELS)
def test_tokens_in_count_cached_tokens_on_every_wire_and_cost_the_cached_rate(
    model: str, fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    """Anthropic reports cache reads apart from input_tokens: tokens in still hold them, shown apart."""
    fake_provider.cached_tokens = 40
    books = Books(model, provider_urls)
    books.ask(f"cached prompt on {model}?")
    (call,) = books.calls("ok")
    (served,) = fake_provider.answered()
    assert (call.tokens_in, call.tokens_cached) == (served.tokens_in, 40)
    price = price_for(*model.split("/", 1))
    assert price is not None and price.cached_input is not None
    rate_in, rate_out, rate_cached = price.rates(0)
    expected = ((served.tokens_in - 40) * rate_in + 40 * rate_cached + served.tokens_out * rate_out) / 1e6
    if model.startswith("gemini/"):  # thoughts are billed as output
        expected += (served.tokens_thoughts or 0) * rate_out / 1e6
    assert call.cost_usd == pytest.approx(expected)
    books.check_against(fake_provider)


@pytest.mark.parametrize("fault", ["429", "500", "502"])
def test_faults_without_a_retry_hint_are_retried_after_dspy_backoff(
    fault: str, fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    books = Books("openai/gpt-4o-mini", provider_urls)
    fake_provider.fail_next(fault)
    assert books.ask("again?") == "again?"
    assert [r.status for r in fake_provider.received] == [int(fault[:3]), 200]
    books.check_against(fake_provider)


def test_a_timeout_is_a_retryable_timeout_error(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    books = Books("openai/gpt-4o-mini", provider_urls, timeout=0.3)
    fake_provider.fail_next("timeout", hold_s=6)
    started = time.monotonic()
    assert books.ask("slow?") == "slow?"
    assert time.monotonic() - started < 4  # 0.3 s timeout + DSPy's 1 s backoff, not the 6 s hold
    assert [e.error_kind for e in books.calls("error")] == ["timeout"]
    # Sent but never answered: the provider may bill it, so the budget holds the worst case.
    assert books.budget.unknown_costs == 1
    fake_provider.fail_next("timeout", hold_s=3)
    books_no_retry = Books("openai/gpt-4o-mini", provider_urls, timeout=0.3, num_retries=0)
    with pytest.raises(LMTimeoutError, match="OpenAI did not answer within the timeout"):
        books_no_retry.ask("slow again?")


@pytest.mark.parametrize("model", MODELS)
def test_a_bad_key_is_not_retried_and_names_the_provider(
    model: str, fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    fake_provider.expected_key = "sk-the-right-one"
    books = Books(model, provider_urls)
    with pytest.raises(ModelFailed) as caught:  # the model cannot go on: DSPy must not retry
        books.ask("who am I?")
    assert isinstance(caught.value.__cause__, lm15.AuthError)
    label = {"openai": "OpenAI", "anthropic": "Anthropic", "gemini": "Gemini"}[model.split("/")[0]]
    assert label in str(caught.value) and "sk-test" not in str(caught.value)
    assert len(fake_provider.received) == 1  # no retry
    assert books.budget.spent == 0 and books.budget.reserved == 0


def test_insufficient_quota_is_a_billing_error_not_a_rate_limit(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    books = Books("openai/gpt-4o-mini", provider_urls)
    fake_provider.fail_next("insufficient_quota")
    with pytest.raises(ModelFailed, match="OpenAI") as caught:
        books.ask("broke?")
    assert isinstance(caught.value.__cause__, lm15.BillingError)
    assert len(fake_provider.received) == 1


@pytest.mark.parametrize(
    ("model", "fault"),
    # Anthropic's wire reads an empty `content` list as an empty answer, not an error.
    [(m, "malformed") for m in MODELS] + [(m, "empty") for m in MODELS if not m.startswith("anthropic/")],
)
def test_an_unreadable_answer_is_a_clear_provider_error(
    model: str, fault: str, fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    books = Books(model, provider_urls)
    fake_provider.fail_next(fault)
    with pytest.raises(LMProviderError) as caught:
        books.ask("readable?")
    label = {"openai": "OpenAI", "anthropic": "Anthropic", "gemini": "Gemini"}[model.split("/")[0]]
    assert label in str(caught.value)
    assert len(fake_provider.received) == 1
    call = books.calls()[0]  # sent and maybe billed: charged at its reservation, marked estimated
    assert (
        call.status == "error" and call.cost_estimated and call.cost_usd == pytest.approx(books.budget.spent)
    )


@pytest.mark.parametrize("model", MODELS)
def test_missing_usage_is_unknown_cost_charged_at_the_reservation(
    model: str, fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    books = Books(model, provider_urls)
    fake_provider.fail_next("no_usage")
    assert books.ask("free?") == "free?"
    event = books.calls("ok")[0]
    assert event.cost_estimated and event.tokens_in is None
    assert event.cost_usd == pytest.approx(books.budget.spent)  # recorded as charged, never NULL
    assert books.budget.unknown_costs == 1 and books.budget.spent > 0


def test_cached_and_thought_tokens_are_billed_by_each_provider_rule(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    fake_provider.cached_tokens = 40
    fake_provider.thoughts_tokens = 25
    for model in MODELS:
        fake_provider.reset_records()
        books = Books(model, provider_urls)
        books.ask(f"rules for {model}")
        books.check_against(fake_provider)
        assert books.calls("ok")[0].tokens_cached == 40


def test_a_storm_of_random_faults_under_evaluate_keeps_the_books_straight(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    fake_provider.fault_rate = 0.3
    fake_provider.fault_kinds = ("429_retry_after", "503", "reset")
    books = Books("openai/gpt-4o-mini", provider_urls, num_retries=8)
    program = dspy.Predict("question -> answer")
    program.set_lm(books.lm)
    devset = [
        dspy.Example(question=f"storm {i}", answer=f"storm {i}").with_inputs("question") for i in range(40)
    ]
    result = dspy.Evaluate(
        devset=devset, metric=lambda g, p, t=None: g.answer == p.answer, num_threads=8, display_progress=False
    )(program)
    assert result.score == 100.0
    assert len(fake_provider.answered()) == 40
    assert any(r.fault for r in fake_provider.received)
    books.check_against(fake_provider)


def test_an_interrupted_sync_call_cancels_its_http_request(
    fake_provider: FakeProvider, provider_urls: dict[str, str], engine_runtime: Runtime
) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach only the main thread")
    fake_provider.latency_s = 5
    books = Books("openai/gpt-4o-mini", provider_urls)
    main = threading.main_thread().ident
    assert main is not None
    # Ctrl-C as an interactive Python has it: a test runner started in the background (`cmd &` in a
    # script) starts Python with SIGINT ignored, and then no KeyboardInterrupt ever comes
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, signal.pthread_kill, args=(main, signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            books.ask("interrupt me")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 3  # not the 5 s answer
    deadline = time.monotonic() + 2
    while not books.calls() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [e.error_kind for e in books.calls()] == ["cancelled"]
    assert engine_runtime.stats.in_flight == 0
    assert books.budget.reserved == 0  # the reservation did not outlive the call
    assert os.getpid()  # still alive


async def test_a_cancelled_async_call_cancels_its_http_request(
    fake_provider: FakeProvider, provider_urls: dict[str, str], engine_runtime: Runtime
) -> None:
    fake_provider.latency_s = 5
    books = Books("anthropic/claude-haiku-4-5", provider_urls)
    predict = dspy.Predict("question -> answer")
    predict.set_lm(books.lm)
    task = asyncio.create_task(predict.acall(question="cancel me"))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if books.calls():
            break
        await asyncio.sleep(0.01)
    assert [e.error_kind for e in books.calls()] == ["cancelled"]
    assert engine_runtime.stats.in_flight == 0


def test_a_connection_refused_fails_the_model_naming_the_url_and_bills_nothing(
    provider_urls: dict[str, str],
) -> None:
    books = Books("openai/gpt-4o-mini", {"openai": "http://127.0.0.1:9/v1"})
    with pytest.raises(
        ModelFailed, match=r"could not connect to openai at http://127\.0\.0\.1:9/v1 \(connection refused\)"
    ):
        books.ask("anyone?")
    assert books.budget.spent == 0 and books.budget.reserved == 0


def _wait_for(condition: Any, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


class SessionStop(BaseException):
    """Stands in for the session's stop signal (raised by its gate)."""


def test_stopping_a_session_cancels_its_calls_in_flight_only(
    fake_provider: FakeProvider, provider_urls: dict[str, str], engine_runtime: Runtime
) -> None:
    fake_provider.latency_s = 4
    stopped = threading.Event()

    def gate() -> None:
        if stopped.is_set():
            raise SessionStop

    mine = lm_with(
        "openai/gpt-4o-mini", keys=lambda _: "k", base_urls=provider_urls, session_id="s1", gate=gate
    )
    other = lm_with("openai/gpt-4o-mini", keys=lambda _: "k", base_urls=provider_urls, session_id="s2")
    outcomes: dict[str, BaseException | str] = {}

    def run(name: str, lm: dspy.LM) -> None:
        predict = dspy.Predict("question -> answer")
        predict.set_lm(lm)
        try:
            outcomes[name] = str(predict(question=name).answer)
        except BaseException as exc:  # noqa: BLE001 - the outcome is what we test
            outcomes[name] = exc

    threads = [threading.Thread(target=run, args=(n, lm)) for n, lm in (("s1", mine), ("s2", other))]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    _wait_for(lambda: engine_runtime.stats.in_flight == 2)
    stopped.set()
    engine_runtime.cancel_session("s1")
    threads[0].join(5)
    assert time.monotonic() - started < 3  # did not wait for the 4 s answer
    assert isinstance(outcomes["s1"], SessionStop)
    threads[1].join(5)
    assert outcomes["s2"] == "s2"


def test_shutting_the_runtime_down_under_a_call_fails_it_clearly(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    fake_provider.latency_s = 2
    lm = lm_with("openai/gpt-4o-mini", keys=lambda _: "k", base_urls=provider_urls)
    outcome: list[BaseException] = []

    def run() -> None:
        predict = dspy.Predict("question -> answer")
        predict.set_lm(lm)
        try:
            predict(question="late")
        except BaseException as exc:  # noqa: BLE001 - the outcome is what we test
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    _wait_for(lambda: Runtime.get().stats.in_flight == 1)
    Runtime.shutdown()
    thread.join(5)
    assert len(outcome) == 1 and isinstance(outcome[0], CallCancelled)
    assert "shut down" in str(outcome[0])
