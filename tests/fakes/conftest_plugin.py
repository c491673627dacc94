"""Fixtures for tests that talk to the fake provider through the engine runtime.

Register in tests/conftest.py with `pytest_plugins = ["fakes.conftest_plugin"]`
(or import the fixtures into a test module).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from dspy_tui.engine.limits import LimitConfig
from dspy_tui.engine.runtime import Runtime

from fakes.offline_brain import offline_brain
from fakes.provider_server import FakeProvider

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # LiteLLM must never fetch its price map

# Client-side limits that never throttle a test (the fake server is local).
UNLIMITED = LimitConfig(rpm=None, tpm=None, concurrency=64, default_pause_s=0.05)


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    """A fake OpenAI/Anthropic/Gemini server on 127.0.0.1, in its own thread and loop."""
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def brainy_provider() -> Iterator[FakeProvider]:
    """The fake server answering as the offline base model (answers DSPy parses), 4 ms a call."""
    with FakeProvider(latency_s=0.004, brain=offline_brain("base")) as provider:
        yield provider


@pytest.fixture
def engine_runtime() -> Iterator[Runtime]:
    """A fresh process runtime with unthrottled limits; shut down after the test."""
    Runtime.shutdown()
    runtime = Runtime.get()
    for provider in ("openai", "anthropic", "gemini", "groq", "offline"):
        runtime.set_limits(provider, UNLIMITED)
    try:
        yield runtime
    finally:
        Runtime.shutdown()


@pytest.fixture
def provider_urls(fake_provider: FakeProvider) -> dict[str, str]:
    """`base_urls` for `make_lm` that point every HTTP wire at the fake server."""
    url = fake_provider.url
    return {"openai": f"{url}/v1", "anthropic": url, "gemini": url, "groq": f"{url}/openai/v1"}
