"""What the three HTTP wire formats share.

Reading error bodies, Retry-After, token counts, the HTTP-status-to-`dspy.lm15`
error mapping and the checks on what a request may carry live here once, so
OpenAI, Anthropic and Gemini map the same failure the same way and a fix to
one rule reaches every provider.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from dspy.lm15 import (
    AuthError,
    BillingError,
    ContextLengthError,
    FinishReason,
    InvalidRequestError,
    Message,
    ProviderError,
    RateLimitError,
    RefusalPart,
    Request,
    Response,
    ServerError,
    TextPart,
    UnsupportedFeatureError,
    UnsupportedModelError,
    Usage,
)
from dspy.lm15 import TimeoutError as RequestTimeoutError

from .base import Endpoint

MESSAGE_LIMIT = 300  # characters of a provider's own error message we pass on

# Every Config knob DSPy could set. One a wire does not accept is refused: a knob
# silently dropped would change an experiment without anyone noticing.
_CONFIG_KNOBS = (
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "response_format",
    "tool_choice",
    "reasoning",
    "service_tier",
    "user_id",
    "store",
    "logprobs",
    "probabilities",
    "extensions",
)

_CONTEXT_LENGTH = re.compile(
    r"context length|context window|maximum context|prompt is too long|input is too long"
    r"|too many tokens|exceeds the maximum number of tokens",
    re.IGNORECASE,
)


# ── requests ──────────────────────────────────────────────────────────


def refuse_unsupported(request: Request, endpoint: Endpoint, accepted: frozenset[str]) -> None:
    """Raise when the request sets a knob not in `accepted`, the ones this wire sends."""
    label = endpoint.provider.label
    if request.tools:
        raise UnsupportedFeatureError(
            f"{label}: dspy-tui does not send tools on this wire",
            feature="tools",
            provider=endpoint.provider.id,
        )
    for name in _CONFIG_KNOBS:
        value = getattr(request.config, name)
        if name not in accepted and value not in (None, ()):
            raise UnsupportedFeatureError(
                f"{label}: dspy-tui does not send config.{name} on this wire",
                feature=f"config.{name}",
                provider=endpoint.provider.id,
            )


def system_text(request: Request, endpoint: Endpoint) -> str | None:
    """The system prompt as one string (lm15 allows a tuple of text parts)."""
    system = request.system
    if system is None or isinstance(system, str):
        return system
    if not all(isinstance(part, TextPart) for part in system):
        raise UnsupportedFeatureError(
            f"{endpoint.provider.label}: dspy-tui sends text-only system prompts",
            feature="system",
            provider=endpoint.provider.id,
        )
    return "".join(part.text for part in system)


def turns(request: Request, endpoint: Endpoint) -> list[tuple[str, str]]:
    """(role, text) of each message; DSPy sends user/assistant text turns only."""
    out: list[tuple[str, str]] = []
    for index, message in enumerate(request.messages):
        text = message.text
        if message.role not in ("user", "assistant") or text is None:
            kinds = ", ".join(sorted({part.type for part in message.parts}))
            raise UnsupportedFeatureError(
                f"{endpoint.provider.label}: dspy-tui sends user/assistant text messages only; "
                f"messages[{index}] (role {message.role}) has {kinds} parts",
                feature=f"messages[{index}]",
                provider=endpoint.provider.id,
            )
        out.append((message.role, text))
    return out


def url(endpoint: Endpoint, path: str) -> str:
    return endpoint.base_url.rstrip("/") + path


# ── responses ─────────────────────────────────────────────────────────


def unreadable(endpoint: Endpoint, what: str) -> ProviderError:
    """The error for a 2xx body we cannot turn into a Response."""
    return ProviderError(
        f"{endpoint.provider.label} sent a response dspy-tui could not read: {what}",
        provider=endpoint.provider.id,
        provider_code="unreadable_response",
    )


_JSON_NAMES: dict[type, str] = {dict: "JSON object", list: "JSON array", str: "string"}


def field(container: Any, key: str, endpoint: Endpoint, where: str, kind: type) -> Any:
    """`container[key]`, which must be a `kind`; `where` names it in the error."""
    value = container.get(key) if isinstance(container, dict) else None
    if not isinstance(value, kind):
        got = "nothing" if value is None else type(value).__name__
        raise unreadable(endpoint, f"{where} should be a {_JSON_NAMES[kind]}, got {got}")
    return value


def optional(container: Any, key: str, endpoint: Endpoint, where: str, kind: type) -> Any:
    """Like `field`, but an absent (or null) value is fine and gives None."""
    if not isinstance(container, dict) or container.get(key) is None:
        return None
    return field(container, key, endpoint, where, kind)


def dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]...`, or None as soon as a level is missing or not an object."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def count(value: Any) -> int | None:
    """A token count, or None when the provider did not give a sane one."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def text_of(parts: list[Any], keep: Callable[[dict[str, Any]], bool]) -> str:
    """The answer in a list of content parts: the string `text` of each part (a JSON object)
    that `keep` accepts, joined; parts of other shapes are passed over."""
    return "".join(
        part["text"]
        for part in parts
        if isinstance(part, dict) and isinstance(part.get("text"), str) and keep(part)
    )


def usage(raw: Any, fields: Mapping[str, str]) -> Usage:
    """A wire's usage object as DSPy's Usage: each Usage field read from the wire's key for it (a
    dotted path for a nested one) as a count, None where not sane; Usage() without a usage object."""
    if not isinstance(raw, dict):
        return Usage()
    return Usage(**{name: count(dig(raw, *path.split("."))) for name, path in fields.items()})


def finish(raw: Any, table: Mapping[str, FinishReason]) -> FinishReason:
    """Map a provider's stop reason; unknown or absent ones count as a normal stop."""
    return table.get(raw, "stop") if isinstance(raw, str) else "stop"


def make_response(
    endpoint: Endpoint,
    *,
    id: Any,
    model: Any,
    text: str,
    finish_reason: FinishReason,
    usage: Usage,
    refusal: Any = None,
) -> Response:
    """Build the Response, keeping only well-formed id/model values.

    A refusal with no text becomes a RefusalPart so the reason is kept.
    """
    if not text and isinstance(refusal, str) and refusal:
        message = Message.assistant((RefusalPart(refusal),))
        finish_reason = "content_filter"
    else:
        message = Message.assistant((TextPart(text),))
    return Response(
        id=id if isinstance(id, str) and id else None,
        model=model if isinstance(model, str) and model else endpoint.model,
        message=message,
        finish_reason=finish_reason,
        usage=usage,
    )


# ── errors ────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class ErrorBody:
    """What a provider said in an error body; `data` is the decoded JSON, if any."""

    message: str | None
    code: str | None  # e.g. OpenAI "insufficient_quota"
    kind: str | None  # e.g. Anthropic "overloaded_error", Google "RESOURCE_EXHAUSTED"
    data: Any = None


def read_error_body(body: bytes, endpoint: Endpoint) -> ErrorBody:
    """Read the OpenAI, Anthropic and Google error shapes, and the loose
    ones of OpenAI-compatible servers ({"error": "..."}, {"message": ...},
    {"detail": ...}). A non-JSON body (a proxy's HTML page) is kept as text."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", errors="replace")
        return ErrorBody(_clean(text, endpoint) or None, None, None)
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        source: dict[str, Any] = error
    elif isinstance(data, dict):
        source = {"message": error if isinstance(error, str) else data.get("message") or data.get("detail")}
        source.update({k: data[k] for k in ("code", "type") if k in data})
    else:
        source = {}
    message = source.get("message")
    code = source.get("code")
    kind = source.get("type") or source.get("status")
    return ErrorBody(
        message=(_clean(message, endpoint) or None) if isinstance(message, str) else None,
        code=code if isinstance(code, str) else None,  # numeric codes only echo the HTTP status
        kind=kind if isinstance(kind, str) else None,
        data=data,
    )


def _clean(text: str, endpoint: Endpoint) -> str:
    """One line, at most MESSAGE_LIMIT characters, never the key."""
    if endpoint.key:
        text = text.replace(endpoint.key, "[redacted]")
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup (aiohttp's headers are, a plain dict is not)."""
    name = name.lower()
    return next((value for key, value in headers.items() if key.lower() == name), None)


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait, from `retry-after-ms` (OpenAI) or `Retry-After`
    (seconds or an HTTP date); None when absent or unreadable."""
    millis = _seconds(header(headers, "retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = header(headers, "retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def http_error(
    status: int,
    headers: Mapping[str, str],
    info: ErrorBody,
    endpoint: Endpoint,
    *,
    billing: bool = False,
    auth: bool = False,
    wait: float | None = None,
) -> ProviderError:
    """The `dspy.lm15` error for a non-2xx answer.

    `billing` and `auth` let a wire override the status (OpenAI's
    insufficient_quota 429, Gemini's 400 for a bad key); `wait` is a retry
    hint found in the body when the headers have none.
    """
    spec = endpoint.provider
    label = spec.label

    meta: dict[str, Any] = {
        "provider": spec.id,
        "status": status,
        "provider_code": info.code or info.kind,
        "request_id": header(headers, "x-request-id") or header(headers, "request-id"),
    }
    if billing or status == 402:
        return BillingError(_said(info, f"{label} refused the request for billing or quota reasons"), **meta)
    if auth or status in (401, 403):
        return _auth_error(endpoint, info, meta)
    if status == 429:
        delay = retry_after(headers)
        return RateLimitError(
            _said(info, f"{label} is rate limiting requests"),
            retry_after=delay if delay is not None else wait,
            **meta,
        )
    if status == 404:
        return UnsupportedModelError(
            _said(
                info,
                f"{label} found no model '{endpoint.model}' at {endpoint.base_url} (check the model id and base URL)",
            ),
            **meta,
        )
    if status in (400, 413, 422):
        if info.message and _CONTEXT_LENGTH.search(info.message):
            return ContextLengthError(
                _said(info, f"{label} says the prompt is too long for '{endpoint.model}'"), **meta
            )
        return InvalidRequestError(_said(info, f"{label} rejected the request as invalid"), **meta)
    if status == 408:
        return RequestTimeoutError(_said(info, f"{label} timed out before answering"), **meta)
    if 500 <= status <= 599:
        what = "is overloaded" if status in (503, 529) else "had a server error"
        return ServerError(_said(info, f"{label} {what}"), retry_after=retry_after(headers), **meta)
    return ProviderError(_said(info, f"{label} answered with unexpected HTTP status {status}"), **meta)


def _said(info: ErrorBody, what: str) -> str:
    """Our sentence, then the provider's own words when it gave any."""
    return f"{what}: {info.message}" if info.message else what


def _auth_error(endpoint: Endpoint, info: ErrorBody, meta: dict[str, Any]) -> AuthError:
    """Say whose key was refused and where it came from; never the key."""
    spec = endpoint.provider
    where = "the keyring" + (f" or {' / '.join(spec.key_env)}" if spec.key_env else "")
    if endpoint.key is None:
        message = _said(info, f"{spec.label} asked for an API key, but none was sent")
        hint = f"Store an API key for {spec.label} ({where})"
    else:
        message = _said(info, f"{spec.label} refused the API key")
        hint = f"Check the {spec.label} API key in {where}: it may be wrong, expired or lack access to this model"
    return AuthError(message, env_keys=spec.key_env, credential_hint=hint, **meta)
