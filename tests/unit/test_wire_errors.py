"""Error mapping, response reading and the provider registry, without a network."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from dspy import lm15
from dspy.lm15 import TimeoutError as RequestTimeoutError

from dspy_tui.engine.providers import _http, anthropic, gemini, openai
from dspy_tui.engine.providers.base import Endpoint
from dspy_tui.engine.providers.registry import all_specs, base_url_for, get_spec, split_model, wire_for

KEY = "sk-unit-SECRET-0123456789"
WIRES = {"openai": openai, "anthropic": anthropic, "gemini": gemini}


def endpoint(provider_id: str, key: str | None = KEY) -> Endpoint:
    spec = get_spec(provider_id)
    return Endpoint(spec, "model-x", base_url_for(spec, env={}), key=key)


def error_body(provider_id: str, message: str, code: str | None = None, kind: str = "error") -> bytes:
    """The error body each provider family really sends."""
    if provider_id == "anthropic":
        return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
    if provider_id == "gemini":
        return json.dumps({"error": {"code": 400, "message": message, "status": kind}}).encode()
    return json.dumps({"error": {"message": message, "type": kind, "code": code, "param": None}}).encode()


def error_for(provider_id: str, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
    ep = endpoint(provider_id)
    return WIRES[ep.provider.wire].error(status, headers or {}, body, ep)


# ── status mapping ────────────────────────────────────────────────────


@pytest.mark.parametrize("provider_id", ["openai", "anthropic", "gemini", "groq"])
def test_429_with_retry_after_seconds(provider_id: str) -> None:
    err = error_for(provider_id, 429, error_body(provider_id, "slow down"), {"Retry-After": "17"})
    assert isinstance(err, lm15.RateLimitError) and isinstance(err, lm15.RETRYABLE_ERRORS)
    assert err.retry_after == 17.0 and err.status == 429 and err.provider == provider_id
    assert "slow down" in str(err)


@pytest.mark.parametrize("provider_id", ["openai", "anthropic", "gemini"])
def test_429_without_retry_after_has_no_invented_wait(provider_id: str) -> None:
    err = error_for(provider_id, 429, error_body(provider_id, "slow down"))
    assert isinstance(err, lm15.RateLimitError)
    assert err.retry_after is None


def test_retry_after_as_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    err = error_for("openai", 429, b"{}", {"retry-after": format_datetime(when, usegmt=True)})
    assert isinstance(err, lm15.RateLimitError)
    assert 100 < err.retry_after <= 120


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2.5"}, 2.5),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),  # OpenAI's finer hint wins
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past: no wait
        ({"Retry-After": "Thu, 01 Jan 2026 00:01:30 GMT"}, 90.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "-3"}, None),
        ({"Retry-After": "inf"}, None),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers: dict[str, str], expected: float | None) -> None:
    assert _http.retry_after(headers, now=datetime(2026, 1, 1, tzinfo=UTC)) == expected


def test_insufficient_quota_is_billing_not_rate_limit() -> None:
    body = error_body(
        "openai", "You exceeded your current quota, please check your plan.", "insufficient_quota"
    )
    err = error_for("openai", 429, body, {"Retry-After": "1"})
    assert isinstance(err, lm15.BillingError) and not isinstance(err, lm15.RETRYABLE_ERRORS)
    assert "OpenAI refused the request for billing or quota reasons" in str(err)
    assert "exceeded your current quota" in str(err)


@pytest.mark.parametrize("provider_id", ["openai", "anthropic", "gemini", "openrouter"])
@pytest.mark.parametrize("status", [401, 403])
def test_refused_key_names_the_provider_and_never_the_key(provider_id: str, status: int) -> None:
    body = error_body(provider_id, f"Incorrect API key provided: {KEY}.")  # some hosts echo the key
    err = error_for(provider_id, status, body)
    label = get_spec(provider_id).label
    assert isinstance(err, lm15.AuthError)
    assert f"{label} refused the API key" in str(err)
    assert all(KEY not in text for text in (str(err), repr(err), err.message, str(err.args)))
    assert "[redacted]" in str(err)
    assert get_spec(provider_id).key_env[0] in str(err)  # says where the key came from


def test_missing_key_on_a_local_host_says_none_was_sent() -> None:
    ep = endpoint("vllm", key=None)
    err = openai.error(401, {}, b'{"error": "Unauthorized"}', ep)
    assert isinstance(err, lm15.AuthError)
    assert "vLLM asked for an API key, but none was sent" in str(err)


@pytest.mark.parametrize("provider_id", ["openai", "anthropic", "vllm"])
def test_missing_key_hint_reads_right_for_any_provider_name(provider_id: str) -> None:
    """Never "Store a OpenAI API key": the provider's name comes last, so no article has to agree with it."""
    ep = endpoint(provider_id, key=None)
    err = WIRES[ep.provider.wire].error(401, {}, b'{"error": "Unauthorized"}', ep)
    assert err.credential_hint.startswith(f"Store an API key for {ep.provider.label} (the keyring")


def test_gemini_bad_key_comes_as_400_and_is_an_auth_error() -> None:
    body = json.dumps(
        {
            "error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
                ],
            }
        }
    ).encode()
    err = error_for("gemini", 400, body)
    assert isinstance(err, lm15.AuthError) and "Gemini refused the API key" in str(err)


def test_gemini_retry_delay_in_the_body_is_the_retry_hint() -> None:
    body = json.dumps(
        {
            "error": {
                "code": 429,
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}],
            }
        }
    ).encode()
    err = error_for("gemini", 429, body)
    assert isinstance(err, lm15.RateLimitError) and err.retry_after == 37.0
    assert err.provider_code == "RESOURCE_EXHAUSTED"


def test_gemini_limit_0_is_an_exhausted_quota_even_with_a_retry_delay() -> None:
    body = json.dumps(
        {
            "error": {
                "code": 429,
                "message": "You exceeded your current quota. Quota exceeded for metric: "
                "generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 0, model: gemini-2.5-pro",
                "status": "RESOURCE_EXHAUSTED",
                "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}],
            }
        }
    ).encode()
    assert isinstance(error_for("gemini", 429, body), lm15.BillingError)
    some_left = body.replace(b"limit: 0,", b"limit: 10,")
    assert isinstance(error_for("gemini", 429, some_left), lm15.RateLimitError)


def test_gemini_quota_without_a_retry_hint_that_speaks_of_billing_is_billing() -> None:
    body = error_body(
        "gemini", "Your prepayment credits are depleted. Please go to billing.", kind="RESOURCE_EXHAUSTED"
    )
    assert isinstance(error_for("gemini", 429, body), lm15.BillingError)
    plain = error_body("gemini", "Resource has been exhausted (e.g. check quota).", kind="RESOURCE_EXHAUSTED")
    assert isinstance(error_for("gemini", 429, plain), lm15.RateLimitError)


def test_anthropic_empty_balance_is_billing() -> None:
    body = error_body(
        "anthropic",
        "Your credit balance is too low to access the Anthropic API.",
        kind="invalid_request_error",
    )
    assert isinstance(error_for("anthropic", 400, body), lm15.BillingError)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 529])
@pytest.mark.parametrize("provider_id", ["openai", "anthropic", "gemini"])
def test_5xx_is_a_retryable_server_error(provider_id: str, status: int) -> None:
    err = error_for(provider_id, status, error_body(provider_id, "Overloaded", kind="overloaded_error"))
    assert isinstance(err, lm15.ServerError) and isinstance(err, lm15.RETRYABLE_ERRORS)
    assert err.status == status and "Overloaded" in str(err)


def test_anthropic_529_says_overloaded() -> None:
    err = error_for("anthropic", 529, error_body("anthropic", "Overloaded", kind="overloaded_error"))
    assert "Anthropic is overloaded: Overloaded" in str(err)
    assert err.provider_code == "overloaded_error"


def test_404_says_the_model_was_not_found() -> None:
    err = error_for(
        "openai", 404, error_body("openai", "The model `model-x` does not exist", "model_not_found")
    )
    assert isinstance(err, lm15.UnsupportedModelError) and isinstance(err, lm15.InvalidRequestError)
    assert "OpenAI found no model 'model-x'" in str(err)


@pytest.mark.parametrize("status", [400, 422])
def test_bad_request_is_invalid_request(status: int) -> None:
    err = error_for(
        "anthropic", status, error_body("anthropic", "messages: field required", kind="invalid_request_error")
    )
    assert type(err) is lm15.InvalidRequestError
    assert "Anthropic rejected the request as invalid: messages: field required" in str(err)


def test_context_overflow_is_a_context_length_error() -> None:
    body = error_body(
        "openai", "This model's maximum context length is 8192 tokens.", "context_length_exceeded"
    )
    assert isinstance(error_for("openai", 400, body), lm15.ContextLengthError)


def test_408_is_a_timeout_and_418_a_plain_provider_error() -> None:
    assert isinstance(error_for("groq", 408, b""), RequestTimeoutError)
    teapot = error_for("groq", 418, b"")
    assert type(teapot) is lm15.ProviderError and "unexpected HTTP status 418" in str(teapot)


def test_malformed_error_body_still_maps_and_is_clipped() -> None:
    html = b"<html><body>" + b"502 Bad Gateway " * 100 + b"</body></html>"
    err = error_for("together", 502, html)
    assert isinstance(err, lm15.ServerError)
    assert "Together AI had a server error: <html><body>502 Bad Gateway" in err.message
    assert len(err.message) < 400 and err.message.endswith("…")


@pytest.mark.parametrize("body", [b"", b"\xff\xfe", b"null", b"[1, 2]", b'{"error": 42}'])
def test_any_error_body_gives_a_clean_error(body: bytes) -> None:
    err = error_for("openai", 500, body)
    assert isinstance(err, lm15.ServerError) and str(err).startswith("OpenAI had a server error")


@pytest.mark.parametrize(
    "body",
    [
        {"error": "model 'llama9' not found"},  # Ollama
        {
            "object": "error",
            "message": "model 'llama9' not found",
            "type": "NotFoundError",
            "code": 404,
        },  # vLLM
        {"detail": "model 'llama9' not found"},  # FastAPI-based servers
    ],
)
def test_loose_error_shapes_of_compatible_servers(body: dict[str, Any]) -> None:
    err = openai.error(404, {}, json.dumps(body).encode(), endpoint("ollama", key=None))
    assert isinstance(err, lm15.UnsupportedModelError) and "model 'llama9' not found" in str(err)


# ── reading responses ─────────────────────────────────────────────────


def openai_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Paris"}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 40,
            "total_tokens": 140,
            "prompt_tokens_details": {"cached_tokens": 64},
            "completion_tokens_details": {"reasoning_tokens": 25},
        },
    }
    body.update(overrides)
    return body


def test_openai_parse_reads_text_and_every_usage_counter() -> None:
    response = openai.parse(openai_body(), endpoint("openai"))
    assert response.text == "Paris" and response.id == "chatcmpl-1" and response.model == "gpt-4o-2024-08-06"
    assert response.usage == lm15.Usage(
        input_tokens=100, output_tokens=40, total_tokens=140, cache_read_tokens=64, reasoning_tokens=25
    )


def test_anthropic_parse_joins_text_blocks_and_reads_cache_counters() -> None:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-sonnet-20241022",
        "content": [
            {"type": "text", "text": "Hel"},
            {"type": "tool_use", "id": "t", "name": "f", "input": {}},
            {"type": "text", "text": "lo"},
        ],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "output_tokens": 3,
            "cache_read_input_tokens": 50,
            "cache_creation_input_tokens": 7,
        },
    }
    response = anthropic.parse(body, endpoint("anthropic"))
    assert response.text == "Hello" and response.finish_reason == "stop"
    assert response.usage == lm15.Usage(
        input_tokens=12, output_tokens=3, cache_read_tokens=50, cache_write_tokens=7
    )


def gemini_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "thinking…", "thought": True}, {"text": "Pa"}, {"text": "ris"}],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 30,
            "candidatesTokenCount": 2,
            "totalTokenCount": 52,
            "cachedContentTokenCount": 16,
            "thoughtsTokenCount": 20,
        },
        "modelVersion": "gemini-2.0-flash-001",
        "responseId": "r-1",
    }
    body.update(overrides)
    return body


def test_gemini_parse_joins_parts_skips_thoughts_and_reads_usage() -> None:
    response = gemini.parse(gemini_body(), endpoint("gemini"))
    assert response.text == "Paris" and response.model == "gemini-2.0-flash-001" and response.id == "r-1"
    assert response.usage == lm15.Usage(
        input_tokens=30, output_tokens=2, total_tokens=52, cache_read_tokens=16, reasoning_tokens=20
    )


@pytest.mark.parametrize(
    ("wire", "body"),
    [
        ("openai", openai_body(usage=None)),
        ("openai", {k: v for k, v in openai_body().items() if k != "usage"}),
        ("anthropic", {"content": [{"type": "text", "text": "x"}], "stop_reason": "end_turn"}),
        ("gemini", gemini_body(usageMetadata=None)),
    ],
)
def test_missing_usage_is_unknown_not_zero(wire: str, body: dict[str, Any]) -> None:
    usage = WIRES[wire].parse(body, endpoint(wire)).usage
    assert usage == lm15.Usage() and usage.input_tokens is None and usage.output_tokens is None


def test_nonsense_counts_are_unknown_not_invented() -> None:
    """Prism's static Gemini example has -2147483648 everywhere."""
    body = gemini_body(
        usageMetadata={"promptTokenCount": -2147483648, "candidatesTokenCount": True, "totalTokenCount": "9"}
    )
    assert gemini.parse(body, endpoint("gemini")).usage == lm15.Usage()


@pytest.mark.parametrize(
    ("wire", "raw", "expected"),
    [
        ("openai", "stop", "stop"),
        ("openai", "length", "length"),
        ("openai", "tool_calls", "tool_call"),
        ("openai", "content_filter", "content_filter"),
        ("openai", None, "stop"),
        ("openai", "eos", "stop"),  # unknown values of compatible hosts
        ("anthropic", "end_turn", "stop"),
        ("anthropic", "stop_sequence", "stop"),
        ("anthropic", "max_tokens", "length"),
        ("anthropic", "tool_use", "tool_call"),
        ("anthropic", "refusal", "content_filter"),
        ("gemini", "STOP", "stop"),
        ("gemini", "MAX_TOKENS", "length"),
        ("gemini", "SAFETY", "content_filter"),
        ("gemini", "RECITATION", "content_filter"),
        ("gemini", "BLOCKLIST", "content_filter"),
        ("gemini", "PROHIBITED_CONTENT", "content_filter"),
        ("gemini", "FINISH_REASON_UNSPECIFIED", "stop"),
    ],
)
def test_finish_reason_mapping(wire: str, raw: str | None, expected: str) -> None:
    if wire == "openai":
        body = openai_body(choices=[{"message": {"content": "x"}, "finish_reason": raw}])
    elif wire == "anthropic":
        body = {"content": [{"type": "text", "text": "x"}], "stop_reason": raw}
    else:
        body = gemini_body(candidates=[{"content": {"parts": [{"text": "x"}]}, "finishReason": raw}])
    assert WIRES[wire].parse(body, endpoint(wire)).finish_reason == expected


def test_openai_refusal_without_content_is_kept_as_a_refusal() -> None:
    body = openai_body(
        choices=[
            {"message": {"content": None, "refusal": "I can't help with that."}, "finish_reason": "stop"}
        ]
    )
    response = openai.parse(body, endpoint("openai"))
    assert response.finish_reason == "content_filter"
    assert response.message.parts == (lm15.RefusalPart("I can't help with that."),)


def test_openai_content_as_a_list_of_text_parts() -> None:
    body = openai_body(
        choices=[{"message": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}}]
    )
    assert openai.parse(body, endpoint("together")).text == "ab"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (openai_body(choices=[]), "OpenAI sent a response dspy-tui could not read: it has no choices"),
        ({"object": "list"}, "choices should be a JSON array, got nothing"),
        (openai_body(choices=[{"message": "hi"}]), "choices[0].message should be a JSON object, got str"),
        (
            openai_body(choices=[{"message": {"content": 7}}]),
            "choices[0].message.content should be text, got int",
        ),
        ("<html>", "the body is not a JSON object"),
        (None, "the body is not a JSON object"),
    ],
)
def test_unreadable_openai_bodies_are_provider_errors_that_say_what(body: Any, says: str) -> None:
    with pytest.raises(lm15.ProviderError) as caught:
        openai.parse(body, endpoint("openai"))
    assert says in str(caught.value) and caught.value.provider == "openai"


def test_unreadable_anthropic_body() -> None:
    with pytest.raises(
        lm15.ProviderError, match="Anthropic sent a response dspy-tui could not read: content should be"
    ):
        anthropic.parse({"type": "message", "content": "hi"}, endpoint("anthropic"))


@pytest.mark.parametrize("body", [gemini_body(candidates=[]), {"usageMetadata": {"promptTokenCount": 3}}])
def test_gemini_without_candidates(body: dict[str, Any]) -> None:
    with pytest.raises(lm15.ProviderError, match="Gemini returned no candidates"):
        gemini.parse(body, endpoint("gemini"))


def test_gemini_safety_block_of_the_prompt() -> None:
    body = {
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 8},
    }
    with pytest.raises(lm15.ProviderError) as caught:
        gemini.parse(body, endpoint("gemini"))
    assert caught.value.message == "Gemini blocked the prompt: SAFETY"
    assert caught.value.provider_code == "SAFETY"


def test_gemini_unspecified_block_reason_is_no_block() -> None:
    body = gemini_body(promptFeedback={"blockReason": "BLOCK_REASON_UNSPECIFIED"})
    assert gemini.parse(body, endpoint("gemini")).text == "Paris"


def test_gemini_candidate_stopped_for_safety_has_no_text() -> None:
    body = gemini_body(candidates=[{"finishReason": "SAFETY", "safetyRatings": []}])
    response = gemini.parse(body, endpoint("gemini"))
    assert response.text == "" and response.finish_reason == "content_filter"


def test_missing_model_and_id_fall_back_to_the_endpoint() -> None:
    response = openai.parse(openai_body(id="", model=None), endpoint("openai"))
    assert response.id is None and response.model == "model-x"


# ── building requests ─────────────────────────────────────────────────


@pytest.mark.parametrize("wire", sorted(WIRES))
def test_wire_request_repr_hides_the_key(wire: str) -> None:
    request = WIRES[wire].build(lm15.Request(model="m", messages=(lm15.Message.user("hi"),)), endpoint(wire))
    assert KEY in "".join(request.headers.values())
    assert KEY not in repr(request)


@pytest.mark.parametrize("wire", sorted(WIRES))
@pytest.mark.parametrize(
    "request_",
    [
        lm15.Request(
            model="m",
            messages=(lm15.Message.user("hi"),),
            config=lm15.Config(response_format={"type": "json_object"}),
        ),
        lm15.Request(
            model="m", messages=(lm15.Message.user("hi"),), config=lm15.Config(extensions={"foo": 1})
        ),
        lm15.Request(model="m", messages=(lm15.Message.user("hi"),), config=lm15.Config(top_k=5)),
        lm15.Request(
            model="m",
            messages=(lm15.Message.user("hi"),),
            tools=(
                lm15.FunctionTool(name="f", description="d", parameters={"type": "object", "properties": {}}),
            ),
        ),
        lm15.Request(model="m", messages=(lm15.Message.developer("be terse"), lm15.Message.user("hi"))),
    ],
    ids=["response_format", "extensions", "top_k", "tools", "developer-message"],
)
def test_knobs_a_wire_cannot_carry_are_refused_not_dropped(wire: str, request_: lm15.Request) -> None:
    if wire == "openai" and request_.config.response_format:
        pytest.skip("the OpenAI wire carries response_format (tests/unit/test_local_provider.py)")
    with pytest.raises(lm15.UnsupportedFeatureError) as caught:
        WIRES[wire].build(request_, endpoint(wire))
    assert get_spec(wire).label in str(caught.value)


def test_base_url_trailing_slash_does_not_double() -> None:
    spec = get_spec("openai-compatible")
    ep = Endpoint(spec, "m", base_url_for(spec, "http://127.0.0.1:8080/v1/"), key=None)
    request = openai.build(lm15.Request(model="m", messages=(lm15.Message.user("hi"),)), ep)
    assert request.url == "http://127.0.0.1:8080/v1/chat/completions"
    assert "Authorization" not in request.headers


def test_gemini_model_path_accepts_the_models_prefix() -> None:
    spec = get_spec("gemini")
    ep = Endpoint(spec, "models/gemini-1.5-pro", base_url_for(spec, env={}), key=KEY)
    request = gemini.build(lm15.Request(model="m", messages=(lm15.Message.user("hi"),)), ep)
    assert request.url.endswith("/v1beta/models/gemini-1.5-pro:generateContent")


# ── registry ──────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("openai/gpt-4o-mini", ("openai", "gpt-4o-mini")),
        ("openrouter/meta-llama/llama-3.3-70b", ("openrouter", "meta-llama/llama-3.3-70b")),
        ("ollama/llama3.1:8b", ("ollama", "llama3.1:8b")),
        ("together/meta-llama/Llama-3-70b-chat-hf", ("together", "meta-llama/Llama-3-70b-chat-hf")),
        ("openai-compatible/qwen2.5:7b", ("openai-compatible", "qwen2.5:7b")),
        ("  Anthropic/claude-3-5-haiku-latest ", ("anthropic", "claude-3-5-haiku-latest")),
    ],
)
def test_split_model(model: str, expected: tuple[str, str]) -> None:
    assert split_model(model) == expected


@pytest.mark.parametrize("model", ["gpt-4o", "meta-llama/llama-3.3-70b", "", "/gpt-4o", "llama3.1:8b"])
def test_split_model_without_a_provider_prefix_is_a_clear_error(model: str) -> None:
    with pytest.raises(ValueError, match="does not start with a known provider; write it as provider/model"):
        split_model(model)


def test_split_model_without_a_model_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="names no model after 'openai/'"):
        split_model("openai/")


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as caught:
        get_spec("azure")
    message = str(caught.value)
    assert message.startswith("Unknown provider 'azure'; known providers: openai, anthropic, gemini,")
    assert message.count(".") == 1 and "\n" not in message


def test_catalogue() -> None:
    ids = [spec.id for spec in all_specs()]
    assert len(ids) == len(set(ids)) == 13
    assert get_spec("gemini").key_env == ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    assert all(
        not get_spec(local).needs_key
        for local in ("ollama", "vllm", "lmstudio", "openai-compatible", "offline", "local")
    )
    assert get_spec("offline").offline and get_spec("offline").wire == "offline"
    assert all(
        spec.wire == "openai"
        for spec in all_specs()
        if spec.id in ("groq", "together", "fireworks", "openrouter")
    )
    assert wire_for(get_spec("groq")) is openai and wire_for(get_spec("anthropic")) is anthropic
    with pytest.raises(ValueError, match="not reached over HTTP"):
        wire_for(get_spec("offline"))


def test_base_url_resolution_order() -> None:
    spec = get_spec("ollama")
    env = {"DSPY_TUI_OLLAMA_BASE_URL": "http://127.0.0.1:9999/v1/"}
    assert base_url_for(spec, env={}) == "http://localhost:11434/v1"
    assert base_url_for(spec, env=env) == "http://127.0.0.1:9999/v1"
    assert base_url_for(spec, "http://127.0.0.1:7000/v1", env=env) == "http://127.0.0.1:7000/v1"
    assert base_url_for(spec, "  ", env=env) == "http://127.0.0.1:9999/v1"  # a blank override is no override


def test_base_url_env_name_for_a_hyphenated_id() -> None:
    spec = get_spec("openai-compatible")
    env = {"DSPY_TUI_OPENAI_COMPATIBLE_BASE_URL": "http://127.0.0.1:8080/v1"}
    assert base_url_for(spec, env=env) == "http://127.0.0.1:8080/v1"
    with pytest.raises(
        ValueError, match="needs a base URL: give one, or set DSPY_TUI_OPENAI_COMPATIBLE_BASE_URL"
    ):
        base_url_for(spec, env={})


def test_base_url_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSPY_TUI_GROQ_BASE_URL", "http://127.0.0.1:4010")
    assert base_url_for(get_spec("groq")) == "http://127.0.0.1:4010"


def test_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="must start with http:// or https://"):
        base_url_for(get_spec("vllm"), "localhost:8000")
    with pytest.raises(ValueError, match="DSPY_TUI_VLLM_BASE_URL 'ftp://x' must start with"):
        base_url_for(get_spec("vllm"), env={"DSPY_TUI_VLLM_BASE_URL": "ftp://x"})


def test_offline_has_no_base_url() -> None:
    with pytest.raises(ValueError, match="not reached over HTTP"):
        base_url_for(get_spec("offline"), "http://127.0.0.1:1")


def test_url_warnings_read_a_config_as_make_lm_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10: the form warns before any LM exists, from the model's, the session's or the env's URL."""
    from dspy_tui.engine.lm import url_warnings

    monkeypatch.delenv("DSPY_TUI_OPENAI_BASE_URL", raising=False)
    assert url_warnings([("openai/gpt-4o-mini", None), ("offline/base", None)], {}) == []
    own = url_warnings([("openai/qwen", "http://localhost:11434/v1")], {})
    assert len(own) == 1 and "openai-compatible/qwen" in own[0] and "localhost:11434" in own[0]
    assert len(url_warnings([("openai/qwen", None)], {"openai": "http://127.0.0.1:8000/v1"})) == 1
    monkeypatch.setenv("DSPY_TUI_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert len(url_warnings([("openai/qwen", None), ("nowhere/x", None)], {})) == 1


def test_a_wires_usage_table_reads_nested_keys_and_drops_insane_counts() -> None:

    raw = {"prompt_tokens": 12, "completion_tokens": -1, "prompt_tokens_details": {"cached_tokens": 4}}
    got = _http.usage(raw, openai._USAGE)
    assert (got.input_tokens, got.output_tokens, got.cache_read_tokens, got.reasoning_tokens) == (
        12,
        None,
        4,
        None,
    )
    assert _http.usage("no usage", openai._USAGE) == _http.usage(None, {})
