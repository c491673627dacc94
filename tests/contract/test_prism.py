"""Our wires against Stoplight Prism serving each provider's spec on loopback.

Static mode answers with the spec's examples (or schema-shaped placeholders):
every wire must read them into a Response with text. Dynamic mode (`-d`)
answers with random values that still fit the schema: the parser must then
either read the body or raise a `dspy.lm15` error that names the provider,
never anything else.

One Prism per spec, all started at once and shared by the session; each serves
the spec cut down to the operation its wire calls and every schema that
operation reaches (the whole OpenAI spec took Prism 16-25 s of CPU to load, its
cut 1 s). The dynamic tests ask the same servers for random answers per request
(`Prefer: dynamic=true`).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from dspy.lm15 import AuthError, LM15Error, Response

from dspy_tui.engine.providers.registry import wire_for

pytestmark = pytest.mark.prism

REPO = Path(__file__).resolve().parents[2]
PRISM = REPO / ".prism" / "node_modules" / ".bin" / "prism"
STARTUP_SECONDS = 120.0  # three Prisms parse their specs at once, beside the other xdist worker
DYNAMIC = {"Prefer": "dynamic=true"}  # Prism's per-request switch to schema-shaped random answers
DYNAMIC_REQUESTS = 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PrismServer:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    started: float
    ready: bool = False

    def base_url(self) -> str:
        """Wait until Prism listens (the port opens once the spec is loaded)."""
        while not self.ready:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                pytest.fail(f"Prism exited with code {self.process.returncode} before listening:\n{tail}")
            if time.monotonic() - self.started > STARTUP_SECONDS:
                pytest.fail(
                    f"Prism did not listen on port {self.port} within {STARTUP_SECONDS:.0f} s (log: {self.log})"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                self.ready = True
            except OSError:
                time.sleep(0.2)
        return f"http://127.0.0.1:{self.port}"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def spec_subset(document: dict[str, Any], paths: set[str]) -> dict[str, Any]:
    """`document` with only `paths` and the components they reach through $ref (all of them,
    transitively), plus every security scheme: what Prism answers on those paths is unchanged."""
    components = document.get("components", {})
    kept: dict[str, dict[str, Any]] = {"securitySchemes": components.get("securitySchemes", {})}
    subset = {key: value for key, value in document.items() if key not in ("paths", "webhooks", "components")}
    subset["paths"] = {path: document["paths"][path] for path in sorted(paths)}
    pending, seen = list(_refs(subset["paths"])), set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        kind, name = ref.removeprefix("#/components/").split("/")  # a ref elsewhere fails here, loudly
        kept.setdefault(kind, {})[name] = components[kind][name]
        pending.extend(_refs(components[kind][name]))
    subset["components"] = kept
    return subset


class PrismFleet:
    """Starts one Prism per spec at once, so the loads overlap."""

    def __init__(self, specs: dict[str, dict[str, Any]], log_dir: Path) -> None:
        self.servers: dict[str, PrismServer] = {}
        for spec_file, document in sorted(specs.items()):
            port = free_port()
            log = log_dir / f"{spec_file}.log"
            served = log_dir / f"{spec_file}.json"
            served.write_text(json.dumps(document, default=str), encoding="utf-8")  # YAML dates as written
            command = [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(served)]
            with log.open("wb") as sink:
                process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, cwd=REPO)
            self.servers[spec_file] = PrismServer(process, port, log, time.monotonic())

    def url(self, spec_file: str) -> str:
        return self.servers[spec_file].base_url()

    def close(self) -> None:
        for server in self.servers.values():
            server.process.terminate()
        for server in self.servers.values():
            try:
                server.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


@pytest.fixture(scope="session")
def prism(
    load_spec: Callable[[str], dict[str, Any]], wire_cases: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrismFleet]:
    if shutil.which("node") is None:
        pytest.skip("Prism needs Node.js, and `node` is not on PATH")
    if not PRISM.exists():
        pytest.skip(f"Prism is not installed at {PRISM} (npm install --prefix .prism @stoplight/prism-cli@5)")
    paths: dict[str, set[str]] = {}
    for case in wire_cases.values():
        paths.setdefault(case.spec_file, set()).add(case.path)
    specs = {spec_file: spec_subset(load_spec(spec_file), used) for spec_file, used in paths.items()}
    fleet = PrismFleet(specs, tmp_path_factory.mktemp("prism"))
    yield fleet
    fleet.close()


async def call(
    session: aiohttp.ClientSession, wire_request: Any, extra_headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    async with session.request(
        wire_request.method,
        wire_request.url,
        headers={**wire_request.headers, **(extra_headers or {})},
        data=wire_request.body_bytes(),
    ) as response:
        return response.status, dict(response.headers), await response.read()


def outcome(status: int, headers: dict[str, str], body: bytes, endpoint: Any) -> Response | LM15Error:
    """What the runtime would hand DSPy: a Response, or the lm15 error to raise."""
    wire = wire_for(endpoint.provider)
    if not 200 <= status < 300:
        return wire.error(status, headers, body, endpoint)
    try:
        return wire.parse(json.loads(body), endpoint)
    except LM15Error as error:
        return error


@pytest.fixture
def served(wire_name: str, prism: PrismFleet, wire_cases: Any, endpoint_for: Any) -> tuple[Any, Any]:
    """The wire under test and its endpoint at the Prism serving its provider's spec."""
    case = wire_cases[wire_name]
    endpoint = endpoint_for(case.provider_id, base_url=prism.url(case.spec_file))
    return endpoint, wire_for(endpoint.provider)


async def test_static_answers_parse_into_text(wire_name: str, served: tuple[Any, Any], samples: Any) -> None:
    endpoint, wire = served
    async with aiohttp.ClientSession() as session:
        for name in ("plain", "demos", "all_knobs"):
            status, headers, body = await call(session, wire.build(samples[name], endpoint))
            result = outcome(status, headers, body, endpoint)
            assert isinstance(result, Response), f"{wire_name}/{name}: HTTP {status}: {result}"
            assert isinstance(result.text, str) and result.text, (
                f"{wire_name}/{name}: no text in {body[:300]!r}"
            )
            assert result.finish_reason in ("stop", "length", "tool_call", "content_filter", "error")


async def test_dynamic_answers_parse_or_fail_clearly(
    wire_name: str, served: tuple[Any, Any], samples: Any
) -> None:
    endpoint, wire = served
    requests = [wire.build(request, endpoint) for request in samples.values()]
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(
            *(call(session, requests[i % len(requests)], DYNAMIC) for i in range(DYNAMIC_REQUESTS))
        )
    assert len({body for _, _, body in answers}) > 1, f"{wire_name}: Prism ignored {DYNAMIC} (static answers)"
    results = []
    for status, headers, body in answers:
        try:
            result = outcome(status, headers, body, endpoint)
        except Exception as crash:  # the point of the test: nothing but lm15 errors may escape
            pytest.fail(f"{wire_name}: {type(crash).__name__}: {crash} on HTTP {status} body {body[:500]!r}")
        assert isinstance(result, Response | LM15Error), (
            f"{wire_name}: {type(result).__name__} on HTTP {status}"
        )
        if isinstance(result, LM15Error):
            assert endpoint.provider.label in str(result), (
                f"{wire_name}: error does not name the provider: {result}"
            )
        results.append(result)
    assert len(results) == DYNAMIC_REQUESTS


async def test_a_refused_key_is_an_auth_error(prism: PrismFleet, samples: Any, endpoint_for: Any) -> None:
    """Prism enforces the OpenAI spec's bearer scheme: no key, a real 401."""
    endpoint = endpoint_for("groq", base_url=prism.url("openai-openapi.yaml"), key=None)
    async with aiohttp.ClientSession() as session:
        status, headers, body = await call(
            session, wire_for(endpoint.provider).build(samples["plain"], endpoint)
        )
    assert status == 401
    result = outcome(status, headers, body, endpoint)
    assert isinstance(result, AuthError)
    assert "Groq asked for an API key, but none was sent" in str(result)
