"""Suite-wide fixtures: every test gets its own DSPY_TUI_HOME and an in-memory keyring."""

from __future__ import annotations

import gc
import os
import sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm must not fetch its price list

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import keyring  # noqa: E402
import keyring.backend  # noqa: E402
import keyring.errors  # noqa: E402
import pytest  # noqa: E402

pytest_plugins = ["fakes.conftest_plugin"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SPECS_DIR = REPO_ROOT.parent / "shared" / "specs"
PROVIDER_ENV = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GROQ_API_KEY",
    "TOGETHER_API_KEY",
    "FIREWORKS_API_KEY",
    "OPENROUTER_API_KEY",
    "PYTHON_KEYRING_BACKEND",
)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real keyring backend (registered through keyring.set_keyring) that lives in memory."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.store:
            raise keyring.errors.PasswordDeleteError("not found")
        del self.store[(service, username)]


@pytest.fixture(autouse=True)
def dspy_tui_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("DSPY_TUI_HOME", str(home))
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("DSPY_TUI_") and name.endswith("_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def collector_per_test() -> Iterator[None]:
    """Each test leaves the cyclic collector as a fresh process has it. The live screen freezes the
    heap (as the TUI does once per process); in a test worker that freeze would otherwise keep every
    later test's garbage out of the collector's reach and change what gc-sensitive tests see."""
    yield
    gc.unfreeze()
    gc.enable()


def _drop_repo_root(path: list[str]) -> None:
    """The tests see the product only as the installed `dspy_tui`. With the repo root on sys.path
    (as `python -m pytest` run there puts it) the source folders read as packages of their own:
    `engine.runtime` would load beside `dspy_tui.engine.runtime`, a second module with a second
    Runtime singleton. The helpers (fakes, reliability.support) are found through tests/."""
    path[:] = [p for p in path if Path(p or ".").resolve() != REPO_ROOT]


_drop_repo_root(sys.path)
