"""The providers dspy-tui knows, and how a model string and a base URL resolve.

A model is named `provider/model`; the model part is the provider's own id and
may itself hold "/" and ":" (`openrouter/meta-llama/llama-3.3-70b`,
`ollama/llama3.1:8b`). A base URL comes from, in order: what the user gave,
`DSPY_TUI_<PROVIDER>_BASE_URL`, the provider's default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from . import anthropic, gemini, openai
from .base import ProviderSpec, WireFormat

_SPECS: tuple[ProviderSpec, ...] = (
    ProviderSpec("openai", "openai", "OpenAI", "https://api.openai.com/v1", ("OPENAI_API_KEY",)),
    ProviderSpec("anthropic", "anthropic", "Anthropic", "https://api.anthropic.com", ("ANTHROPIC_API_KEY",)),
    ProviderSpec(
        "gemini",
        "gemini",
        "Gemini",
        "https://generativelanguage.googleapis.com",
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    ),
    ProviderSpec("groq", "openai", "Groq", "https://api.groq.com/openai/v1", ("GROQ_API_KEY",)),
    ProviderSpec("together", "openai", "Together AI", "https://api.together.xyz/v1", ("TOGETHER_API_KEY",)),
    ProviderSpec(
        "fireworks", "openai", "Fireworks AI", "https://api.fireworks.ai/inference/v1", ("FIREWORKS_API_KEY",)
    ),
    ProviderSpec(
        "openrouter", "openai", "OpenRouter", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",)
    ),
    ProviderSpec("ollama", "openai", "Ollama", "http://localhost:11434/v1", needs_key=False),
    ProviderSpec("vllm", "openai", "vLLM", "http://localhost:8000/v1", needs_key=False),
    ProviderSpec("lmstudio", "openai", "LM Studio", "http://localhost:1234/v1", needs_key=False),
    ProviderSpec("openai-compatible", "openai", "OpenAI-compatible server", None, needs_key=False),
    ProviderSpec("local", "openai", "local (real, CPU)", None, needs_key=False, managed=True),
    ProviderSpec("offline", "offline", "Offline (simulated)", None, needs_key=False, offline=True),
)
_BY_ID = {spec.id: spec for spec in _SPECS}
_WIRES: dict[str, WireFormat] = {"openai": openai, "anthropic": anthropic, "gemini": gemini}


def all_specs() -> tuple[ProviderSpec, ...]:
    return _SPECS


def get_spec(provider_id: str) -> ProviderSpec:
    spec = _BY_ID.get(provider_id)
    if spec is None:
        raise ValueError(f"Unknown provider '{provider_id}'; known providers: {', '.join(_BY_ID)}.")
    return spec


def wire_for(spec: ProviderSpec) -> WireFormat:
    """The module that speaks this provider's HTTP format (offline has none)."""
    wire = _WIRES.get(spec.wire)
    if wire is None:
        raise ValueError(f"Provider '{spec.id}' is not reached over HTTP, so it has no wire format.")
    return wire


def split_model(model_string: str) -> tuple[str, str]:
    """`"provider/model"` -> `(provider_id, model_id)`; the model id keeps any "/" and ":"."""
    provider_id, slash, model_id = model_string.strip().partition("/")
    provider_id = provider_id.lower()
    if not slash or provider_id not in _BY_ID:
        raise ValueError(
            f"Model '{model_string}' does not start with a known provider; write it as provider/model, "
            f"e.g. openai/gpt-4o-mini (providers: {', '.join(_BY_ID)})."
        )
    if not model_id:
        raise ValueError(f"Model '{model_string}' names no model after '{provider_id}/'.")
    return provider_id, model_id


def base_url_variable(spec: ProviderSpec) -> str:
    """The environment variable that gives this provider's base URL."""
    return f"DSPY_TUI_{spec.id.upper().replace('-', '_')}_BASE_URL"


def base_url_for(spec: ProviderSpec, override: str | None = None, env: Mapping[str, str] = os.environ) -> str:
    """The base URL to call, without a trailing slash."""
    if spec.offline:
        raise ValueError(f"Provider '{spec.id}' is not reached over HTTP, so it has no base URL.")
    variable = base_url_variable(spec)
    for candidate, origin in ((override, "the given base URL"), (env.get(variable), variable)):
        if candidate is not None and candidate.strip():
            return _checked(candidate.strip(), origin)
    if spec.default_base_url is None:
        raise ValueError(f"Provider '{spec.id}' needs a base URL: give one, or set {variable}.")
    return spec.default_base_url


def _checked(base_url: str, origin: str) -> str:
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"{origin} '{base_url}' must start with http:// or https://.")
    return base_url.rstrip("/")
