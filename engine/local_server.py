"""The llama.cpp servers dspy-tui starts for `local/...` models, and how calls reach them.

A server starts when a session first calls its model: a child process
(llama-cpp-python's `llama_cpp.server`) on a free 127.0.0.1 port, health-checked
before the first call is sent. It stops when the last session using it ends, or
when dspy-tui exits. It can never outlive dspy-tui, even after a kill -9: the
child reads a pipe whose only writer is this process and exits when the kernel
closes it (PR_SET_PDEATHSIG would fire when the spawning *thread* ends, and
sessions start from short-lived threads). Calls go over the OpenAI wire like
any host; the limiter lets through only as many as the server has slots, so
requests queue here rather than inside the server, and each call's timeout
grows with the server's measured tokens per second.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from dspy.lm15 import NotConfiguredError

from dspy_tui.storage.paths import resolve_paths

from . import local_models as local
from .local_models import LocalModel
from .providers.base import Endpoint, WireRequest

log = logging.getLogger(__name__)

PORT_ENV = "DSPY_TUI_LOCAL_PORT"  # pin the server's port (a firewall rule, a proxy in front)
BASE_URL_ENV = "DSPY_TUI_LOCAL_BASE_URL"  # send calls here instead (e.g. a proxy to the pinned port)
START_TIMEOUT_S = 180.0  # loading a GGUF on a busy machine
SLOTS = 1  # llama-cpp-python's server computes one request at a time
MAX_TIMEOUT_S = 1800.0

# The child: a thread reads stdin until EOF (this process gone: exit at once), then the module runs.
# For llama.cpp, weights are not repacked into "extra buffer types" (AMX/repack kernels): on some
# x86 sandboxes those kernels segfault on the first prompt longer than one token.
_CHILD = (
    "import os, runpy, sys, threading\n"
    "def _watch():\n"
    "    while sys.stdin.buffer.read(4096):\n"
    "        pass\n"
    "    os._exit(0)\n"
    "threading.Thread(target=_watch, daemon=True, name='parent-watch').start()\n"
    "module = sys.argv[1]\n"
    "sys.argv = [module, *sys.argv[2:]]\n"
    "if module == 'llama_cpp.server':\n"
    "    import llama_cpp.llama_cpp as api\n"
    "    defaults = api.llama_model_default_params\n"
    "    def plain_buffers():\n"
    "        params = defaults()\n"
    "        params.use_extra_bufts = False\n"
    "        return params\n"
    "    api.llama_model_default_params = plain_buffers\n"
    "runpy.run_module(module, run_name='__main__', alter_sys=True)\n"
)


def spawn_watched(
    module: str, args: list[str], output: IO[bytes], env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`python -m module args...` that exits as soon as this process is gone, however it ended."""
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, module, *args],
        env=env,
        stdin=subprocess.PIPE,  # our end: when this process dies, the child reads EOF and exits
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the terminal's Ctrl-C is ours to handle, not the server's
    )


@dataclass
class _Speed:
    """Measured service speed: weighted tokens per second (a prompt token costs ~1/8 of an output token)."""

    tokens_per_s: float | None = None

    @staticmethod
    def weight(prompt_tokens: int, output_tokens: int) -> float:
        return prompt_tokens / 8 + output_tokens

    def observe(self, prompt_tokens: int, output_tokens: int, seconds: float) -> None:
        if seconds <= 0:
            return
        rate = max(self.weight(prompt_tokens, output_tokens), 1.0) / seconds
        self.tokens_per_s = rate if self.tokens_per_s is None else 0.7 * self.tokens_per_s + 0.3 * rate

    def timeout_s(self, base_s: float, prompt_tokens: int, max_tokens: int) -> float:
        """The configured timeout, or 4x the time this request could take at the measured speed."""
        if self.tokens_per_s is None:
            return max(base_s, 300.0)  # no measurement yet: the first call may include a cold start
        need = self.weight(prompt_tokens, max_tokens) / self.tokens_per_s
        return min(MAX_TIMEOUT_S, max(base_s, 4 * need + 10))


class LocalServer:
    """One llama.cpp server process for one `LocalModel`."""

    def __init__(self, model: LocalModel) -> None:
        self.model = model
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log_path: Path | None = None
        self.users: set[str] = set()  # session ids that called it
        self.speed = _Speed()
        self._start: concurrent.futures.Future[str] | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def started(self) -> concurrent.futures.Future[str]:
        """The base URL once the server answers; the first caller starts it in a thread of its own."""
        with self._lock:
            if self._start is None:
                self._start = concurrent.futures.Future()
                threading.Thread(target=self._run_start, name=f"local-{self.model.name}", daemon=True).start()
            return self._start

    def _run_start(self) -> None:
        assert self._start is not None
        try:
            self._start.set_result(self.start())
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting call
            self._start.set_exception(exc)

    def start(self) -> str:
        """Start the process and wait until it serves; raises NotConfiguredError saying what to do."""
        missing = local.missing_server_modules()
        if missing:
            raise self._error(
                f"the llama.cpp server is not installed (no {', '.join(missing)}): run {local.INSTALL_HINT}"
            )
        pinned = os.environ.get(PORT_ENV, "").strip()
        self.port = int(pinned) if pinned.isdigit() else _free_port()
        log_dir = resolve_paths().log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"llama-server-{_slug(self.model.name)}-{os.getpid()}.log"
        with open(self.log_path, "wb") as log_file:
            self.proc = spawn_watched("llama_cpp.server", self._args(), log_file, _server_env())
        log.info(
            "started llama.cpp server pid %s for %s on port %s", self.proc.pid, self.model.path, self.port
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise self._error(self._why_it_died())
            if _answers(self.url + "/models"):
                return self.url
            time.sleep(0.25)
        self.stop()
        raise self._error(
            f"the llama.cpp server did not answer within {START_TIMEOUT_S:g} s; see {self.log_path}"
        )

    def _args(self) -> list[str]:
        m = self.model
        args = [
            "--model",
            str(m.path),
            "--model_alias",
            m.name,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(m.n_ctx),
            "--n_threads",
            str(m.n_threads),
            "--n_threads_batch",
            str(m.n_threads),
        ]
        if m.chat_format:
            args += ["--chat_format", m.chat_format]
        return args

    def _why_it_died(self) -> str:
        assert self.proc is not None
        tail = _tail(self.log_path)
        code = self.proc.returncode
        if re.search(r"address already in use|errno 98|error while attempting to bind", tail, re.IGNORECASE):
            return (
                f"port {self.port} on 127.0.0.1 is already in use; free it or unset {PORT_ENV}"
                if os.environ.get(PORT_ENV)
                else f"port {self.port} on 127.0.0.1 was taken as it started; try again"
            )
        if (
            re.search(
                r"out of memory|failed to allocate|bad_alloc|MemoryError|cannot allocate", tail, re.IGNORECASE
            )
            or code == -9
        ):
            return (
                f"the llama.cpp server ran out of memory loading {self.model.path.name}; "
                "choose a smaller model or a smaller n_ctx in [local_models]"
            )
        if re.search(
            r"failed to load model|unknown model architecture|invalid magic|gguf_init", tail, re.IGNORECASE
        ):
            return (
                f"llama.cpp could not load {self.model.path} (not a valid GGUF model); "
                "check the path in [local_models] or the model id"
            )
        if "No module named" in tail:
            return f"the llama.cpp server is incomplete ({_last_line(tail)}): run {local.INSTALL_HINT}"
        return f"the llama.cpp server exited with code {code} ({_last_line(tail)}); see {self.log_path}"

    def _error(self, why: str) -> NotConfiguredError:
        return NotConfiguredError(f"local/{self.model.name}: {why}.", provider=local.PROVIDER_ID)

    def timeout_s(self, base_s: float, prompt_tokens: int, max_tokens: int) -> float:
        """Seconds one call may take: the configured timeout, stretched to what this CPU needs."""
        return self.speed.timeout_s(base_s, prompt_tokens, max_tokens)

    def check_alive(self) -> None:
        """Raise when a started server has since died (a crash, the OOM killer)."""
        if self.proc is not None and self.proc.poll() is not None:
            raise self._error(
                f"the llama.cpp server stopped (exit code {self.proc.returncode}); see {self.log_path}"
            )

    def stop(self) -> None:
        """End the process (closing its pipe is enough; terminate, then kill, make sure)."""
        with self._lock:
            proc, self.proc, self._start = self.proc, None, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        log.info("stopped llama.cpp server pid %s (%s)", proc.pid, self.model.name)


class LocalServers:
    """The servers of this process: one per distinct local model, shared by the sessions using it."""

    def __init__(self) -> None:
        self._models: dict[str, LocalModel] = {}  # endpoint URL ("local://name") -> the model it serves
        self._servers: dict[LocalModel, LocalServer] = {}
        self._lock = threading.Lock()

    def register(self, model: LocalModel) -> str:
        """Make `model` callable; returns its endpoint's stable base URL."""
        url = local.endpoint_url(model)
        with self._lock:
            self._models[url] = model
        return url

    def server_for(self, endpoint: Endpoint) -> LocalServer:
        with self._lock:
            model = self._models.get(endpoint.base_url)
            if model is None:
                raise NotConfiguredError(
                    f"local/{endpoint.model} was not set up for this process.", provider=local.PROVIDER_ID
                )
            server = self._servers.get(model)
            if server is None:
                server = self._servers[model] = LocalServer(model)
            return server

    async def route(
        self, wire_request: WireRequest, endpoint: Endpoint, session_id: str
    ) -> tuple[WireRequest, LocalServer]:
        """The request aimed at the running server (started on first use), and that server."""
        server = self.server_for(endpoint)
        server.users.add(session_id)
        base = await asyncio.wrap_future(server.started())
        server.check_alive()
        target = os.environ.get(BASE_URL_ENV, "").strip().rstrip("/") or base
        url = target + wire_request.url.removeprefix(endpoint.base_url)
        return replace(wire_request, url=url), server

    def hold(self, model: LocalModel, owner: str) -> LocalServer:
        """Start `model`'s server now and keep it up for `owner` (a benchmark, a warm-up) until
        `release(owner)`; sessions calling the model meanwhile share it."""
        self.register(model)
        with self._lock:
            server = self._servers.setdefault(model, LocalServer(model))
        server.users.add(owner)
        server.started().result()
        return server

    def release(self, session_id: str) -> None:
        """A session ended: stop the servers no other session still uses."""
        with self._lock:
            idle = []
            for server in self._servers.values():
                server.users.discard(session_id)
                if not server.users:
                    idle.append(server)
        for server in idle:
            server.stop()

    def running(self) -> list[LocalServer]:
        with self._lock:
            return [s for s in self._servers.values() if s.proc is not None and s.proc.poll() is None]

    def stop_all(self) -> None:
        with self._lock:
            servers = list(self._servers.values())
        for server in servers:
            server.stop()


SERVERS = LocalServers()
atexit.register(SERVERS.stop_all)


def _server_env() -> dict[str, str]:
    """Idle OpenMP threads sleep instead of spinning: on a shared machine, spinning threads
    made one 32-token answer take 30 s instead of 1 s (2 cores, load 11)."""
    return {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback server
            return bool(200 <= response.status < 300)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _tail(path: Path | None, size: int = 8000) -> str:
    if path is None:
        return ""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[-80:]


def describe(model: LocalModel) -> dict[str, Any]:
    """What `doctor` and `models` show of a local model."""
    return {
        "backend": "llama-cpp-python server (llama.cpp, CPU)",
        "path": str(model.path),
        "size_mb": round(model.size_bytes / 1e6, 1),
        "n_ctx": model.n_ctx,
        "threads": model.n_threads,
        "slots": SLOTS,
    }
