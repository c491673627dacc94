"""The contract every wire format implements.

A wire module turns one canonical `dspy.lm15.Request` into one HTTP request
(`build`) and one HTTP response back into a `dspy.lm15.Response` (`parse`),
or into the `dspy.lm15` error DSPy should see (`error`). It never does I/O:
the runtime owns sockets, limits, budget and the cache, so a wire module is
a pair of pure functions that contract tests can check against the specs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from dspy.lm15 import Request, Response


@dataclass(frozen=True)
class ProviderSpec:
    """One provider endpoint family: who it is, how it is reached, how it is keyed."""

    id: str  # "openai", "groq", "ollama", ...
    wire: str  # "openai" | "anthropic" | "gemini" | "offline"
    label: str  # shown to users
    default_base_url: str | None  # None: the user must give one (openai-compatible)
    key_env: tuple[str, ...] = ()  # environment variables that may hold the key, in order
    needs_key: bool = True  # local hosts (ollama, vllm, lmstudio) work without one
    offline: bool = False  # the built-in simulated model: no network, $0
    managed: bool = False  # dspy-tui starts and stops the server itself (local/: llama.cpp)


@dataclass(frozen=True)
class WireRequest:
    """An HTTP request ready to send. `headers` may carry the key: never log it."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: dict[str, Any]

    def __repr__(self) -> str:  # the headers hold a secret
        return f"WireRequest({self.method} {self.url})"

    def body_bytes(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class Endpoint:
    """Where and as whom a model is called. `key` is a secret: excluded from repr."""

    provider: ProviderSpec
    model: str  # the provider's own model id, e.g. "gpt-4o"
    base_url: str
    key: str | None = field(default=None, repr=False)
    max_tokens_default: int = 1024  # Anthropic requires max_tokens; budget reservations use it too


class WireFormat(Protocol):
    """What each module in `engine/providers/` exposes at module level."""

    def build(self, request: Request, endpoint: Endpoint) -> WireRequest: ...

    def parse(self, body: Any, endpoint: Endpoint) -> Response:
        """`body` is the decoded JSON of a 2xx response. Raise a `dspy.lm15`
        ProviderError naming the provider when the body cannot be read."""
        ...

    def error(self, status: int, headers: Mapping[str, str], body: bytes, endpoint: Endpoint) -> Exception:
        """The `dspy.lm15` error for a non-2xx response (not raised, returned)."""
        ...
