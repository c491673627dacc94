"""Shared pieces of the reliability tests: session configs, real dspy-tui processes, the provider's bill.

Sessions here run against `tests/fakes/provider_server.FakeProvider` on 127.0.0.1,
so every request is real HTTP that the "provider" counts, prices and can fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dspy_tui.engine.config import SessionConfig, parse_config
from dspy_tui.engine.pricing import price_for
from dspy_tui.engine.session import Session
from dspy_tui.storage.paths import resolve_paths
from dspy_tui.storage.sessions import SessionStore

from fakes.provider_server import FakeProvider, Received

GROQ_MODEL = "groq/llama-3.3-70b-versatile"  # priced in the catalog; served here by the fake provider
GROQ_KEY = "gsk_fake_reliability_key_0000"
UNLIMITED = "{ rpm = 1000000, tpm = 1000000000, concurrency = 16 }"


def write_config(
    path: Path,
    *,
    rounds: int = 2,
    seed: int = 5,
    dataset: str = "demo:sentiment",
    sizes: tuple[int, int, int] = (40, 30, 30),
    models: Iterable[str] = (GROQ_MODEL, "offline/small"),
    **extra: Any,
) -> Path:
    """A TOML session config: the groq model (fake provider) next to an offline one by default."""
    lines = [
        'name = "reliability"',
        'optimizer = "bootstrap"',
        f"rounds = {rounds}",
        f"seed = {seed}",
        "concurrency = 8",
        *(f"{k} = {json.dumps(v)}" for k, v in extra.items()),
        "[task]",
        f'dataset = "{dataset}"',
        f"max_train = {sizes[0]}",
        f"max_dev = {sizes[1]}",
        f"max_test = {sizes[2]}",
    ]
    for model in models:
        lines += ["[[models]]", f'id = "{model}"']
        if not model.startswith("offline/"):
            lines += ["max_tokens = 256", f"limits = {UNLIMITED}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def session_in_home(
    config: dict[str, Any] | SessionConfig,
    *,
    key: str | Callable[[str], str | None] | None = None,
    session_id: str | None = None,
) -> Session:
    """An in-process Session (not yet prepared) on the test's DSPY_TUI_HOME database; `key` is every
    provider's key, or the function that gives a provider's key."""
    paths = resolve_paths()
    return Session(
        config if isinstance(config, SessionConfig) else parse_config(config),
        store=SessionStore(paths.db_path),
        paths=paths,
        keys=key if callable(key) else lambda _provider: key,
        session_id=session_id,
    )


def cli_env(home: Path, provider: FakeProvider | None = None, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DSPY_TUI_HOME": str(home), "GROQ_API_KEY": GROQ_KEY, **extra}
    if provider is not None:
        env["DSPY_TUI_GROQ_BASE_URL"] = f"{provider.url}/openai/v1"
    return env


def cli(
    *args: str, env: dict[str, str], timeout: float = 300, stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`dspy-tui ARGS` as a real process (`python -m dspy_tui`), its output captured."""
    command = [sys.executable, "-m", "dspy_tui", *args]
    return subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, input=stdin
    )


def cli_home(
    *args: str, home: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`cli` with this environment, DSPY_TUI_HOME set to `home` (and `env` on top), 120 s at most."""
    return cli(*args, env={**os.environ, "DSPY_TUI_HOME": str(home), **(env or {})}, stdin=stdin, timeout=120)


def cli_in_process(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`cli` without the process: `dspy_tui.cli.main.main` under `env`, its output and exit code captured.

    For tests about what a command answers (exit code, stderr sentence, files untouched), where a
    fresh interpreter per command only adds its start-up; an escaped exception ends as the
    interpreter would end it, a traceback on stderr and exit 1. Signals, kills, concurrent runners
    and the console script itself stay with `cli`/`cli_popen`.
    """
    from dspy_tui.cli.main import main
    from dspy_tui.engine.runtime import Runtime

    saved_env, saved_stdin, had_runtime = dict(os.environ), sys.stdin, Runtime.running()
    out, err = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update(env)
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit_:
                code = 0 if exit_.code is None else exit_.code if isinstance(exit_.code, int) else 1
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        if not had_runtime:
            Runtime.shutdown()  # the runtime the command started: what the process's exit would end
        sys.stdin = saved_stdin
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(["dspy-tui", *args], code, out.getvalue(), err.getvalue())


def cli_popen(*args: str, env: dict[str, str], stdout: Any = subprocess.DEVNULL) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dspy_tui", *args], env=env, stdout=stdout, stderr=subprocess.PIPE, text=True
    )


def show(env: dict[str, str], session_id: str) -> dict[str, Any]:
    out = cli_in_process("sessions", "show", session_id, "--json", env=env)
    assert out.returncode == 0, out.stderr
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def only_session_id(env: dict[str, str]) -> str:
    out = cli_in_process("sessions", "list", "--json", env=env)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert len(rows) == 1, rows
    return str(rows[0]["id"])


def billed_usd(
    records: Iterable[Received], model: str = GROQ_MODEL, price: dict[str, float] | None = None
) -> float:
    """What the provider billed for these answers at the model's (or the given) price, USD."""
    records = list(records)
    tokens_in = sum(r.tokens_in or 0 for r in records)
    tokens_out = sum(r.tokens_out or 0 for r in records)
    if price is not None:
        return (tokens_in * price["input"] + tokens_out * price["output"]) / 1_000_000
    provider, model_id = model.split("/", 1)
    found = price_for(provider, model_id)
    assert found is not None
    return (tokens_in * found.input + tokens_out * found.output) / 1_000_000


def answer_id(record: Received) -> str:
    """The id the fake provider's OpenAI-shaped answer to this request carried."""
    return f"chatcmpl-{record.number}"


def cached_answer_ids(db: Path) -> set[str]:
    """Ids of the provider answers stored in the call cache (read-only, never migrates)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return {json.loads(body).get("id", "") for (body,) in conn.execute("SELECT body FROM lm_cache")}
    finally:
        conn.close()


def migration_names() -> list[str]:
    """Every migration this dspy-tui applies to a new database, in order (tests/unit/test_storage.py
    pins the list itself)."""
    import sqlite_utils

    from dspy_tui.storage.db import migrations

    return [m.name for m in migrations.pending(sqlite_utils.Database(memory=True))]


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def table_digest(db: Path) -> dict[str, str]:
    """A digest of every table's rows, so "untouched" can be checked after a WAL checkpoint."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        names = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        out = {}
        for name in names:
            digest = hashlib.sha256()
            for row in conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid'):
                digest.update(repr(row).encode())
            out[name] = digest.hexdigest()
        return out
    finally:
        conn.close()
