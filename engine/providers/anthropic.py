"""Anthropic Messages API (`POST /v1/messages`).

Anthropic requires `max_tokens`, caps temperature at 1 (lm15 allows 2: we
clamp, as lm15 prescribes) and has no `seed`: a seed is accepted and not sent,
since it is a best-effort hint everywhere and dropping it changes no answer
that was ever guaranteed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dspy.lm15 import ProviderError, Request, Response

from . import _http, wire_names
from .base import Endpoint, WireRequest

API_VERSION = "2023-06-01"
ACCEPTED = frozenset({"max_tokens", "temperature", "top_p", "stop", "seed"})

_FINISH = wire_names.finish_reasons("anthropic")
_USAGE = wire_names.usage_fields("anthropic")


def build(request: Request, endpoint: Endpoint) -> WireRequest:
    _http.refuse_unsupported(request, endpoint, ACCEPTED)
    config = request.config
    body: dict[str, Any] = {
        "model": endpoint.model,
        "max_tokens": config.max_tokens or endpoint.max_tokens_default,
        "messages": [{"role": role, "content": text} for role, text in _http.turns(request, endpoint)],
    }
    system = _http.system_text(request, endpoint)
    optional: dict[str, Any] = {
        "system": system,
        "temperature": None if config.temperature is None else min(config.temperature, 1.0),
        "top_p": config.top_p,
        "stop_sequences": list(config.stop) or None,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
    if endpoint.key:
        headers["x-api-key"] = endpoint.key
    return WireRequest("POST", _http.url(endpoint, "/v1/messages"), headers, body)


def parse(body: Any, endpoint: Endpoint) -> Response:
    if not isinstance(body, dict):
        raise _http.unreadable(endpoint, "the body is not a JSON object")
    blocks = _http.field(body, "content", endpoint, "content", list)
    return _http.make_response(
        endpoint,
        id=body.get("id"),
        model=body.get("model"),
        text=_http.text_of(blocks, lambda block: block.get("type") == "text"),
        finish_reason=_http.finish(body.get("stop_reason"), _FINISH),
        usage=_http.usage(body.get("usage"), _USAGE),
    )


def error(status: int, headers: Mapping[str, str], body: bytes, endpoint: Endpoint) -> ProviderError:
    """An empty prepaid balance comes back as a 400 invalid_request_error;
    its message ("credit balance is too low") is the only sign of it."""
    info = _http.read_error_body(body, endpoint)
    broke = status == 400 and "credit balance" in (info.message or "").lower()
    return _http.http_error(status, headers, info, endpoint, billing=broke)
