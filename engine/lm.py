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
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from dspy.clients.engines.base import validate_request
from dspy.clients.lm import LM
from dspy.lm15 import Request, Response, response_to_events

from dspy_tui.storage.secrets import REDACTED

from . import local_models as local
from . import local_server
from .call_context import CallContext, ModelHealth, ModelLink, ModelOptions
from .call_errors import CallCancelled
from .limits import LimitConfig, default_limits
from .pricing import resolve_price, unpriced_under_budget
from .providers import registry
from .providers.base import Endpoint, ProviderSpec
from .runtime import OFFLINE_BASE_URL, Runtime

log = logging.getLogger(__name__)

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
    """Shared state of the sync and async engines of one `dspy.LM`: its `ModelLink`."""

    def __init__(self, link: ModelLink, runtime: Runtime | None = None) -> None:
        self.link = link
        self.endpoint = link.endpoint
        self.runtime = runtime  # None: the process runtime, looked up per call (survives shutdown in tests)
        fields = _wire_fields(link.endpoint.provider)
        features = model_features(link.endpoint.provider.id, link.endpoint.model)
        self.supported_params = frozenset(fields)
        self.supports_function_calling = _TOOLS in features and _TOOLS in fields
        self.supports_response_schema = _SCHEMA in features and _SCHEMA in fields
        self.supports_reasoning = _REASONING in features and _REASONING in fields

    def _failed(self, exc: BaseException) -> None:
        """A cancelled call re-checks the gate, so a stopped session stops with its own signal."""
        gate = self.link.context.gate
        if isinstance(exc, CallCancelled) and gate is not None:
            gate()

    def __deepcopy__(self, memo: dict[int, Any]) -> _Engine:
        return self  # optimizers deep-copy programs; the engine (and its budget) must stay shared

    def __copy__(self) -> _Engine:
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.link.label} @ {self.endpoint.base_url})"

    def _call(self, request: Request) -> Any:
        validate_request(request)
        gate = self.link.context.gate
        if gate is not None:
            gate()
        self.link.health.check()
        runtime = self.runtime or Runtime.get()
        return runtime, runtime.call(self.link, request)


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


def _unless_withheld(spec: ProviderSpec, url: str | None) -> str | None:
    """A base URL from a stored config whose credential was redacted when it was stored can only be
    given back by the environment: sending `<redacted>` as a password would only earn a 401."""
    if url is None or REDACTED not in url:
        return url
    variable = registry.base_url_variable(spec)
    if not os.environ.get(variable, "").strip():
        raise ValueError(
            f"The {spec.label} base URL {url} carried a credential, which dspy-tui never stores: "
            f"set {variable} to the full URL to go on."
        )
    return None


def make_lm(
    model_string: str,
    *,
    keys: Callable[[str], str | None],
    context: CallContext | None = None,
    options: ModelOptions | None = None,
    runtime: Runtime | None = None,
) -> LM:
    """A `dspy.LM` for `provider/model` that runs on the dspy-tui runtime.

    `context` is the session's (budget, cache, bus, timeouts, retries, gate,
    ...); `options` this model's own settings (price, limits, base URL,
    max_tokens, temperature). Base URL: `options.base_url`, else
    `context.base_urls[model or provider id]`, else
    `DSPY_TUI_<PROVIDER>_BASE_URL`, else the provider's default.
    `keys(provider_id)` returns the API key or None. Raises ValueError with
    one clear sentence for an unknown provider, a missing key or base URL,
    or an unpriced model under a budget.
    """
    ctx = context or CallContext()
    opts = options or ModelOptions()
    provider_id, model_id = registry.split_model(model_string)
    spec = registry.get_spec(provider_id)
    label = f"{provider_id}/{model_id}"
    key: str | None = None
    limits = _limits(provider_id, opts.limits)
    if spec.offline:
        from .providers import offline  # imported by sessions that use it only

        offline.get_variant(model_id)  # an unknown variant fails now, not at the first call
        base_url = OFFLINE_BASE_URL
    elif spec.managed:  # a GGUF we serve ourselves; the server starts at the model's first call
        base_url = local_server.SERVERS.register(local.resolve(model_id, ctx.local_models))
        if limits is not None:  # the server's slots are the cap: more would only queue inside the server
            limits = replace(limits, concurrency=min(limits.concurrency, local_server.SLOTS))
    else:
        base_url = _http_base_url(spec, label, opts.base_url, ctx.base_urls)
        warning = local_url_warning(label, base_url)
        if warning:
            log.warning("%s", warning)
        key = keys(provider_id) or None
        if key and spec.wire == "openai" and urlsplit(base_url).username is not None:
            raise ValueError(
                f"The {spec.label} base URL carries a user name or password, which cannot travel "
                "next to the API key's Authorization header: take them out of the URL."
            )
        if spec.needs_key and key is None:
            env = " or ".join(spec.key_env) or f"DSPY_TUI_{provider_id.upper()}_API_KEY"
            raise ValueError(
                f"No API key for {spec.label}: run `dspy-tui keys set {provider_id}` or set {env}."
            )
    price = resolve_price(label, opts.price)
    if price is None and ctx.budget is not None and ctx.budget.caps(label):
        raise ValueError(unpriced_under_budget(label))
    max_tokens = opts.max_tokens
    if max_tokens is None:
        reasoning = provider_id == "openai" and _OPENAI_REASONING.match(model_id)
        max_tokens = REASONING_MAX_TOKENS if reasoning else DEFAULT_MAX_TOKENS
    endpoint = Endpoint(spec, model_id, base_url, key, max_tokens_default=max_tokens)
    link = ModelLink(
        endpoint=endpoint,
        label=label,
        context=ctx,
        price=price,
        limits=limits,
        health=ModelHealth(label, ctx.breaker_after),
    )
    return LM(
        dspy_model_name(provider_id, model_id, base_url),
        engine=SyncEngine(link, runtime),
        async_engine=AsyncEngine(link, runtime),
        cache=False,
        num_retries=ctx.num_retries,
        max_tokens=max_tokens,
        temperature=opts.temperature,
    )


def _http_base_url(spec: ProviderSpec, label: str, own: str | None, urls: Mapping[str, str]) -> str:
    """Where a model is called: its own base URL, the session's for it or its provider, the env, the default."""
    return registry.base_url_for(spec, _unless_withheld(spec, own or urls.get(label) or urls.get(spec.id)))


def url_warnings(models: list[tuple[str, str | None]], base_urls: Mapping[str, str]) -> list[str]:
    """`local_url_warning` for each (model, own base URL) of a config, before any LM is made (the form)."""
    out = []
    for model, own in models:
        try:
            provider_id, model_id = registry.split_model(model)
            spec = registry.get_spec(provider_id)
            if spec.offline or spec.managed:
                continue
            label = f"{provider_id}/{model_id}"
            warning = local_url_warning(label, _http_base_url(spec, label, own, base_urls))
        except ValueError:  # an unknown provider or no usable URL: the estimate or the run says so
            continue
        if warning:
            out.append(warning)
    return out


def local_url_warning(label: str, base_url: str) -> str | None:
    """One sentence when `openai/...` is aimed at a server on this machine, else None."""
    provider_id, _, model_id = label.partition("/")
    host = (urlsplit(base_url).hostname or "").lower()
    if provider_id != "openai" or not (host in ("localhost", "0.0.0.0", "::1") or host.startswith("127.")):
        return None
    return (
        f"{label} points at a local server ({base_url}) but is priced and treated as OpenAI; name it "
        f"openai-compatible/{model_id} (or local/ for a GGUF dspy-tui serves itself)."
    )


def _limits(provider_id: str, limits: LimitConfig | Mapping[str, Any] | None) -> LimitConfig | None:
    """A model's own limits on top of its provider's defaults; unset fields keep theirs."""
    if limits is None or isinstance(limits, LimitConfig):
        return limits
    given = {name: value for name, value in limits.items() if value is not None}
    return replace(default_limits(provider_id), **given) if given else None
