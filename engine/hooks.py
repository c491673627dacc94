"""User shell hooks: run a command for chosen events, with the event's JSON on stdin.

Hooks are the user's code, so they are kept at arm's length: the bus
subscriber only serialises the event (one JSON line, newline-terminated, so
`cat >> events.jsonl` writes valid JSONL) and enqueues it, never blocking the
publisher, which may be an optimizer thread. A small pool of worker threads
runs the commands; each hook key always goes to the same worker, so one hook
sees its events in order while a hanging hook does not hold up the others.
Each command runs in its own process group so a timeout kills the whole
pipeline it started, and a failing hook is logged and counted, never raised
into the engine. If hooks fall far behind, new events are dropped and counted
rather than queued without bound. At exit the queued hooks get one grace
period in total (not one per hook); then whatever still runs is killed and
the rest is dropped, so a hanging hook cannot hold the process.

Logs name a hook by its event key and program name only: a command line may
carry a token (`curl -H "Authorization: ..."`), so it is never logged whole.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from dspy_tui.storage.secrets import is_redacted_command

from .events import Event, EventBus

_STDERR_CHARS = 200
_REAP_S = 2.0  # after a kill, how long to wait for the pipes to close
STOP_GRACE_S = 1.0  # a stopped session waits this long for its queued hooks (Ctrl-C, SIGTERM)


@dataclass(frozen=True)
class _Job:
    key: str  # the hooks-dict key that matched: an event type or "*"
    command: str
    event_type: str
    payload: bytes


_STOP = object()


class HookRunner:
    """Runs `hooks[event.type]` and `hooks["*"]` for every event published on the attached buses."""

    def __init__(
        self,
        hooks: dict[str, str],
        timeout_s: float,
        log: logging.Logger = logging.getLogger(__name__),  # noqa: B008 - a module logger is a constant
        *,
        max_pending: int = 1000,
        workers: int = 4,
        grace_s: float = 10.0,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"a hook timeout must be positive, got {timeout_s!r}")
        self.hooks = {k: v for k, v in hooks.items() if not is_redacted_command(v)}
        if len(self.hooks) < len(hooks):  # a resumed session: commands are not stored (they may hold tokens)
            log.warning(
                "%d hook(s) of this session were not stored and do not run on resume",
                len(hooks) - len(self.hooks),
            )
        self.timeout_s = timeout_s
        self.grace_s = grace_s
        self.log = log
        self._queues: list[queue.Queue[_Job | object]] = [
            queue.Queue(maxsize=max_pending) for _ in range(max(1, min(workers, len(self.hooks) or 1)))
        ]
        self._slots = {key: i % len(self._queues) for i, key in enumerate(self.hooks)}  # a hook, a worker
        self._lock = threading.Lock()
        self._counts = {"ok": 0, "failed": 0, "timed_out": 0, "dropped": 0}
        self._closed = False
        self._abandon = threading.Event()  # the grace period is over: kill and drop
        self._workers: dict[int, threading.Thread] = {}
        self._running: set[subprocess.Popen[bytes]] = set()
        self._detach: list[Callable[[], None]] = []

    # ---- publisher side: quick, never raises, never blocks

    def attach(self, bus: EventBus) -> Callable[[], None]:
        """Subscribe to `bus`; the returned function unsubscribes."""
        unsubscribe = bus.subscribe(self._on_event)
        with self._lock:
            self._detach.append(unsubscribe)
        return unsubscribe

    def _on_event(self, event: Event) -> None:
        keys = [k for k in (event.type, "*") if k in self.hooks]
        if not keys or self._closed:
            return
        payload = event.model_dump_json().encode() + b"\n"
        for key in keys:
            self._enqueue(_Job(key, self.hooks[key], event.type, payload))

    def _enqueue(self, job: _Job) -> None:
        slot = self._slots[job.key]
        with self._lock:
            if self._closed:
                return
            if slot not in self._workers:
                worker = threading.Thread(
                    target=self._run, args=(slot,), name=f"dspy-tui-hooks-{slot}", daemon=True
                )
                self._workers[slot] = worker
                worker.start()
            try:
                self._queues[slot].put_nowait(job)
                return
            except queue.Full:
                self._counts["dropped"] += 1
                dropped = self._counts["dropped"]
        if dropped == 1 or dropped % 100 == 0:
            self.log.warning("hooks are falling behind: %d event(s) dropped so far", dropped)

    # ---- worker side

    def _run(self, slot: int) -> None:
        jobs = self._queues[slot]
        while (job := jobs.get()) is not _STOP:
            assert isinstance(job, _Job)
            if self._abandon.is_set():
                outcome = "dropped"
            else:
                try:
                    outcome = self._run_job(job)
                except Exception:  # e.g. fork failed: still the user's hook, still not the engine's problem
                    self.log.exception(
                        "hook for %r (%s) could not be started", job.key, _program(job.command)
                    )
                    outcome = "failed"
            with self._lock:
                self._counts[outcome] += 1

    def _run_job(self, job: _Job) -> str:
        env = {**os.environ, "DSPY_TUI_EVENT": job.event_type}
        proc = subprocess.Popen(
            ["/bin/sh", "-c", job.command],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        with self._lock:
            self._running.add(proc)
        name = _program(job.command)
        try:
            _, stderr = proc.communicate(job.payload, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                _, stderr = proc.communicate(timeout=_REAP_S)
            except subprocess.TimeoutExpired:  # a grandchild escaped the group and holds the pipe
                stderr = b""
                proc.kill()
                proc.wait()
            self.log.warning(
                "hook for %r (%s) timed out after %gs and was killed%s",
                job.key,
                name,
                self.timeout_s,
                _tail(stderr),
            )
            return "timed_out"
        finally:
            with self._lock:
                self._running.discard(proc)
        if self._abandon.is_set() and proc.returncode < 0:
            self.log.warning(
                "hook for %r (%s) was still running when dspy-tui exited and was killed", job.key, name
            )
            return "timed_out"
        if proc.returncode != 0:
            self.log.warning(
                "hook for %r (%s) exited with %d%s", job.key, name, proc.returncode, _tail(stderr)
            )
            return "failed"
        return "ok"

    # ---- lifecycle and introspection

    @property
    def outcomes(self) -> dict[str, int]:
        """Counts of ok / failed / timed_out / dropped hook runs so far."""
        with self._lock:
            return dict(self._counts)

    def close(self, wait: bool = True, stopping: threading.Event | None = None) -> None:
        """Stop taking events. With `wait`, run what is queued for at most `grace_s` in total, then kill
        what still runs and drop the rest; without, drop what is queued (a running hook finishes).
        Once `stopping` is set (Ctrl-C, SIGTERM), at most STOP_GRACE_S more: a stop ends in seconds."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            detach, self._detach = self._detach, []
            workers = dict(self._workers)
        for unsubscribe in detach:
            unsubscribe()
        if not workers:
            return
        if not wait:
            for jobs in self._queues:
                _drain(jobs)
        for slot in workers:
            self._queues[slot].put(_STOP)
        if not wait:
            return
        deadline = time.monotonic() + self.grace_s
        while any(w.is_alive() for w in workers.values()) and time.monotonic() < deadline:
            for worker in workers.values():
                worker.join(max(0.0, min(0.1, deadline - time.monotonic())))
            if stopping is not None and stopping.is_set():
                deadline = min(deadline, time.monotonic() + STOP_GRACE_S)
        if all(not w.is_alive() for w in workers.values()):
            return
        self._abandon.set()
        with self._lock:
            running = list(self._running)
        for proc in running:
            _kill_group(proc)
        for worker in workers.values():
            worker.join(_REAP_S + 1)
        dropped = self.outcomes["dropped"]
        self.log.warning("hooks still running at exit were killed (%d dropped in all)", dropped)


def _drain(jobs: queue.Queue[_Job | object]) -> None:
    while True:
        try:
            jobs.get_nowait()
        except queue.Empty:
            return


def _program(command: str) -> str:
    """The command's first word: enough to tell hooks apart in a log, without its arguments."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    return os.path.basename(words[0]) if words else "?"


def _tail(stderr: bytes | None) -> str:
    text = (stderr or b"").decode(errors="replace").strip()[:_STDERR_CHARS]
    return f": {text}" if text else ""


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone, with all it started
        os.killpg(proc.pid, signal.SIGKILL)
