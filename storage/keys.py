"""API keys: explicit value, then the OS keyring, then the environment.

Keys are never written to the database or any file of ours. When the machine
has no keyring backend (usual on headless Linux) we say so and point to the
environment variables instead of silently storing keys in plaintext.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .secrets import mask, remember

if TYPE_CHECKING:
    import keyring.backend

SERVICE = "dspy-tui"

# Provider id -> environment variables that may hold its key, in order.
KEY_ENV: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "groq": ("GROQ_API_KEY",),
    "together": ("TOGETHER_API_KEY",),
    "fireworks": ("FIREWORKS_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "openai-compatible": ("DSPY_TUI_OPENAI_COMPATIBLE_API_KEY",),
}


class KeyStoreError(ValueError):
    """A key operation the user asked for cannot be done; the message says why."""


class NoKeyring(KeyStoreError):
    def __init__(self, provider: str | None = None) -> None:
        names = ", ".join(v[0] for v in KEY_ENV.values())
        super().__init__(
            "This machine has no OS keyring backend, so dspy-tui cannot store keys; "
            f"set them as environment variables instead ({names})."
        )


@dataclass(frozen=True)
class KeyStatus:
    provider: str
    source: str  # "explicit" | "keyring" | "env:NAME" | "missing"
    masked: str = ""
    value: str | None = field(default=None, repr=False)


def _check_provider(provider: str) -> None:
    if provider not in KEY_ENV:
        known = ", ".join(sorted(KEY_ENV))
        raise KeyStoreError(f"Unknown provider {provider!r}; providers with keys are: {known}.")


def _backend() -> keyring.backend.KeyringBackend | None:  # keyring is imported here: it is slow to load
    """The usable backend, or None.

    keyrings.alt's plaintext file backend counts only when the user chose it
    by name (PYTHON_KEYRING_BACKEND): being merely installed must not turn
    "no keyring" into keys written to a plaintext file.
    """
    if sys.platform != "darwin":  # keyring's own test: its macOS backend is never viable elsewhere
        # That backend's module loads the Security API at import with ctypes.util.find_library, which off
        # macOS runs ldconfig and gcc three times over (9 processes, 0.1-0.2 s) for nothing.
        sys.modules.setdefault("keyring.backends.macOS.api", None)  # type: ignore[arg-type]
    import keyring
    from keyring.backends import chainer, fail

    try:
        backend = keyring.get_keyring()
    except Exception:
        return None

    if isinstance(backend, fail.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    cls = type(backend)
    name = f"{cls.__module__}.{cls.__name__}"
    plaintext = cls.__module__.startswith("keyrings.alt") and "Plaintext" in cls.__name__
    if plaintext and os.environ.get("PYTHON_KEYRING_BACKEND") != name:
        return None
    return backend


def keyring_available() -> bool:
    return _backend() is not None


def keyring_backend_name() -> str:
    backend = _backend()
    if backend is None:
        return "none (keys come from environment variables)"
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _from_keyring(provider: str) -> str | None:
    backend = _backend()
    if backend is None:
        return None
    from keyring.errors import KeyringError

    try:
        return backend.get_password(SERVICE, provider)
    except KeyringError:
        return None


def resolve(provider: str, explicit: str | None = None, env: Mapping[str, str] | None = None) -> KeyStatus:
    """Find `provider`'s key: explicit, keyring, environment. Never raises for a missing key."""
    env = os.environ if env is None else env
    if explicit:
        return KeyStatus(provider, "explicit", mask(explicit), explicit)
    stored = _from_keyring(provider) if provider in KEY_ENV else None
    if stored:
        return KeyStatus(provider, "keyring", mask(stored), stored)
    for name in KEY_ENV.get(provider, ()):
        if env.get(name):
            return KeyStatus(provider, f"env:{name}", mask(env[name]), env[name])
    return KeyStatus(provider, "missing")


def get_key(provider: str) -> str | None:
    """The provider's key (keyring first, then environment), registered so it is never stored."""
    value = resolve(provider).value
    remember(value)
    return value


def set_key(provider: str, value: str) -> None:
    _check_provider(provider)
    value = value.strip()
    if not value:
        raise KeyStoreError("The key is empty; nothing was stored.")
    backend = _backend()
    if backend is None:
        raise NoKeyring(provider)
    from keyring.errors import KeyringError, NoKeyringError

    try:
        backend.set_password(SERVICE, provider, value)
    except NoKeyringError:
        raise NoKeyring(provider) from None
    except KeyringError as exc:
        raise KeyStoreError(
            f"The keyring refused to store the {provider} key ({type(exc).__name__})."
        ) from None


def delete_key(provider: str) -> bool:
    """Remove the stored key; False when there was none in the keyring."""
    _check_provider(provider)
    backend = _backend()
    if backend is None:
        raise NoKeyring(provider)
    from keyring.errors import NoKeyringError, PasswordDeleteError

    try:
        backend.delete_password(SERVICE, provider)
    except PasswordDeleteError:
        return False
    except NoKeyringError:
        raise NoKeyring(provider) from None
    return True


def list_keys(env: Mapping[str, str] | None = None) -> list[KeyStatus]:
    return [resolve(p, env=env) for p in KEY_ENV]
