"""Shared pieces of the contract tests: the provider specs in ../shared/specs,
a JSON-Schema view of them, sample requests shaped like DSPy's, and endpoints.

The specs are read where they are (never copied into the repo); every test
that needs them skips with a clear reason when the folder is absent.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from dspy.lm15 import Config, Message, Request, TextPart
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from dspy_tui.engine.providers.base import Endpoint, WireRequest
from dspy_tui.engine.providers.registry import get_spec, wire_for

SPEC_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "specs"
SPEC_URI = "urn:dspy-tui:spec"
TEST_KEY = "sk-test-contract"


@dataclass(frozen=True)
class WireCase:
    """One provider as the contract tests exercise it, and where its spec says how."""

    provider_id: str
    spec_file: str
    request_schema: str
    path: str  # the operation's key under `paths`


WIRE_CASES: dict[str, WireCase] = {
    "openai": WireCase("openai", "openai-openapi.yaml", "CreateChatCompletionRequest", "/chat/completions"),
    "groq": WireCase("groq", "openai-openapi.yaml", "CreateChatCompletionRequest", "/chat/completions"),
    "anthropic": WireCase("anthropic", "anthropic-openapi.yaml", "CreateMessageParams", "/v1/messages"),
    "gemini": WireCase(
        "gemini", "gemini-openapi.json", "GenerateContentRequest", "/v1beta/models/{model}:generateContent"
    ),
}

DEMOS = (
    Message.user("[[ ## question ## ]]\nWhat is 2 + 2?"),
    Message.assistant("[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]"),
    Message.user("[[ ## question ## ]]\nWhat is the capital of France?"),
    Message.assistant("[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"),
)
QUESTION = Message.user("[[ ## question ## ]]\nWhat is 3 * 3?\n\nRespond with [[ ## answer ## ]].")
SYSTEM = "Your input fields are: `question`. Your output fields are: `answer`."


@dataclass(frozen=True)
class Sample:
    name: str
    request: Request


SAMPLES: tuple[Sample, ...] = (
    Sample("plain", Request(model="m", messages=(QUESTION,))),
    Sample("system", Request(model="m", system=SYSTEM, messages=(QUESTION,))),
    Sample("demos", Request(model="m", system=SYSTEM, messages=(*DEMOS, QUESTION))),
    Sample(
        "all_knobs",
        Request(
            model="m",
            system=SYSTEM,
            messages=(*DEMOS, QUESTION),
            config=Config(max_tokens=256, temperature=0.0, top_p=0.9, stop=("\n\n", "###"), seed=7),
        ),
    ),
    Sample("hot", Request(model="m", messages=(QUESTION,), config=Config(temperature=2.0, max_tokens=1))),
    Sample(
        "system_parts", Request(model="m", system=(TextPart("Be "), TextPart("brief.")), messages=(QUESTION,))
    ),
    Sample(
        "unicode", Request(model="m", messages=(Message.user('Ünïcödé ✓ 東京 — "quotes" \\ and\nnewlines'),))
    ),
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking `sample` runs once per sample request; one taking
    `wire_name` once per entry of WIRE_CASES."""
    if "sample" in metafunc.fixturenames:
        metafunc.parametrize("sample", SAMPLES, ids=[sample.name for sample in SAMPLES])
    if "wire_name" in metafunc.fixturenames:
        metafunc.parametrize("wire_name", sorted(WIRE_CASES))


def make_endpoint(provider_id: str, base_url: str | None = None, key: str | None = TEST_KEY) -> Endpoint:
    spec = get_spec(provider_id)
    model = {"anthropic": "claude-3-5-sonnet-latest", "gemini": "gemini-2.0-flash"}.get(
        provider_id, "gpt-4o-mini"
    )
    return Endpoint(spec, model, base_url or spec.default_base_url or "http://127.0.0.1:9", key=key)


def build(
    wire_name: str, request: Request, base_url: str | None = None, key: str | None = TEST_KEY
) -> WireRequest:
    endpoint = make_endpoint(WIRE_CASES[wire_name].provider_id, base_url, key)
    return wire_for(endpoint.provider).build(request, endpoint)


@pytest.fixture(scope="session")
def wire_cases() -> dict[str, WireCase]:
    return WIRE_CASES


@pytest.fixture(scope="session")
def samples() -> dict[str, Request]:
    return {sample.name: sample.request for sample in SAMPLES}


@pytest.fixture(scope="session")
def endpoint_for() -> Callable[..., Endpoint]:
    """`endpoint_for(provider_id, base_url=None, key=TEST_KEY)`."""
    return make_endpoint


@pytest.fixture(scope="session")
def build_for() -> Callable[..., WireRequest]:
    """`build_for(wire_name, request, base_url=None, key=TEST_KEY)`: the wire's HTTP request."""
    return build


def as_json_schema(node: Any, in_name_map: bool = False) -> Any:
    """OpenAPI schema objects as JSON Schema 2020-12.

    OpenAPI 3.0 writes `nullable: true` (the OpenAI spec, though 3.1, still
    does in 112 places); the Anthropic spec has one `type: null` (YAML null,
    i.e. no type), which JSON Schema rejects. Maps whose keys are names
    (`properties`, `$defs`, ...) are walked without touching their keys: the
    Gemini `Schema` object has a property called `nullable`.
    """
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if in_name_map:
        return {name: as_json_schema(value) for name, value in node.items()}
    out = {
        key: as_json_schema(value, in_name_map=key in ("properties", "patternProperties", "$defs", "schemas"))
        for key, value in node.items()
        if key != "nullable" and not (key == "type" and value is None)
    }
    if node.get("nullable") is not True:
        return out
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [out, {"type": "null"}]}


@pytest.fixture(scope="session")
def spec_dir() -> Path:
    if not SPEC_DIR.is_dir():
        pytest.skip(f"provider specs not found at {SPEC_DIR} (they live in ../shared/specs next to the repo)")
    return SPEC_DIR


@pytest.fixture(scope="session")
def load_spec(spec_dir: Path) -> Callable[[str], dict[str, Any]]:
    """Read a spec once per session (the OpenAI one is 3 MB of YAML)."""

    @functools.cache
    def load(name: str) -> dict[str, Any]:
        text = (spec_dir / name).read_text(encoding="utf-8")
        if name.endswith(".json"):
            return json.loads(text)
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))

    return load


@pytest.fixture(scope="session")
def schema_validator(
    load_spec: Callable[[str], dict[str, Any]],
) -> Callable[[str, str], Draft202012Validator]:
    """A validator for `components/schemas/<name>` that resolves every $ref in its spec."""

    @functools.cache
    def registry(spec_file: str) -> Registry:
        document = as_json_schema(load_spec(spec_file))
        return Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(document))

    def validator(spec_file: str, schema_name: str) -> Draft202012Validator:
        ref = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
        return Draft202012Validator(ref, registry=registry(spec_file))

    return validator


@pytest.fixture(scope="session")
def declared_properties(
    load_spec: Callable[[str], dict[str, Any]],
) -> Callable[[str, dict[str, Any]], set[str]]:
    """The property names a schema declares, through $ref and allOf.

    OpenAI and Gemini schemas allow unknown keys, so validation alone would
    let a misspelt field through; the tests also check every key we send is
    declared.
    """

    def names(spec_file: str, schema: dict[str, Any]) -> set[str]:
        document = load_spec(spec_file)
        if "$ref" in schema:
            node: Any = document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            return names(spec_file, node)
        found = set(schema.get("properties", {}))
        for branch in schema.get("allOf", []):
            found |= names(spec_file, branch)
        return found

    return names
