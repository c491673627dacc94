"""Key resolution against real keyring backends (memory, keyrings.alt file, Secret Service)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from dspy_tui.storage import keys
from dspy_tui.storage.secrets import mask


def test_resolution_order_explicit_keyring_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-aaaaaaaa1111")
    assert keys.resolve("openai").source == "env:OPENAI_API_KEY"
    keys.set_key("openai", "sk-ring-bbbbbbbb2222")
    assert keys.resolve("openai").source == "keyring"
    assert keys.resolve("openai").value == "sk-ring-bbbbbbbb2222"
    assert keys.resolve("openai", explicit="sk-expl-cccccccc3333").source == "explicit"
    assert keys.delete_key("openai") is True
    assert keys.delete_key("openai") is False
    assert keys.resolve("openai").source == "env:OPENAI_API_KEY"


def test_gemini_falls_back_to_google_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-google-xxxxxxxx")
    assert keys.resolve("gemini").source == "env:GOOGLE_API_KEY"
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-gemini-yyyyyyyy")
    assert keys.resolve("gemini").source == "env:GEMINI_API_KEY"


def test_masked_and_never_in_repr() -> None:
    keys.set_key("anthropic", "sk-ant-api03-supersecretvalue9876")
    status = keys.resolve("anthropic")
    assert status.masked == "sk-...9876"
    assert "supersecret" not in repr(status)
    assert all("supersecret" not in repr(s) for s in keys.list_keys())
    assert mask("short") == "*****"


def test_unknown_provider_is_one_sentence() -> None:
    with pytest.raises(keys.KeyStoreError, match="Unknown provider 'nope'"):
        keys.set_key("nope", "x")


def test_no_keyring_backend_says_so_and_points_to_env() -> None:
    keyring.set_keyring(fail.Keyring())
    assert not keys.keyring_available()
    with pytest.raises(keys.NoKeyring, match="OPENAI_API_KEY"):
        keys.set_key("openai", "sk-whatever-12345678")
    assert keys.resolve("openai").source == "missing"


def test_plaintext_backend_is_not_used_unless_chosen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from keyrings.alt.file import PlaintextKeyring

    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring_pass.cfg")  # type: ignore[misc]
    keyring.set_keyring(backend)
    assert not keys.keyring_available(), "installed is not chosen: no silent plaintext storage"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    keys.set_key("groq", "gsk_filebackend1234567")
    assert keys.resolve("groq").source == "keyring"
    assert Path(backend.file_path).exists()
    assert keys.delete_key("groq")


def _secret_service_env() -> dict[str, str] | None:
    if not (shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")):
        return None
    return dict(os.environ)


SECRET_SERVICE_SCRIPT = r"""
set -e
eval "$(printf 'test\n' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
"$PY" - <<'PY'
import keyring
from keyring.backends import SecretService
keyring.set_keyring(SecretService.Keyring())
from dspy_tui.storage import keys
keys.set_key("openai", "sk-secretservice-1234")
s = keys.resolve("openai")
assert s.source == "keyring" and s.value == "sk-secretservice-1234", s
assert keys.delete_key("openai")
print("secret-service-ok")
PY
"""


def test_secret_service_backend(tmp_path: Path) -> None:
    env = _secret_service_env()
    if env is None:
        pytest.skip("Secret Service test needs dbus-run-session and gnome-keyring-daemon (CI installs them)")
    env.update({"PY": sys.executable, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")})
    out = subprocess.run(
        ["dbus-run-session", "--", "bash", "-c", SECRET_SERVICE_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "secret-service-ok" not in out.stdout:
        pytest.fail(f"Secret Service round trip failed: {out.stdout[-800:]} {out.stderr[-800:]}")


BACKEND_PROBE = r"""
import sys
started = []
sys.addaudithook(lambda event, args: started.append(args[1]) if event == "subprocess.Popen" else None)
import keyring
if sys.argv[1] == "ours":
    from dspy_tui.storage import keys
    keys.keyring_backend_name()
print(len(started), type(keyring.get_keyring()).__name__)
"""


def _found_backend(who: str, env: dict[str, str]) -> tuple[int, str]:
    """(processes started, backend class) when `who` (ours or keyring alone) finds the backend in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", BACKEND_PROBE, who], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    started, name = out.stdout.split()
    return int(started), name


@pytest.mark.skipif(sys.platform == "darwin", reason="on macOS the macOS backend is the one to find")
def test_finding_the_backend_starts_no_process_and_finds_what_keyring_alone_finds(tmp_path: Path) -> None:
    """keyring's macOS backend runs ldconfig and gcc at import (ctypes.util.find_library); we skip it off macOS."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    env.update(
        HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data")
    )
    started, ours = _found_backend("ours", env)
    assert started == 0
    assert ours == _found_backend("keyring", env)[1]
