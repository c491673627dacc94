"""Fixtures for the TUI tests: a fixed time zone, no animation, a data dir and a store per test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dspy_tui.storage.paths import Paths, resolve_paths
from dspy_tui.storage.sessions import SessionStore


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times on screen are local times: pin the zone so snapshots do not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


@pytest.fixture(autouse=True)
def no_animation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every app built in a test starts with animation_level "none" (Textual reads the env var at import)."""
    import textual.constants

    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")


@pytest.fixture
def paths(dspy_tui_home: Path) -> Paths:
    return resolve_paths({"DSPY_TUI_HOME": str(dspy_tui_home)})


@pytest.fixture
def store(paths: Paths) -> Iterator[SessionStore]:
    s = SessionStore(paths.db_path)
    yield s
    s.close()
