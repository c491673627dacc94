"""Google Gemini `generateContent` (Generative Language API, v1beta).

The key travels in the `x-goog-api-key` header. The spec only documents the
`?key=` query parameter, but a key in a URL ends up in logs and in aiohttp's
exception messages; the header is accepted by the same endpoint.

The spec's GenerationConfig has no `seed`, so a seed is accepted and not sent
(it is a best-effort hint on every provider).

A 429 RESOURCE_EXHAUSTED is a RateLimitError, except when Google gives no retry
hint and its message speaks of billing or credits: then waiting will not help
and it is a BillingError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from dspy.lm15 import ProviderError, Request, Response

from . import _http, wire_names
from .base import Endpoint, WireRequest

ACCEPTED = frozenset({"max_tokens", "temperature", "top_p", "stop", "seed"})

_FINISH = wire_names.finish_reasons("gemini")
_USAGE = wire_names.usage_fields("gemini")

_NOT_BLOCKED = ("", "BLOCK_REASON_UNSPECIFIED")  # the enum's zero value means no block


def build(request: Request, endpoint: Endpoint) -> WireRequest:
    _http.refuse_unsupported(request, endpoint, ACCEPTED)
    config = request.config
    body: dict[str, Any] = {
        "contents": [
            {"role": "model" if role == "assistant" else "user", "parts": [{"text": text}]}
            for role, text in _http.turns(request, endpoint)
        ]
    }
    system = _http.system_text(request, endpoint)
    if system is not None:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    generation: dict[str, Any] = {
        "maxOutputTokens": config.max_tokens,
        "temperature": config.temperature,
        "topP": config.top_p,
        "stopSequences": list(config.stop) or None,
    }
    generation = {key: value for key, value in generation.items() if value is not None}
    if generation:
        body["generationConfig"] = generation
    headers = {"Content-Type": "application/json"}
    if endpoint.key:
        headers["x-goog-api-key"] = endpoint.key
    model = quote(endpoint.model.removeprefix("models/"), safe="-._~")
    return WireRequest("POST", _http.url(endpoint, f"/v1beta/models/{model}:generateContent"), headers, body)


def parse(body: Any, endpoint: Endpoint) -> Response:
    if not isinstance(body, dict):
        raise _http.unreadable(endpoint, "the body is not a JSON object")
    label = endpoint.provider.label
    blocked = _http.dig(body, "promptFeedback", "blockReason")
    if isinstance(blocked, str) and blocked not in _NOT_BLOCKED:
        raise ProviderError(
            f"{label} blocked the prompt: {blocked}", provider=endpoint.provider.id, provider_code=blocked
        )
    candidates = _http.optional(body, "candidates", endpoint, "candidates", list)
    if not candidates:
        raise ProviderError(
            f"{label} returned no candidates", provider=endpoint.provider.id, provider_code="no_candidates"
        )
    candidate = candidates[0]
    if not isinstance(candidate, dict):
        raise _http.unreadable(endpoint, "candidates[0] should be a JSON object")
    content = _http.optional(candidate, "content", endpoint, "candidates[0].content", dict)
    parts = _http.optional(content, "parts", endpoint, "candidates[0].content.parts", list) or []
    return _http.make_response(
        endpoint,
        id=body.get("responseId"),
        model=body.get("modelVersion"),
        text=_http.text_of(parts, lambda part: part.get("thought") is not True),  # thoughts: not the answer
        finish_reason=_http.finish(candidate.get("finishReason"), _FINISH),
        usage=_http.usage(body.get("usageMetadata"), _USAGE),
    )


def error(status: int, headers: Mapping[str, str], body: bytes, endpoint: Endpoint) -> ProviderError:
    """Google answers a bad key with 400 INVALID_ARGUMENT (reason API_KEY_INVALID),
    puts the retry delay of a 429 in the body (google.rpc.RetryInfo), and says
    `limit: 0` when the plan has no quota for the model (waiting cannot help)."""
    info = _http.read_error_body(body, endpoint)
    details = _http.dig(info.data, "error", "details")
    details = [item for item in details if isinstance(item, dict)] if isinstance(details, list) else []
    bad_key = any(item.get("reason") == "API_KEY_INVALID" for item in details) or (
        status == 400 and "api key not valid" in (info.message or "").lower()
    )
    wait = _retry_delay(details)
    message = info.message or ""
    billing = status == 429 and (
        # "Quota exceeded for metric: ..., limit: 0": no quota at all on this plan, whatever RetryInfo says
        re.search(r"\blimit:\s*0\b", message) is not None
        or (
            wait is None
            and _http.retry_after(headers) is None
            and re.search(r"billing|credits", message, re.IGNORECASE) is not None
        )
    )
    return _http.http_error(status, headers, info, endpoint, billing=billing, auth=bad_key, wait=wait)


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    """Seconds from a RetryInfo detail's `retryDelay` ("37s", "1.5s")."""
    for item in details:
        delay = item.get("retryDelay")
        if str(item.get("@type", "")).endswith("google.rpc.RetryInfo") and isinstance(delay, str):
            match = re.fullmatch(r"(\d+(?:\.\d+)?)s", delay.strip())
            if match:
                return float(match.group(1))
    return None
