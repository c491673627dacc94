"""The dspy.LM bridge: real DSPy programs and optimizers through our engine, over loopback."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from typing import Any

import dspy
import pytest
from dspy import lm15
from dspy.clients.errors import wrap_error
from dspy.utils.exceptions import LMUnexpectedError, is_retryable_lm_error

from dspy_tui.engine.budget import Budget, BudgetExhausted
from dspy_tui.engine.call_errors import ModelFailed
from dspy_tui.engine.events import CallCompleted, Event, EventBus
from dspy_tui.engine.limits import LimitConfig
from dspy_tui.engine.lm import AsyncEngine, SyncEngine
from dspy_tui.engine.providers import openai as openai_wire
from dspy_tui.engine.runtime import Runtime

from fakes.lms import lm_with
from fakes.provider_server import FakeProvider

pytestmark = pytest.mark.usefixtures("engine_runtime")

KEYS = {"openai": "sk-o", "anthropic": "sk-a", "gemini": "g-key"}


def keys(provider: str) -> str | None:
    return KEYS.get(provider)


class DictCache:
    """The duck-typed cache the runtime expects (storage/cache.py has the real one)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.hits = self.misses = 0

    def get(self, key: str) -> dict[str, Any] | None:
        row = self.rows.get(key)
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        body: dict[str, Any] = row["body"]
        return body

    def put(self, key: str, *, call: Mapping[str, Any] | None = None, **row: Any) -> None:
        """Keeps what the runtime stores of an answer (provider, model, endpoint, body, usage)."""
        self.rows[key] = row


def predict_with(lm: dspy.LM, signature: str = "question -> answer") -> dspy.Predict:
    program = dspy.Predict(signature)
    program.set_lm(lm)
    return program


@pytest.mark.parametrize(
    "model", ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "gemini/gemini-2.5-flash"]
)
def test_predict_runs_through_each_wire(
    model: str, fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    fake_provider.expected_key = KEYS[model.split("/")[0]]  # the right key reaches the right header
    lm = lm_with(model, keys=keys, base_urls=provider_urls)
    prediction = predict_with(lm, "question -> answer, confidence: float")(question="Why is the sky blue?")
    assert prediction.answer == "Why is the sky blue?" and prediction.confidence == 0.5
    assert [r.status for r in fake_provider.received] == [200]
    assert lm.history[-1]["usage"]["prompt_tokens"] > 0  # DSPy reports our usage
    assert fake_provider.received[0].temperature == 0.0  # evaluation calls: temperature 0 unless DSPy says


@pytest.mark.parametrize(
    "model", ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "gemini/gemini-2.5-flash"]
)
def test_a_models_temperature_goes_out_on_every_wire_and_dspys_own_wins(
    model: str, fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    lm = lm_with(model, keys=keys, base_urls=provider_urls, temperature=0.7)
    lm("hello")
    lm("hello", temperature=1.0)  # as DSPy asks for a sampled rollout
    unset = lm_with(model, keys=keys, base_urls=provider_urls, temperature=None)
    unset("hello")
    assert [r.temperature for r in fake_provider.received] == [0.7, 1.0, None]


async def test_acall_uses_the_async_engine(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    lm = lm_with("gemini/gemini-2.5-flash", keys=keys, base_urls=provider_urls)
    results = await asyncio.gather(*(predict_with(lm).acall(question=f"async {i}") for i in range(10)))
    assert [r.answer for r in results] == [f"async {i}" for i in range(10)]
    assert len(fake_provider.answered()) == 10


def test_evaluate_with_eight_threads(fake_provider: FakeProvider, provider_urls: dict[str, str]) -> None:
    lm = lm_with("openai/gpt-4o-mini", keys=keys, base_urls=provider_urls)
    devset = [
        dspy.Example(question=f"item {i}", answer=f"item {i}").with_inputs("question") for i in range(24)
    ]
    result = dspy.Evaluate(
        devset=devset, metric=lambda g, p, t=None: g.answer == p.answer, num_threads=8, display_progress=False
    )(predict_with(lm))
    assert result.score == 100.0
    assert len(fake_provider.answered()) == 24 and fake_provider.answered_twice() == []


def test_bootstrap_fewshot_compiles_through_the_engine(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    lm = lm_with("anthropic/claude-haiku-4-5", keys=keys, base_urls=provider_urls)
    trainset = [
        dspy.Example(question=f"train {i}", answer=f"train {i}").with_inputs("question") for i in range(6)
    ]
    optimizer = dspy.BootstrapFewShot(
        metric=lambda g, p, t=None: g.answer == p.answer, max_bootstrapped_demos=3, max_labeled_demos=3
    )
    with dspy.context(lm=lm):
        compiled = optimizer.compile(dspy.Predict("question -> answer"), trainset=trainset)
        assert compiled(question="after compile").answer == "after compile"
    assert len(compiled.demos) == 3
    assert len(fake_provider.answered()) >= 4


def test_engines_survive_deepcopy_and_lm_copies_share_them(provider_urls: dict[str, str]) -> None:
    lm = lm_with("openai/gpt-4o-mini", keys=keys, base_urls=provider_urls)
    engine = lm.engine
    assert isinstance(engine, SyncEngine) and isinstance(lm._async_engine_spec, AsyncEngine)
    assert copy.deepcopy(engine) is engine and copy.copy(engine) is engine
    assert copy.deepcopy(lm).engine is engine
    assert lm.copy(temperature=1.0, rollout_id=2).engine is engine
    program = predict_with(lm)
    assert program.deepcopy().lm.engine is engine
    assert "sk-o" not in repr(engine) and "sk-o" not in repr(lm.engine.endpoint)


def test_a_sync_call_on_the_loop_thread_is_refused(
    provider_urls: dict[str, str], engine_runtime: Runtime
) -> None:
    lm = lm_with("openai/gpt-4o-mini", keys=keys, base_urls=provider_urls)

    async def blocking_call_on_the_loop() -> Any:
        return predict_with(lm)(question="deadlock?")

    future = asyncio.run_coroutine_threadsafe(blocking_call_on_the_loop(), engine_runtime.loop)
    with pytest.raises((RuntimeError, LMUnexpectedError), match="event-loop thread"):
        future.result(timeout=5)


def test_a_repeated_request_is_answered_from_the_cache(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    cache = DictCache()
    events: list[Event] = []
    bus = EventBus("s")
    bus.subscribe(events.append)
    budget = Budget(1.0)
    lm = lm_with(
        "openai/gpt-4o-mini", keys=keys, base_urls=provider_urls, cache=cache, bus=bus, budget=budget
    )
    first = predict_with(lm)(question="cache me").answer
    spent = budget.spent
    second = predict_with(lm)(question="cache me").answer
    assert first == second == "cache me"
    assert len(fake_provider.received) == 1
    calls = [e for e in events if isinstance(e, CallCompleted)]
    assert [e.cache_hit for e in calls] == [False, True]
    assert calls[1].cost_usd == 0.0 and budget.spent == spent
    (row,) = cache.rows.values()
    assert row["provider"] == "openai" and row["model"] == "gpt-4o-mini"
    assert row["endpoint"] == provider_urls["openai"] and row["usage"]["input_tokens"] > 0
    assert "sk-o" not in repr(cache.rows)
    assert Runtime.get().stats.cache_hits == 1 and Runtime.get().stats.cache_saved_usd > 0


def test_a_different_host_never_gets_another_hosts_cached_answer(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    cache = DictCache()
    here = lm_with("openai/gpt-4o-mini", keys=keys, base_urls=provider_urls, cache=cache)
    there = lm_with(
        "openai/gpt-4o-mini", keys=keys, base_urls={"openai": provider_urls["openai"] + "/"}, cache=cache
    )
    elsewhere = lm_with(
        "openai/gpt-4o-mini", keys=keys, base_urls={"openai": fake_provider.url + "/v1/"}, cache=cache
    )
    assert here.model == there.model == elsewhere.model  # the same URL, however written
    proxy = lm_with("groq/gpt-4o-mini", keys=lambda _: "k", base_urls=provider_urls, cache=cache)
    assert proxy.model != here.model
    predict_with(here)(question="which host?")
    predict_with(proxy)(question="which host?")
    assert len(fake_provider.received) == 2 and len(cache.rows) == 2


def test_sampled_repeats_get_fresh_answers_and_a_resumed_run_replays_them(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    cache = DictCache()
    lm = lm_with("openai/gpt-4o-mini", keys=keys, base_urls=provider_urls, cache=cache, temperature=1.0)
    for _ in range(3):
        predict_with(lm)(question="sample me")
    assert len(fake_provider.received) == 3 and len(cache.rows) == 3
    Runtime.shutdown()  # a new process, the same cache file
    for _ in range(3):
        predict_with(lm)(question="sample me")
    assert len(fake_provider.received) == 3


def test_an_unreadable_cached_answer_is_replaced(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    cache = DictCache()
    lm = lm_with("openai/gpt-4o-mini", keys=keys, base_urls=provider_urls, cache=cache)
    predict_with(lm)(question="corrupt")
    for row in cache.rows.values():
        row["body"] = {"nonsense": True}
    assert predict_with(lm)(question="corrupt").answer == "corrupt"
    assert len(fake_provider.received) == 2


def test_offline_model_runs_without_a_key_and_costs_nothing() -> None:
    events: list[Event] = []
    bus = EventBus("s")
    bus.subscribe(events.append)
    budget = Budget(0.01)
    lm = lm_with("offline/base", keys=lambda _: None, budget=budget, bus=bus)
    assert predict_with(lm)(question="Is this offline?").answer
    (call,) = [e for e in events if isinstance(e, CallCompleted)]
    assert call.provider == "offline" and call.cost_usd == 0.0 and budget.spent == 0


def test_budget_exhaustion_stops_evaluate_instead_of_being_counted_as_a_failure(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    budget = Budget(0.002)  # gpt-4o worst case per call ~ $0.0106: not even one fits
    lm = lm_with("openai/gpt-4o", keys=keys, base_urls=provider_urls, budget=budget)
    devset = [dspy.Example(question=f"q{i}", answer=f"q{i}").with_inputs("question") for i in range(8)]
    with pytest.raises(BudgetExhausted, match="budget"):
        dspy.Evaluate(devset=devset, metric=lambda g, p, t=None: True, num_threads=4, display_progress=False)(
            predict_with(lm)
        )
    assert fake_provider.received == [] and budget.spent == 0


def test_make_lm_explains_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        ValueError,
        match=r"No API key for Anthropic: run `dspy-tui keys set anthropic` or set ANTHROPIC_API_KEY",
    ):
        lm_with("anthropic/claude-haiku-4-5", keys=lambda _: None)
    with pytest.raises(ValueError, match="known provider"):
        lm_with("nowhere/model", keys=keys)
    with pytest.raises(ValueError, match="no price for openai/my-finetune"):
        lm_with("openai/my-finetune", keys=keys, budget=Budget(1.0))
    with pytest.raises(ValueError, match="no price for openai/my-finetune"):  # its own cap counts too
        lm_with("openai/my-finetune", keys=keys, budget=Budget(None, {"openai/my-finetune": 1.0}))
    assert lm_with("openai/my-finetune", keys=keys, budget=Budget(None))  # tracking only: fine
    assert lm_with("openai/my-finetune", keys=keys, budget=Budget(None, {"openai/gpt-4o": 1.0}))
    with pytest.raises(ValueError, match="offline"):
        lm_with("offline/no-such-variant", keys=keys)
    assert (
        lm_with("ollama/llama3.1:8b", keys=lambda _: None).engine.endpoint.key is None
    )  # local: no key needed


def test_base_url_comes_from_config_then_environment_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    def url_of(lm: dspy.LM) -> str:
        return str(lm.engine.endpoint.base_url)

    assert url_of(lm_with("openai/gpt-4o", keys=keys)) == "https://api.openai.com/v1"
    monkeypatch.setenv("DSPY_TUI_OPENAI_BASE_URL", "http://127.0.0.1:1/env/")
    assert url_of(lm_with("openai/gpt-4o", keys=keys)) == "http://127.0.0.1:1/env"
    configured = lm_with("openai/gpt-4o", keys=keys, base_urls={"openai": "http://127.0.0.1:2/cfg"})
    assert url_of(configured) == "http://127.0.0.1:2/cfg"
    per_model = lm_with("openai/gpt-4o", keys=keys, base_urls={"openai/gpt-4o": "http://127.0.0.1:3/m"})
    assert url_of(per_model) == "http://127.0.0.1:3/m"
    assert len({lm_with("openai/gpt-4o", keys=keys).model, configured.model, per_model.model}) == 3


def test_a_url_credential_next_to_a_bearer_key_is_one_sentence_before_any_call() -> None:
    """aiohttp refuses URL credentials next to an Authorization header: every call would error."""
    with pytest.raises(ValueError, match="take them out of the URL") as caught:
        lm_with("openai/gpt-4o", keys=keys, base_urls={"openai": "http://u:pw-9f2c@127.0.0.1:2/v1"})
    assert "pw-9f2c" not in str(caught.value)


def test_a_withheld_url_credential_comes_back_only_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored = {"vllm": "http://u:<redacted>@127.0.0.1:2/v1"}
    monkeypatch.delenv("DSPY_TUI_VLLM_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="set DSPY_TUI_VLLM_BASE_URL to the full URL"):
        lm_with("vllm/llama-3-8b", keys=lambda _p: None, base_urls=stored)
    monkeypatch.setenv("DSPY_TUI_VLLM_BASE_URL", "http://u:pw-9f2c@127.0.0.1:2/v1")
    lm = lm_with("vllm/llama-3-8b", keys=lambda _p: None, base_urls=stored)
    assert lm.engine.endpoint.base_url == "http://u:pw-9f2c@127.0.0.1:2/v1"


def test_capability_hints_need_both_the_model_and_the_wire(monkeypatch: pytest.MonkeyPatch) -> None:
    gpt = lm_with("openai/gpt-4o", keys=keys)
    # the wire sends response_format but not tools
    assert (gpt.supports_function_calling, gpt.supports_response_schema, gpt.supports_reasoning) == (
        False,
        True,
        False,
    )
    assert gpt.supported_params == set(openai_wire.ACCEPTED)
    monkeypatch.setattr(openai_wire, "ACCEPTED", openai_wire.ACCEPTED | {"tools"})
    gpt = lm_with("openai/gpt-4o", keys=keys)
    assert gpt.supports_function_calling and gpt.supports_response_schema and not gpt.supports_reasoning
    unknown = lm_with("openai/my-finetune", keys=keys)
    assert not unknown.supports_function_calling and not unknown.supports_response_schema


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (lm15.RateLimitError("slow down", retry_after=1.0), True),
        (lm15.ServerError("oops"), True),
        (lm15.TimeoutError("late"), True),
        (lm15.TransportError("reset"), True),
        (lm15.AuthError("bad key"), False),
        (lm15.BillingError("no money"), False),
        (lm15.InvalidRequestError("bad request"), False),
        (lm15.ProviderError("unreadable"), False),
    ],
)
def test_what_dspy_retries(error: Exception, retried: bool) -> None:
    """DSPy (clients/execution.py) retries a call when the error it projects is retryable."""
    assert is_retryable_lm_error(wrap_error(error, model="m", provider="p")) is retried


def test_num_retries_bounds_the_attempts(fake_provider: FakeProvider, provider_urls: dict[str, str]) -> None:
    lm = lm_with("openai/gpt-4o-mini", keys=keys, base_urls=provider_urls, num_retries=2)
    fake_provider.fail_next("503", times=3, retry_after=0.01)
    with pytest.raises(Exception, match="overloaded"):
        predict_with(lm)(question="three strikes")
    assert len(fake_provider.received) == 3  # one attempt + two retries, each a single request


class Stop(BaseException):
    """Stands in for the session's stop signal."""


def test_the_gate_runs_before_every_call_and_can_stop_it(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    passed: list[int] = []

    def gate() -> None:
        if len(passed) == 2:
            raise Stop
        passed.append(1)

    lm = lm_with("openai/gpt-4o-mini", keys=keys, base_urls=provider_urls, gate=gate)
    predict_with(lm)(question="one")
    predict_with(lm)(question="two")
    with pytest.raises(Stop):
        predict_with(lm)(question="three")
    assert len(fake_provider.received) == 2


def test_on_fatal_hears_errors_no_retry_can_fix(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    fatal: list[BaseException] = []
    lm = lm_with(
        "openai/gpt-4o-mini",
        keys=keys,
        base_urls=provider_urls,
        on_fatal=lambda _m, e: fatal.append(e),
        num_retries=1,
    )
    fake_provider.fail_next("503", retry_after=0.01)
    predict_with(lm)(question="transient")
    assert fatal == []
    fake_provider.expected_key = "another-key"
    with pytest.raises(ModelFailed, match="refused the API key"):
        predict_with(lm)(question="fatal")
    assert [type(e) for e in fatal] == [ModelFailed] and "refused the API key" in str(fatal[0])
    sent = len(fake_provider.received)
    with pytest.raises(ModelFailed, match="refused the API key"):  # the model stays failed: nothing is sent
        predict_with(lm)(question="again")
    assert len(fake_provider.received) == sent and len(fatal) == 1


def test_per_model_price_limits_and_timeouts_from_the_session_config(
    fake_provider: FakeProvider, provider_urls: dict[str, str], engine_runtime: Runtime
) -> None:
    events: list[Event] = []
    bus = EventBus("s")
    bus.subscribe(events.append)
    lm = lm_with(
        "openai/my-finetune",
        keys=keys,
        base_url=provider_urls["openai"],
        budget=Budget(1.0),
        bus=bus,
        price={"input": 1.0, "output": 2.0},
        limits={"concurrency": 2, "rpm": None},
        timeout=30,
        connect_timeout=3,
    )
    predict_with(lm)(question="priced by the user")
    (call,) = [e for e in events if isinstance(e, CallCompleted)]
    assert call.cost_usd == pytest.approx((call.tokens_in * 1.0 + call.tokens_out * 2.0) / 1e6)
    limits = lm.engine.link.limits
    assert limits.concurrency == 2 and limits.rpm is None
    assert limits.default_pause_s == LimitConfig().default_pause_s  # fields not given keep the default
    timeouts = lm.engine.link.context.timeouts
    assert (timeouts.total, timeouts.connect) == (30, 3)
    assert Runtime.running()


def test_two_sessions_in_one_process_never_see_each_others_prices(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    """The TUI runs sessions one after another in one process: a price given to one
    session's model must not price (or admit under a budget) the next session's."""

    def session_call(price: dict[str, float], question: str) -> CallCompleted:
        """One session's LM (its own bus and budget) making one call; the call's event."""
        seen: list[Event] = []
        bus = EventBus(question)
        bus.subscribe(seen.append)
        lm = lm_with(
            "openai/my-finetune", keys=keys, base_urls=provider_urls, budget=Budget(1.0), bus=bus, price=price
        )
        predict_with(lm)(question=question)
        (done,) = [e for e in seen if isinstance(e, CallCompleted)]
        return done

    one = session_call({"input": 1.0, "output": 2.0}, "first session")
    two = session_call({"input": 10.0, "output": 20.0}, "second session")
    assert one.cost_usd == pytest.approx((one.tokens_in * 1.0 + one.tokens_out * 2.0) / 1e6)
    assert two.cost_usd == pytest.approx((two.tokens_in * 10.0 + two.tokens_out * 20.0) / 1e6)
    with pytest.raises(ValueError, match="no price for openai/my-finetune"):  # a third, unpriced
        lm_with("openai/my-finetune", keys=keys, base_urls=provider_urls, budget=Budget(1.0))


def test_the_config_snapshot_records_each_models_temperature_and_limits() -> None:
    from dspy_tui.engine.config import parse_config

    config = parse_config(
        {
            "task": {"dataset": "demo:sentiment"},
            "models": [
                {"id": "openai/gpt-4o-mini", "limits": {"rpm": 20}},
                {"id": "openai/gpt-4.1-nano", "temperature": 0.3},
            ],
        }
    )
    snapshot = config.model_dump(mode="json")  # what the session stores as its config
    assert [m["temperature"] for m in snapshot["models"]] == [0.0, 0.3]
    assert snapshot["models"][0]["limits"]["rpm"] == 20 and snapshot["models"][1]["limits"] is None
    assert snapshot["retry_after_cap_s"] == 120
