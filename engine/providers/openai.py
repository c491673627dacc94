"""OpenAI chat completions: the wire of OpenAI and of every OpenAI-compatible host.

The output cap goes out as `max_completion_tokens` to OpenAI's own hosts (its
reasoning models refuse the deprecated `max_tokens`), chosen by host so that
`openai/` aimed at a local server still caps its answers, and as `max_tokens` to
every other host (Groq, Together, Fireworks, OpenRouter, Ollama, vLLM, LM
Studio, ...), the field they all read. Both are in the spec's
CreateChatCompletionRequest, so both bodies validate against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from dspy.lm15 import ProviderError, Request, Response

from . import _http, wire_names
from .base import Endpoint, WireRequest

ACCEPTED = frozenset({"max_tokens", "temperature", "top_p", "stop", "seed", "response_format"})

_FINISH = wire_names.finish_reasons("openai")
_USAGE = wire_names.usage_fields("openai")


def build(request: Request, endpoint: Endpoint) -> WireRequest:
    _http.refuse_unsupported(request, endpoint, ACCEPTED)
    messages: list[dict[str, str]] = []
    system = _http.system_text(request, endpoint)
    if system is not None:
        messages.append({"role": "system", "content": system})
    messages.extend({"role": role, "content": text} for role, text in _http.turns(request, endpoint))
    config = request.config
    cap = "max_completion_tokens" if is_openai_host(endpoint.base_url) else "max_tokens"
    optional: dict[str, Any] = {
        cap: config.max_tokens,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "stop": list(config.stop) or None,
        "seed": config.seed,
        "response_format": _response_format(config.response_format),
    }
    body: dict[str, Any] = {"model": endpoint.model, "messages": messages}
    body.update({key: value for key, value in optional.items() if value is not None})
    headers = {"Content-Type": "application/json"}
    if endpoint.key:
        headers["Authorization"] = f"Bearer {endpoint.key}"
    return WireRequest("POST", _http.url(endpoint, "/chat/completions"), headers, body)


def is_openai_host(base_url: str) -> bool:
    """OpenAI's own API (and Azure's): the hosts that read `max_completion_tokens`."""
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "api.openai.com" or host.endswith((".openai.com", ".openai.azure.com"))


def _response_format(fmt: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """DSPy's JSON adapter asks for JSON mode or a schema; hosts that enforce it (llama.cpp, vLLM) then do."""
    if not fmt:
        return None
    if fmt.get("type") != "json_schema":
        return {"type": "json_object"}
    schema = {"name": fmt.get("name") or "output", "schema": fmt["schema"]}
    if "strict" in fmt:
        schema["strict"] = fmt["strict"]
    return {"type": "json_schema", "json_schema": schema}


def parse(body: Any, endpoint: Endpoint) -> Response:
    if not isinstance(body, dict):
        raise _http.unreadable(endpoint, "the body is not a JSON object")
    choices = _http.field(body, "choices", endpoint, "choices", list)
    if not choices:
        raise _http.unreadable(endpoint, "it has no choices")
    message = _http.field(choices[0], "message", endpoint, "choices[0].message", dict)
    return _http.make_response(
        endpoint,
        id=body.get("id"),
        model=body.get("model"),
        text=_content(message.get("content"), endpoint),
        finish_reason=_http.finish(choices[0].get("finish_reason"), _FINISH),
        usage=_http.usage(body.get("usage"), _USAGE),
        refusal=message.get("refusal"),
    )


def _content(content: Any, endpoint: Endpoint) -> str:
    """A string, null (no text) or, from some compatible hosts, a list of text parts."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(isinstance(_http.dig(part, "text"), str) for part in content):
        return "".join(part["text"] for part in content)
    raise _http.unreadable(
        endpoint, f"choices[0].message.content should be text, got {type(content).__name__}"
    )


def error(status: int, headers: Mapping[str, str], body: bytes, endpoint: Endpoint) -> ProviderError:
    """OpenAI answers 429 both for "slow down" and for "out of credit";
    only the body's code (`insufficient_quota`) tells them apart."""
    info = _http.read_error_body(body, endpoint)
    out_of_quota = status == 429 and "insufficient_quota" in (info.code, info.kind)
    return _http.http_error(status, headers, info, endpoint, billing=out_of_quota)
