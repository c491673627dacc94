"""The key values we redact: kept between calls, listed again whenever they could have changed."""

from __future__ import annotations

import os

import pytest

from dspy_tui.storage.secrets import REDACTED, known_secrets, redact_known, remember


def test_a_key_set_changed_or_removed_after_a_listing_is_seen_by_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LATE_API_KEY", raising=False)
    known_secrets()
    monkeypatch.setenv("LATE_API_KEY", "sk-late-one")
    assert redact_known("echo sk-late-one") == f"echo {REDACTED}"
    monkeypatch.setenv("LATE_API_KEY", "sk-late-two")
    assert redact_known("sk-late-one sk-late-two") == f"sk-late-one {REDACTED}"
    monkeypatch.delenv("LATE_API_KEY")
    assert "sk-late-two" not in known_secrets()
    remember("sk-remembered-later")
    assert redact_known("x sk-remembered-later") == f"x {REDACTED}"


def test_an_unchanged_environment_is_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEADY_API_KEY", "sk-steady-value")
    first = known_secrets()
    reads = 0
    read = type(os.environ).__getitem__

    def counting(self: os._Environ[str], key: str) -> str:
        nonlocal reads
        reads += 1
        return read(self, key)

    monkeypatch.setattr(type(os.environ), "__getitem__", counting)
    for _ in range(50):
        assert known_secrets() == first
    assert reads == 0
    first.clear()  # a caller's copy: the kept list is not theirs to change
    assert "sk-steady-value" in known_secrets()
