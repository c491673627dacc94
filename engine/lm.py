"""The bridge that makes a dspy-tui provider a `dspy.LM` engine.

DSPy 3.4 engines take one `dspy.lm15.Request` and return one `Response`,
making one attempt; DSPy keeps retries (`num_retries`), history and usage.
Our engines hand each request to the process runtime, so every LM call of
every optimizer thread shares one loop, its connection pools, rate limits,
budget and cache. DSPy's own response cache stays off: ours is keyed by
provider, host and body and survives restarts.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from dspy import lm15
from dspy.clients.engines.base import validate_request
from dspy.clients.lm import LM
from dspy.lm15 import Request, Response, response_to_events

from . import local_models as local
from . import local_server
from .budget import Budget
from .events import EventBus
from .limits import LimitConfig, limits_for
from .pricing import Price, price_for
from .providers import offline, registry
from .providers.base import Endpoint, ProviderSpec
from .runtime import OFFLINE_BASE_URL, CallCache, CallCancelled, Runtime, Timeouts, as_timeouts

log = logging.getLogger(__name__)

# Errors after which no call to this model can succeed: the session should
# stop the model rather than let DSPy count every example as a failure.
FATAL_ERRORS: tuple[type[Exception], ...] = (
    lm15.AuthError,
    lm15.BillingError,
    lm15.UnsupportedModelError,
    lm15.NotConfiguredError,
)

DEFAULT_MAX_TOKENS = 1024
REASONING_MAX_TOKENS = 16_000  # OpenAI's reasoning models spend output tokens thinking

# What a model can do, by provider and model-id prefix. A hint is only
# raised when the wire module also carries the matching request field, so
# DSPy never plans a request our wire would refuse.
_TOOLS = "tools"
_SCHEMA = "response_format"
_REASONING = "reasoning"
_MODEL_FEATURES: dict[str, tuple[tuple[str, frozenset[str]], ...]] = {
    "openai": (
        ("gpt-4o", frozenset({_TOOLS, _SCHEMA})),
        ("gpt-4.1", frozenset({_TOOLS, _SCHEMA})),
        ("gpt-5", frozenset({_TOOLS, _SCHEMA, _REASONING})),
        ("o1", frozenset({_TOOLS, _SCHEMA, _REASONING})),
        ("o3", frozenset({_TOOLS, _SCHEMA, _REASONING})),
        ("o4", frozenset({_TOOLS, _SCHEMA, _REASONING})),
    ),
    "anthropic": (
        ("claude-opus-4", frozenset({_TOOLS, _REASONING})),
        ("claude-sonnet-4", frozenset({_TOOLS, _REASONING})),
        ("claude-haiku-4", frozenset({_TOOLS, _REASONING})),
        ("claude-3-7-sonnet", frozenset({_TOOLS, _REASONING})),
        ("claude-3-5", frozenset({_TOOLS})),
    ),
    "gemini": (
        ("gemini-2.5", frozenset({_TOOLS, _SCHEMA, _REASONING})),
        ("gemini-2.0", frozenset({_TOOLS, _SCHEMA})),
    ),
}
_OPENAI_REASONING = re.compile(r"^(?:o[1345](?:-|$)|gpt-5(?!-chat))")


def model_features(provider_id: str, model_id: str) -> frozenset[str]:
    """What the model itself supports, as far as we know (empty when unknown)."""
    for prefix, features in _MODEL_FEATURES.get(provider_id, ()):
        if model_id.startswith(prefix):
            return features
    return frozenset()


def _wire_fields(spec: ProviderSpec) -> frozenset[str]:
    """The request fields this provider's wire module sends."""
    if spec.offline:
        return frozenset({"max_tokens", "temperature"})
    accepted: frozenset[str] = getattr(registry.wire_for(spec), "ACCEPTED", frozenset())
    return accepted


class _Engine:
    """Shared state of the sync and async engines of one `dspy.LM`."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        budget: Budget | None = None,
        cache: CallCache | None = None,
        bus: EventBus | None = None,
        model_label: str | None = None,
        session_id: str = "",
        timeout: float | Timeouts | None = None,
        runtime: Runtime | None = None,
        gate: Callable[[], None] | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.gate = gate  # called before every call; raises to stop (e.g. the session's stop signal)
        self.on_fatal = on_fatal  # told of errors no retry can fix (bad key, no credit, no such model)
        self.budget = budget
        self.cache = cache
        self.bus = bus
        self.model_label = model_label or f"{endpoint.provider.id}/{endpoint.model}"
        self.session_id = session_id
        self.timeout = timeout
        self.runtime = runtime  # None: the process runtime, looked up per call (survives shutdown in tests)
        fields = _wire_fields(endpoint.provider)
        features = model_features(endpoint.provider.id, endpoint.model)
        self.supported_params = frozenset(fields)
        self.supports_function_calling = _TOOLS in features and _TOOLS in fields
        self.supports_response_schema = _SCHEMA in features and _SCHEMA in fields
        self.supports_reasoning = _REASONING in features and _REASONING in fields

    def _failed(self, exc: BaseException) -> None:
        """A cancelled call re-checks the gate, so a stopped session stops with its
        own signal; an unfixable error is reported once per occurrence."""
        if isinstance(exc, CallCancelled) and self.gate is not None:
            self.gate()
        if isinstance(exc, FATAL_ERRORS) and self.on_fatal is not None:
            self.on_fatal(exc)

    def __deepcopy__(self, memo: dict[int, Any]) -> _Engine:
        return self  # optimizers deep-copy programs; the engine (and its budget) must stay shared

    def __copy__(self) -> _Engine:
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_label} @ {self.endpoint.base_url})"

    def _call(self, request: Request) -> Any:
        validate_request(request)
        if self.gate is not None:
            self.gate()
        runtime = self.runtime or Runtime.get()
        return runtime, runtime.call(
            self.endpoint,
            request,
            budget=self.budget,
            cache=self.cache,
            bus=self.bus,
            model_label=self.model_label,
            session_id=self.session_id,
            timeout=self.timeout,
        )


class SyncEngine(_Engine):
    """`engine=` for `dspy.LM`: blocks the calling thread, never the runtime loop."""

    def complete(self, request: Request) -> Response:
        runtime, coro = self._call(request)
        try:
            response: Response = runtime.run_sync(coro)
        except BaseException as exc:
            self._failed(exc)
            raise
        return response

    def stream(self, request: Request) -> Iterator[Any]:
        """No token streaming: the whole answer arrives as one stream of events."""
        return iter(response_to_events(self.complete(request)))

    def close(self) -> None:
        """Nothing to close: the runtime owns the connections."""


class AsyncEngine(_Engine):
    """`async_engine=` for `dspy.LM` (used by `acall`)."""

    async def complete(self, request: Request) -> Response:
        runtime, coro = self._call(request)
        try:
            response: Response = await runtime.run_async(coro)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # our caller was cancelled: let the cancellation through
            error = CallCancelled(
                "The LM call was cancelled: its session was stopped or the runtime shut down."
            )
            self._failed(error)
            raise error from None
        except BaseException as exc:
            self._failed(exc)
            raise
        return response

    async def stream(self, request: Request) -> AsyncIterator[Any]:
        for event in response_to_events(await self.complete(request)):
            yield event

    async def aclose(self) -> None:
        """Nothing to close: the runtime owns the connections."""


def dspy_model_name(provider_id: str, model_id: str, base_url: str) -> str:
    """The `dspy.LM` model string: one per endpoint, so nothing DSPy keys by
    model (history, its response cache) mixes two hosts' answers."""
    host = hashlib.sha256(base_url.encode()).hexdigest()[:8]
    return f"{provider_id}/{model_id}@{host}"


def make_lm(
    model_string: str,
    *,
    keys: Callable[[str], str | None],
    budget: Budget | None = None,
    cache: CallCache | None = None,
    bus: EventBus | None = None,
    session_id: str = "",
    base_urls: Mapping[str, str] | None = None,
    base_url: str | None = None,
    price: Price | Mapping[str, float] | None = None,
    limits: LimitConfig | Mapping[str, Any] | None = None,
    timeout: float | Timeouts | None = None,
    connect_timeout: float | None = None,
    num_retries: int = 3,
    max_tokens: int | None = None,
    temperature: float | None = None,
    gate: Callable[[], None] | None = None,
    on_fatal: Callable[[BaseException], None] | None = None,
    runtime: Runtime | None = None,
    local_models: Mapping[str, Mapping[str, Any]] | None = None,
) -> LM:
    """A `dspy.LM` for `provider/model` that runs on the dspy-tui runtime.

    Base URL: `base_url`, else `base_urls[model or provider id]`, else
    `DSPY_TUI_<PROVIDER>_BASE_URL`, else the provider's default.
    `keys(provider_id)` returns the API key or None. `price` overrides this
    model's price and `limits` ({rpm, tpm, concurrency}) its provider's
    limits, process-wide. `timeout` is one attempt's total seconds. `gate()`
    runs before every call (raise to stop); `on_fatal(exc)` hears of errors
    no retry can fix. `local_models` is the config's [local_models] table
    (name -> path, n_ctx, threads, chat_format). Raises ValueError with one clear sentence for an
    unknown provider, a missing key or base URL, or an unpriced model under
    a budget.
    """
    provider_id, model_id = registry.split_model(model_string)
    spec = registry.get_spec(provider_id)
    label = f"{provider_id}/{model_id}"
    rt = runtime or Runtime.get()
    if price is not None:
        rt.price_overrides[label] = price
    if limits is not None:
        rt.set_limits(provider_id, _merged_limits(provider_id, limits, rt))
    key: str | None = None
    if spec.offline:
        offline.get_variant(model_id)  # an unknown variant fails now, not at the first call
        base_url = OFFLINE_BASE_URL
    elif spec.managed:  # a GGUF we serve ourselves; the server starts at the model's first call
        base_url = local_server.SERVERS.register(local.resolve(model_id, local_models))
        if limits is not None:  # the server's slots are the cap: more would only queue inside the server
            current = limits_for(provider_id, rt.limit_overrides)
            rt.set_limits(provider_id, replace(current, concurrency=min(current.concurrency, local_server.SLOTS)))
    else:
        urls = base_urls or {}
        base_url = registry.base_url_for(spec, base_url or urls.get(label) or urls.get(provider_id))
        if provider_id == "openai" and _is_local_url(base_url):
            log.warning(
                "%s points at a local server (%s) but is priced and treated as OpenAI; name it "
                "openai-compatible/%s (or local/ for a GGUF dspy-tui serves itself).", label, base_url, model_id
            )
        key = keys(provider_id) or None
        if spec.needs_key and key is None:
            env = " or ".join(spec.key_env) or f"DSPY_TUI_{provider_id.upper()}_API_KEY"
            raise ValueError(
                f"No API key for {spec.label}: run `dspy-tui keys set {provider_id}` or set {env}."
            )
    budgeted = budget is not None and (budget.limit_usd is not None or label in budget.per_model)
    if budgeted and price_for(provider_id, model_id, rt.price_overrides) is None:
        raise ValueError(
            f"dspy-tui knows no price for {label}, so a budget cannot be enforced for it; "
            "give its price in the config (under [[models]]: price = {input = ..., output = ...}, USD per 1M tokens) or run without a budget."
        )
    if max_tokens is None:
        reasoning = provider_id == "openai" and _OPENAI_REASONING.match(model_id)
        max_tokens = REASONING_MAX_TOKENS if reasoning else DEFAULT_MAX_TOKENS
    if connect_timeout is not None:
        total = as_timeouts(timeout)
        timeout = Timeouts(total=total.total, connect=connect_timeout, read=total.read)
    endpoint = Endpoint(spec, model_id, base_url, key, max_tokens_default=max_tokens)
    shared: dict[str, Any] = dict(
        budget=budget,
        cache=cache,
        bus=bus,
        model_label=label,
        session_id=session_id,
        timeout=timeout,
        runtime=runtime,
        gate=gate,
        on_fatal=on_fatal,
    )
    return LM(
        dspy_model_name(provider_id, model_id, base_url),
        engine=SyncEngine(endpoint, **shared),
        async_engine=AsyncEngine(endpoint, **shared),
        cache=False,
        num_retries=num_retries,
        max_tokens=max_tokens,
        temperature=temperature,
    )


def _is_local_url(base_url: str) -> bool:
    host = (urlsplit(base_url).hostname or "").lower()
    return host in ("localhost", "0.0.0.0", "::1") or host.startswith("127.")


def _merged_limits(provider_id: str, limits: LimitConfig | Mapping[str, Any], rt: Runtime) -> LimitConfig:
    """User limits on top of the provider's current ones; unset fields keep theirs."""
    if isinstance(limits, LimitConfig):
        return limits
    current = limits_for(provider_id, rt.limit_overrides)
    given = {name: value for name, value in limits.items() if value is not None}
    return replace(current, **given)
