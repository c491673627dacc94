"""Request bodies, URLs and auth headers our wires build, checked against the
providers' own OpenAPI specs (../shared/specs), not against our beliefs.

Fixtures (`sample`, `wire_name`, `build_for`, `schema_validator`, ...) come
from conftest.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

Spec = dict[str, Any]
KEY = "sk-test-contract"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def schema_errors(validator: Any, body: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message}" for e in validator.iter_errors(body)
    ]


def test_body_validates_against_the_request_schema(
    wire_name: str, sample: Any, wire_cases: Any, build_for: Any, schema_validator: Any
) -> None:
    case = wire_cases[wire_name]
    body = build_for(wire_name, sample.request).body
    errors = schema_errors(schema_validator(case.spec_file, case.request_schema), body)
    assert not errors, f"{wire_name} body for '{sample.name}' breaks {case.request_schema}: {errors}"


def test_every_key_we_send_is_declared_by_the_spec(
    wire_name: str, sample: Any, wire_cases: Any, build_for: Any, declared_properties: Any
) -> None:
    """The OpenAI and Gemini schemas accept unknown keys, so a misspelt field
    would validate; here each key must be one the spec names."""
    case = wire_cases[wire_name]
    body = build_for(wire_name, sample.request).body
    assert set(body) <= declared_properties(case.spec_file, ref(case.request_schema))
    if wire_name == "gemini":
        content_keys = declared_properties(case.spec_file, ref("Content"))
        part_keys = declared_properties(case.spec_file, ref("Part"))
        for content in [
            *body["contents"],
            *([body["systemInstruction"]] if "systemInstruction" in body else []),
        ]:
            assert set(content) <= content_keys
            assert all(set(part) <= part_keys for part in content["parts"])
        assert set(body.get("generationConfig", {})) <= declared_properties(
            case.spec_file, ref("GenerationConfig")
        )


@pytest.mark.parametrize(
    ("target", "break_body"),
    [
        ("openai", lambda body: body.update(messages=[])),  # minItems: 1
        ("groq", lambda body: body.update(temperature=2.5)),  # maximum: 2
        ("groq", lambda body: body.update(stop=["a", "b", "c", "d", "e"])),  # maxItems: 4
        ("anthropic", lambda body: body.update(temperature=1.5)),  # maximum: 1
        ("anthropic", lambda body: body.update(stop=["x"])),  # additionalProperties: false
        ("anthropic", lambda body: body.pop("max_tokens")),  # required
        ("gemini", lambda body: body.update(contents="hello")),  # must be an array
    ],
    ids=[
        "openai-no-messages",
        "groq-hot",
        "groq-five-stops",
        "anthropic-hot",
        "anthropic-unknown-key",
        "anthropic-no-cap",
        "gemini-contents-string",
    ],
)
def test_the_schema_check_catches_a_broken_body(
    target: str,
    break_body: Callable[[dict[str, Any]], None],
    wire_cases: Any,
    samples: Any,
    build_for: Any,
    schema_validator: Any,
) -> None:
    """Proof the validation above can fail: a body broken on purpose is refused."""
    case = wire_cases[target]
    body = copy.deepcopy(build_for(target, samples["plain"]).body)
    break_body(body)
    assert schema_errors(schema_validator(case.spec_file, case.request_schema), body)


def test_url_is_a_post_operation_of_the_spec(
    wire_name: str, wire_cases: Any, samples: Any, build_for: Any, endpoint_for: Any, load_spec: Any
) -> None:
    case = wire_cases[wire_name]
    spec: Spec = load_spec(case.spec_file)
    assert "post" in spec["paths"][case.path], f"{case.path} has no POST in {case.spec_file}"
    request = build_for(wire_name, samples["plain"])
    assert request.method == "POST"
    expected_path = case.path.replace("{model}", endpoint_for(case.provider_id).model)
    assert urlsplit(request.url).path.endswith(expected_path)
    if wire_name != "groq":  # the spec's server is the provider's own default base URL
        assert request.url == spec["servers"][0]["url"].rstrip("/") + expected_path


def test_openai_auth_is_the_specs_bearer_scheme(samples: Any, build_for: Any, load_spec: Any) -> None:
    spec: Spec = load_spec("openai-openapi.yaml")
    operation = spec["paths"]["/chat/completions"]["post"]
    (scheme_name,) = (operation.get("security") or spec["security"])[0]
    assert spec["components"]["securitySchemes"][scheme_name] == {"type": "http", "scheme": "bearer"}
    assert build_for("openai", samples["plain"]).headers["Authorization"] == f"Bearer {KEY}"
    keyless = build_for("groq", samples["plain"], key=None)
    assert "Authorization" not in keyless.headers  # a keyless local host gets no empty Bearer


def test_anthropic_headers_are_the_specs(samples: Any, build_for: Any, load_spec: Any) -> None:
    """Quirk: the spec declares `x-api-key` on the batch and count_tokens
    operations but not on POST /v1/messages, which lists only anthropic-version."""
    spec: Spec = load_spec("anthropic-openapi.yaml")
    messages_op = spec["paths"]["/v1/messages"]["post"]
    messages_headers = {p["name"] for p in messages_op["parameters"] if p["in"] == "header"}
    all_headers = {
        parameter["name"]
        for item in spec["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        for parameter in operation.get("parameters", [])
        if parameter.get("in") == "header"
    }
    assert "anthropic-version" in messages_headers
    assert "x-api-key" in all_headers
    headers = build_for("anthropic", samples["plain"]).headers
    assert headers["x-api-key"] == KEY
    assert headers["anthropic-version"] == "2023-06-01"


def test_gemini_key_stays_out_of_the_url(samples: Any, build_for: Any, load_spec: Any) -> None:
    """Quirk: the spec documents only the `?key=` query parameter (no security
    scheme). We send the `x-goog-api-key` header instead so the key never
    appears in a URL; this pins that choice and that the spec's `key` exists."""
    spec: Spec = load_spec("gemini-openapi.json")
    assert spec["components"]["parameters"]["key"]["in"] == "query"
    request = build_for("gemini", samples["plain"])
    assert request.headers["x-goog-api-key"] == KEY
    assert KEY not in request.url and not urlsplit(request.url).query


def test_token_cap_field_per_host(samples: Any, build_for: Any, load_spec: Any) -> None:
    """OpenAI gets `max_completion_tokens` (the spec deprecates `max_tokens`);
    compatible hosts get `max_tokens`, the field they read."""
    openai_body = build_for("openai", samples["all_knobs"]).body
    assert openai_body["max_completion_tokens"] == 256 and "max_tokens" not in openai_body
    assert build_for("groq", samples["all_knobs"]).body["max_tokens"] == 256
    schema = load_spec("openai-openapi.yaml")["components"]["schemas"]["CreateChatCompletionRequest"]
    properties = {name: prop for part in schema["allOf"] for name, prop in part.get("properties", {}).items()}
    assert properties["max_tokens"].get("deprecated") is True
    assert not properties["max_completion_tokens"].get("deprecated")


def test_anthropic_always_caps_tokens_and_clamps_temperature(
    samples: Any, build_for: Any, endpoint_for: Any
) -> None:
    plain = build_for("anthropic", samples["plain"]).body
    assert plain["max_tokens"] == endpoint_for("anthropic").max_tokens_default
    hot = build_for("anthropic", samples["hot"]).body
    assert hot["temperature"] == 1.0 and hot["max_tokens"] == 1


def test_demos_keep_their_turns_on_every_wire(samples: Any, build_for: Any) -> None:
    request = samples["demos"]
    openai_roles = [m["role"] for m in build_for("openai", request).body["messages"]]
    assert openai_roles == ["system", "user", "assistant", "user", "assistant", "user"]
    anthropic_body = build_for("anthropic", request).body
    assert [m["role"] for m in anthropic_body["messages"]] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert anthropic_body["system"].startswith("Your input fields")
    gemini_body = build_for("gemini", request).body
    assert [c["role"] for c in gemini_body["contents"]] == ["user", "model", "user", "model", "user"]
    assert gemini_body["systemInstruction"]["parts"][0]["text"].startswith("Your input fields")
