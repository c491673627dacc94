"""Secrets: planted keys never reach the database, the WAL, logs, reports, exports, output or exception text.

Distinct fake keys go into a real file keyring (keyrings.alt's PlaintextKeyring,
chosen explicitly, in a directory of its own) and into environment variables.
Real `dspy-tui` processes (`--verbose`) then run sessions against a fake provider
that accepts only the groq key and answers every other key with a 401 whose
message echoes the key back (as a careless provider might): one session is
killed mid-run (its WAL is copied while it runs and after the kill) and
resumed, one fails on every model. Every report format and every export is
generated, and `sessions`, `doctor`, `keys list` and `models` are run.
In-process, the same keys meet `make_lm`, a `Session` and their exceptions.

Scanned for each key (whole, and its middle 16 characters): every file under
DSPY_TUI_HOME (DB, -wal, -shm, logs, exports), the WAL copies, the written
reports and exports, the TUI snapshot files, every captured stdout/stderr,
event and exception text.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import signal
import subprocess
import time
import traceback
from pathlib import Path
from typing import Any

import dspy
import keyring.backend
import pytest
from aiohttp import web

from dspy_tui.cli.main import main
from dspy_tui.engine.call_errors import ModelFailed
from dspy_tui.engine.config import parse_config
from dspy_tui.storage import keys as key_store
from dspy_tui.storage.paths import resolve_paths
from dspy_tui.storage.sessions import SessionStore

from fakes import provider_server
from fakes.lms import lm_with
from fakes.offline_brain import offline_brain
from fakes.provider_server import FakeProvider, Fault, Received
from reliability.support import cli, cli_popen, session_in_home

SNAPSHOTS = Path(__file__).resolve().parents[1] / "tui" / "__snapshots__"
_rng = random.Random(20240607)


def _hex(n: int) -> str:
    return "".join(_rng.choice("0123456789abcdef") for _ in range(n))


# provider -> (where it is planted, the key). Some look like real keys (the log filter knows those
# shapes), some do not (only never writing them keeps them out).
KEYS: dict[str, tuple[str, str]] = {
    "groq": ("keyring", "gsk_" + _hex(40)),
    "openai": ("keyring", "sk-proj-" + _hex(40)),
    "fireworks": ("keyring", "fw-" + _hex(32)),
    "gemini": ("env", "AIza" + _hex(35)),
    "anthropic": ("env", "sk-ant-api03-" + _hex(40)),
    "together": ("env", "tgp_v1_" + _hex(36)),
    "openrouter": ("env", "sk-or-v1-" + _hex(48)),
}
ENV_NAMES = {
    "gemini": "GEMINI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "together": "TOGETHER_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
}


def _needles() -> dict[bytes, str]:
    out = {}
    for provider, (_, key) in KEYS.items():
        out[key.encode()] = f"{provider} key"
        middle = len(key) // 2
        out[key[middle - 8 : middle + 8].encode()] = f"{provider} key (middle)"
    return out


class Scanner:
    """Counts what it scanned and every place a key turned up."""

    def __init__(self) -> None:
        self.needles = _needles()
        self.files = 0
        self.texts = 0
        self.bytes = 0
        self.hits: list[str] = []

    def blob(self, data: bytes, where: str) -> None:
        self.bytes += len(data)
        self.hits += [f"{what} in {where}" for needle, what in self.needles.items() if needle in data]

    def text(self, text: str, where: str) -> None:
        self.texts += 1
        self.blob(text.encode("utf-8", errors="replace"), where)

    def tree(self, root: Path) -> None:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                self.files += 1
                self.blob(path.read_bytes(), str(path))


class EchoingProvider(FakeProvider):
    """A provider that accepts one key and echoes any other key back in its 401 message."""

    async def _faulty(
        self, request: web.Request, record: Received, fault: Fault, wire: str
    ) -> web.StreamResponse:
        if fault.kind != "401":
            return await super()._faulty(request, record, fault, wire)
        record.status = 401
        given = provider_server._key_of(wire, request)
        body = provider_server._error(
            wire, 401, f"Incorrect API key provided: {given}. Check it at the console."
        )
        return web.json_response(body, status=401)


def _config(path: Path, models: list[str], rounds: int = 1) -> Path:
    lines = [
        f'name = "secrets {path.stem}"',
        'optimizer = "bootstrap"',
        f"rounds = {rounds}",
        "seed = 1",
        "num_retries = 0",
        "[task]",
        'dataset = "demo:sentiment"',
        "max_train = 20",
        "max_dev = 12",
        "max_test = 12",
    ]
    for model in models:
        lines += [
            "[[models]]",
            f'id = "{model}"',
            "max_tokens = 128",
            "limits = { rpm = 1000000, tpm = 1000000000, concurrency = 16 }",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run_env(home: Path, keyring_dir: Path, provider: FakeProvider) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        {
            "DSPY_TUI_HOME": str(home),
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            "XDG_DATA_HOME": str(keyring_dir),
        }
    )
    env.update({ENV_NAMES[p]: key for p, (where, key) in KEYS.items() if where == "env"})
    for provider_id, path in (("groq", "/openai/v1"), ("openai", "/v1"), ("gemini", ""), ("anthropic", "")):
        env[f"DSPY_TUI_{provider_id.upper()}_BASE_URL"] = f"{provider.url}{path}"
    return env


def test_no_key_reaches_any_file_output_or_exception(
    tmp_path: Path,
    dspy_tui_home: Path,
    memory_keyring: keyring.backend.KeyringBackend,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    control = Scanner()  # the scan finds a key where there is one
    control.text(f"x{KEYS['together'][1][5:30]}x", "control")
    assert control.hits == ["together key (middle) in control"]
    scan = Scanner()
    keyring_dir = tmp_path / "keyring"  # holds the keys by design: never scanned
    provider = EchoingProvider(
        latency_s=0.01, brain=offline_brain("base"), expected_key=KEYS["groq"][1]
    ).start()
    try:
        env = _run_env(dspy_tui_home, keyring_dir, provider)
        for name, (where, key) in KEYS.items():
            if where == "keyring":
                out = cli("keys", "set", name, env=env, stdin=key + "\n")
                assert out.returncode == 0, out.stderr
                scan.text(out.stdout + out.stderr, f"keys set {name}")
        assert keyring_dir.exists() and not (dspy_tui_home / "config").exists()

        # 1. a session with a working model and two refused keys: copied WAL while running, killed, resumed
        mixed = _config(
            tmp_path / "mixed.toml",
            ["groq/llama-3.3-70b-versatile", "openai/gpt-4o-mini", "gemini/gemini-2.5-flash"],
            rounds=2,
        )
        proc = cli_popen(
            "--verbose", "run", str(mixed), "--headless", "--json", env=env, stdout=subprocess.PIPE
        )
        wal = dspy_tui_home / "dspy-tui.db-wal"
        copies = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and sum(r.answered for r in provider.received) < 40:
            if wal.exists():
                scan.blob(wal.read_bytes(), f"WAL while running (copy {copies})")
                copies += 1
            time.sleep(0.05)
        assert proc.poll() is None, "the session ended before the kill"
        proc.send_signal(signal.SIGKILL)
        out_text, err_text = proc.communicate(timeout=30)
        scan.text(out_text + err_text, "killed run output")
        assert wal.exists(), "a killed session leaves its WAL behind"
        shutil.copy(wal, tmp_path / "wal-after-kill")
        scan.blob(wal.read_bytes(), "WAL after SIGKILL")
        sid_mixed = json.loads(cli("sessions", "list", "--json", env=env).stdout)[0]["id"]
        resumed = cli("--verbose", "resume", sid_mixed, "--headless", "--json", env=env)
        assert resumed.returncode == 4, resumed.stderr[-2000:]  # completed, but the two refused models failed
        scan.text(resumed.stdout + resumed.stderr, "resume output")

        # 2. a session where every key is refused: it fails
        refused = _config(tmp_path / "refused.toml", ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"])
        failed = cli("--verbose", "run", str(refused), "--headless", env=env)
        assert failed.returncode == 1, failed.stderr[-2000:]
        assert "every model failed" in failed.stderr
        scan.text(failed.stdout + failed.stderr, "failed run output")
        echoed = [r for r in provider.received if r.status == 401]
        assert {r.model for r in echoed} >= {"gpt-4o-mini", "gemini-2.5-flash", "claude-haiku-4-5"}
    finally:
        provider.stop()

    # 3. every report, export and listing, in-process (same home), with the keys planted here too
    for provider_id, (where, key) in KEYS.items():
        if where == "keyring":
            memory_keyring.set_password(key_store.SERVICE, provider_id, key)
        else:
            monkeypatch.setenv(ENV_NAMES[provider_id], key)
    store = SessionStore(resolve_paths().db_path)
    sessions = store.list_sessions()
    assert {s.status for s in sessions} == {"completed", "failed"}
    errors = [m["error"] or "" for s in sessions for m in store.session_models(s.id)]
    assert sum("[redacted]" in e for e in errors) >= 3, errors  # the echoed keys arrived, and were cut out
    out_dir = tmp_path / "out"
    commands: list[list[str]] = [
        ["sessions", "list"],
        ["sessions", "list", "--json"],
        ["doctor"],
        ["doctor", "--json"],
        ["keys", "list"],
        ["keys", "list", "--json"],
        ["models", "--json"],
        ["estimate", str(tmp_path / "mixed.toml")],
    ]
    for s in sessions:
        sid = s.id
        commands += [["sessions", "show", sid], ["sessions", "show", sid, "--json"]]
        for fmt in ("md", "json", "html"):
            commands += [
                ["report", sid, "--format", fmt],
                ["report", sid, "--format", fmt, "-o", str(out_dir / f"{sid}.{fmt}")],
            ]
        for m in store.session_models(sid):
            target = out_dir / f"{sid}-{m['model'].replace('/', '_')}.json"
            commands.append(["export", sid, "--model", m["model"], "-o", str(target)])
    out_dir.mkdir()
    exported = 0
    records = _Records()
    logging.getLogger().addHandler(records)
    for argv in commands:
        code = main(["--verbose", *argv])
        captured = capsys.readouterr()
        scan.text(captured.out + captured.err, " ".join(argv))
        assert code in (0, 2), (argv, captured.err)
        exported += argv[0] == "export" and code == 0
    assert exported >= 1 and len(list(out_dir.glob("*.md"))) == len(sessions)
    assert main(["keys", "list", "--json"]) == 0
    keys_listed = json.loads(capsys.readouterr().out)
    assert {k["provider"]: k["source"] for k in keys_listed}["groq"] == "keyring"

    # 4. in-process: the engine meets the keys and their refusals
    with _started(EchoingProvider(expected_key="someone-else")) as refusing:
        for model in ("openai/gpt-4o-mini", "gemini/gemini-2.5-flash", "anthropic/claude-haiku-4-5"):
            provider_id = model.split("/")[0]
            base_url = refusing.url + ("/v1" if provider_id == "openai" else "")
            lm = lm_with(model, keys=key_store.get_key, base_url=base_url, num_retries=0)
            scan.text(repr(lm) + repr(lm.kwargs) + repr(getattr(lm, "engine", None)), f"repr of {model}")
            predict = dspy.Predict("question -> answer")
            predict.set_lm(lm)
            try:
                predict(question="who am I?")
                pytest.fail(f"{model} accepted a refused key")
            except (
                ModelFailed
            ) as exc:  # a refused key fails the model; its text (and cause's) is what we scan
                scan.text(
                    str(exc) + repr(exc) + "".join(traceback.format_exception(exc)), f"{model} exception"
                )
        config = parse_config(
            {
                "name": "in-process",
                "rounds": 1,
                "num_retries": 0,
                "task": {"dataset": "demo:sentiment", "max_train": 8, "max_dev": 6, "max_test": 6},
                "models": ["openai/gpt-4o-mini", "offline/small"],
                "base_urls": {"openai": refusing.url + "/v1"},
            }
        )
        session = session_in_home(config, key=key_store.get_key)
        seen: list[str] = []
        session.bus.subscribe(lambda e: seen.append(e.model_dump_json()))
        session.prepare()
        assert session.run() == "completed"
        assert session.runs["openai/gpt-4o-mini"].status == "failed"
        scan.text("\n".join(seen), "in-process session events")
        scan.text(repr(session.runs) + repr(session.config), "in-process session state")
    logging.getLogger().removeHandler(records)
    assert records.lines  # the refusals were logged, and scanned below
    scan.text("\n".join(records.lines), "log records (every level, before any file filter)")

    # 5. every file: the home (DB, WAL, logs, exports), what we wrote, the WAL copy, the TUI snapshots
    assert (dspy_tui_home / "logs" / "dspy-tui.log").stat().st_size > 0
    scan.tree(dspy_tui_home)
    scan.tree(out_dir)
    scan.files += 1
    scan.blob((tmp_path / "wal-after-kill").read_bytes(), "WAL after SIGKILL (copy)")
    if SNAPSHOTS.exists():
        scan.tree(SNAPSHOTS)
    print(
        f"\nsecrets: {len(KEYS)} keys planted ({sum(w == 'keyring' for w, _ in KEYS.values())} keyring, "
        f"{sum(w == 'env' for w, _ in KEYS.values())} env); files scanned {scan.files} + {copies} live WAL copies, "
        f"texts scanned {scan.texts}, {scan.bytes / 1e6:.1f} MB; hits {len(scan.hits)}"
    )
    assert scan.hits == []


class _Records(logging.Handler):
    """Every log record of the in-process part, formatted with its traceback, as a log file would hold it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class _started:
    """`with _started(provider) as p:` runs a fake provider for the block."""

    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider

    def __enter__(self) -> FakeProvider:
        return self.provider.start()

    def __exit__(self, *exc: Any) -> None:
        self.provider.stop()
