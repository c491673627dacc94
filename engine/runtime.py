"""One event loop per process that every LM call goes through.

DSPy calls the sync engine from many short-lived threads; those calls hop
onto this loop, where the HTTP connection pools and the per-key limiters
that all sessions of the process share live. Everything that belongs to a
session (prices, budget, cache, timeouts, limits, ...) travels with each
call in its `ModelLink` (call_context.py); the attempt itself is
call_path.py.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import itertools
import logging
import threading
from collections import deque
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from dspy.lm15 import Request, Response

from . import call_path
from .cache_codec import Ordinals
from .call_context import ModelLink
from .call_errors import CallCancelled
from .limits import Account, LimitConfig, Limiter, default_limits

log = logging.getLogger(__name__)
T = TypeVar("T")

OFFLINE_BASE_URL = "offline://local"  # the offline model has no host; this names its endpoint


@dataclass
class RuntimeStats:
    """Process-wide counters (read from any thread; written on the loop)."""

    calls: int = 0
    network_calls: int = 0
    errors: int = 0
    cache_hits: int = 0
    cache_saved_usd: float = 0.0  # what the cache hits would have cost at list price
    cost_usd: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    in_flight: int = 0
    by_error: dict[str, int] = field(default_factory=dict)


class _Handoff:
    """One sync call crossing onto the loop: the coroutine, a lock its thread waits on, the outcome."""

    __slots__ = ("coro", "done", "result", "error", "task", "abandoned")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro
        self.done = threading.Lock()
        self.done.acquire()
        self.result: Any = None
        self.error: BaseException | None = None
        self.task: asyncio.Task[Any] | None = None
        self.abandoned = False  # the waiting thread gave up (interrupted)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.abandoned:
            self.coro.close()
            self.error = asyncio.CancelledError()
            self.done.release()
            return
        self.task = loop.create_task(self.coro)
        self.task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            self.error = asyncio.CancelledError() if self.abandoned else _cancelled(task)
        else:
            self.error = task.exception()
            if self.error is None:
                self.result = task.result()
        self.done.release()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


def _cancelled(task: asyncio.Task[Any]) -> CallCancelled:
    """Why a call's task was cancelled under a caller that is still waiting."""
    try:
        task.result()
    except asyncio.CancelledError as exc:
        if exc.args:
            return CallCancelled(str(exc.args[0]))
    return CallCancelled("The LM call was cancelled: the dspy-tui runtime shut down.")


class Runtime:
    """The process's engine loop. Use `Runtime.get()`; tests may `Runtime.shutdown()`."""

    _instance: Runtime | None = None
    _instance_lock = threading.Lock()
    _exit_hooked = False

    def __init__(self) -> None:
        # Process-wide provider defaults (tests, benchmarks); a session's own limits come per model.
        self.provider_limits: dict[str, LimitConfig] = {}
        self.stats = RuntimeStats()
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._limiters: dict[tuple[str, str, str, str], Limiter] = {}
        self._accounts: dict[tuple[str, str, str], Account] = {}  # what the headers say is left, per key
        self._ordinals = Ordinals()
        self._call_ids = itertools.count(1)
        self._running_calls: dict[str, set[asyncio.Task[Any]]] = {}  # session id -> its calls in flight
        self._closed = False
        self._inbox: deque[_Handoff] = deque()  # sync calls waiting to start on the loop
        self._inbox_lock = threading.Lock()
        self._wake_pending = False
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="dspy-tui-engine", daemon=True
        )
        self._thread.start()
        started.wait()

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        # Cache reads/writes (SQLite) and offline answers run here, never on the loop.
        self.loop.set_default_executor(ThreadPoolExecutor(max_workers=8, thread_name_prefix="dspy-tui-io"))
        self.loop.call_soon(started.set)
        self.loop.run_forever()

    # ---- lifecycle ----------------------------------------------------
    @classmethod
    def get(cls) -> Runtime:
        instance = cls._instance
        if instance is not None:
            return instance
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
                if not cls._exit_hooked:
                    atexit.register(cls.shutdown)  # close the sessions cleanly at interpreter exit
                    cls._exit_hooked = True
            return cls._instance

    @classmethod
    def running(cls) -> bool:
        """Whether a process runtime exists (without starting one)."""
        return cls._instance is not None

    @classmethod
    def shutdown(cls) -> None:
        """Close the process runtime (sessions, loop, thread); the next `get()` starts a new one."""
        with cls._instance_lock:
            instance, cls._instance = cls._instance, None
        if instance is not None:
            instance.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.in_loop_thread():
            raise RuntimeError("Runtime.close() cannot run on the runtime's own loop thread")
        try:
            asyncio.run_coroutine_threadsafe(self._close_sessions(), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self.loop.close()
            with self._inbox_lock:
                stranded, self._inbox = self._inbox, deque()
            for handoff in stranded:  # submitted as we closed: fail them rather than hang their threads
                handoff.coro.close()
                handoff.error = CallCancelled("The LM call was cancelled: the dspy-tui runtime shut down.")
                handoff.done.release()

    async def _close_sessions(self) -> None:
        # Cancel calls first: closing a session under a request would fail it as a
        # (retryable) transport error, and DSPy would try again on a new runtime.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
        await self.loop.shutdown_default_executor()

    # ---- crossing threads ---------------------------------------------
    def in_loop_thread(self) -> bool:
        return threading.get_ident() == self._thread.ident

    def run_sync(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and wait for it from this (non-loop) thread.

        Like `asyncio.run_coroutine_threadsafe(coro, loop).result()`, but
        many threads' submissions share one loop wake-up and each waiter
        blocks on a bare lock: this hop is on the path of every LM call. If
        the wait is interrupted (KeyboardInterrupt), the task is cancelled,
        which aborts its HTTP request."""
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError(
                "A synchronous dspy-tui LM call was made on the engine's own event-loop thread, where it "
                "would wait on itself forever. From async code on that loop, use `await lm.acall(...)` "
                "(the async engine) instead."
            )
        if self._closed:
            coro.close()
            raise RuntimeError("The dspy-tui runtime has been shut down; call Runtime.get() for a new one.")
        handoff = _Handoff(coro)
        with self._inbox_lock:
            self._inbox.append(handoff)
            wake, self._wake_pending = not self._wake_pending, True
        if wake:
            self.loop.call_soon_threadsafe(self._drain_inbox)
        try:
            handoff.done.acquire()
        except BaseException:
            handoff.abandoned = True
            if not self.loop.is_closed():
                self.loop.call_soon_threadsafe(handoff.cancel)
            raise
        if handoff.error is not None:
            raise handoff.error
        return handoff.result  # type: ignore[no-any-return]

    def _drain_inbox(self) -> None:
        with self._inbox_lock:
            batch, self._inbox = self._inbox, deque()
            self._wake_pending = False
        for handoff in batch:
            handoff.start(self.loop)

    def cancel_session(self, session_id: str) -> None:
        """Cancel every call of this session now in flight (from any thread); their
        callers get `CallCancelled` and their HTTP requests are aborted."""
        if self._closed:
            return

        def cancel() -> None:
            for task in list(self._running_calls.get(session_id, ())):
                task.cancel(f"The LM call was cancelled: session {session_id or '(none)'} was stopped.")

        self.loop.call_soon_threadsafe(cancel)

    def wait_session_idle(self, session_id: str, timeout: float) -> bool:
        """Wait (from any thread but the loop's) until no call of this session is in flight;
        False on timeout. DSPy's parallel evaluation returns on a worker's BaseException
        (a budget stop) without waiting for its other workers, whose calls are still out."""
        if self._closed or self.in_loop_thread():
            return False

        async def idle() -> None:
            while running := [t for t in self._running_calls.get(session_id, ()) if not t.done()]:
                await asyncio.wait(running)

        future = asyncio.run_coroutine_threadsafe(idle(), self.loop)
        try:
            future.result(timeout)
        except TimeoutError:
            future.cancel()
            return False
        return True

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` on the runtime loop from any loop; cancelling the caller cancels it."""
        if asyncio.get_running_loop() is self.loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    # ---- resources (loop thread only) ------------------------------------
    def _session(self, base_url: str) -> aiohttp.ClientSession:
        session = self._sessions.get(base_url)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=256, limit_per_host=256, keepalive_timeout=30)
            # No cookie jar: API calls are stateless, and skipping cookie handling is on every call's path.
            session = aiohttp.ClientSession(
                connector=connector, raise_for_status=False, cookie_jar=aiohttp.DummyCookieJar()
            )
            self._sessions[base_url] = session
        return session

    def limiter(self, link: ModelLink) -> Limiter:
        """The limiter of this (provider, base URL, key, model); shared by every session
        of the process, since they share the account. A session's own limits for the
        model reconfigure it."""
        endpoint = link.endpoint
        key_id = hashlib.sha256(endpoint.key.encode()).hexdigest()[:16] if endpoint.key else ""
        slot = (endpoint.provider.id, endpoint.base_url, key_id, endpoint.model)
        config = (
            link.limits
            or self.provider_limits.get(endpoint.provider.id)
            or default_limits(endpoint.provider.id)
        )
        limiter = self._limiters.get(slot)
        if limiter is None:
            account = self._accounts.setdefault(slot[:3], Account())
            limiter = Limiter(
                config, name=f"{endpoint.provider.id}/{endpoint.model}@{endpoint.base_url}", account=account
            )
            self._limiters[slot] = limiter
        elif limiter.config is not config:
            limiter.reconfigure(config)
        return limiter

    def set_limits(self, provider_id: str, config: LimitConfig) -> None:
        """Set a provider's default limits for this process (models without limits of their own)."""
        self.provider_limits[provider_id] = config

    async def call(self, link: ModelLink, request: Request) -> Response:
        """One attempt at one request (call_path.py)."""
        return await call_path.perform(self, link, request)
