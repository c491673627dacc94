"""One event loop per process that every LM call goes through.

DSPy calls the sync engine from many short-lived threads; those calls hop
onto this loop, where one aiohttp session per base URL, the rate limiters,
the budget and the cache meet. `Runtime.call` makes exactly ONE attempt:
DSPy owns retries, so every failure leaves here as a `dspy.lm15` error
(with `retry_after` when the provider gave one) and a `CallCompleted` event.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import hashlib
import heapq
import itertools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

import aiohttp
import yarl
from dspy._vendor.lm15.serde import request_to_dict, response_from_dict, response_to_dict, usage_to_dict
from dspy.lm15 import ProviderError, RateLimitError, Request, Response, TransportError
from dspy.lm15 import TimeoutError as LMTimeoutError

from . import local_server
from .budget import Budget, BudgetExhausted, BudgetReserveReached, Reservation, reserve_for_call
from .events import CallCompleted, EventBus
from .limits import LimitConfig, Limiter, limits_for
from .pricing import Price, cost_of, price_for
from .providers import offline, registry
from .providers.base import Endpoint, WireFormat

log = logging.getLogger(__name__)
T = TypeVar("T")

OFFLINE_BASE_URL = "offline://local"  # the offline model has no host; this names its endpoint


class CallCache(Protocol):
    """What the runtime needs of the LM call cache (storage/cache.py)."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(
        self,
        key: str,
        *,
        provider: str,
        model: str,
        endpoint: str,
        body: dict[str, Any],
        usage: dict[str, Any],
        call: Mapping[str, Any] | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class Timeouts:
    """Seconds for one attempt. `total` bounds the whole request; `connect`
    the TCP/TLS setup; `read` (optional) each wait for more bytes, so a
    stalled server fails before `total`. Each bound costs a timer per call."""

    total: float = 300.0
    connect: float = 15.0
    read: float | None = None

    @functools.cached_property
    def client_timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=self.total, connect=self.connect, sock_read=self.read)


_DEFAULT_TIMEOUTS = Timeouts()


@functools.lru_cache(maxsize=64)
def as_timeouts(timeout: float | Timeouts | None) -> Timeouts:
    """A number means the total seconds of one attempt."""
    if timeout is None:
        return _DEFAULT_TIMEOUTS
    if isinstance(timeout, Timeouts):
        return timeout
    seconds = float(timeout)
    return Timeouts(total=seconds, connect=min(15.0, seconds))


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


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces: the same request always hashes the same."""
    return _CANONICAL.encode(value).encode()


def cache_key(provider_id: str, base_url: str, model: str, body_json: bytes) -> str:
    """sha256 over the canonical JSON of (provider, base URL, model, body). Never the key."""
    digest = hashlib.sha256()
    digest.update(canonical_json([provider_id, base_url, model]))
    digest.update(b"\n")
    digest.update(body_json)
    return digest.hexdigest()


class _Ordinals:
    """Which occurrence of a sampled request this is.

    DSPy asks for several samples of the same prompt at temperature > 0
    (bootstrapping rounds, instruction proposals) and tells them apart with
    a `rollout_id` the engine never sees. Numbering the occurrences of each
    sampled request keeps them distinct in the cache, while a resumed run
    that asks again in the same way is still answered from it. A failed
    attempt gives its number back so that numbers match stored answers.
    """

    def __init__(self) -> None:
        self._next: dict[str, int] = {}
        self._free: dict[str, list[int]] = {}

    def take(self, key: str) -> int:
        free = self._free.get(key)
        if free:
            return heapq.heappop(free)
        number = self._next.get(key, 0)
        self._next[key] = number + 1
        return number

    def give_back(self, key: str, number: int) -> None:
        heapq.heappush(self._free.setdefault(key, []), number)


class CallCancelled(BaseException):  # noqa: N818 - a stop signal, like KeyboardInterrupt
    """An LM call was cancelled under its caller: its session stopped, or the runtime shut down.
    A BaseException so that DSPy neither retries it nor counts it as a failed example."""


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

    def __init__(
        self,
        limits: Mapping[str, LimitConfig] | None = None,
        prices: Mapping[str, Price | Mapping[str, float]] | None = None,
    ) -> None:
        self.limit_overrides: dict[str, LimitConfig] = dict(limits or {})
        self.price_overrides: dict[str, Price | Mapping[str, float]] = dict(prices or {})
        self.stats = RuntimeStats()
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._limiters: dict[tuple[str, str, str], Limiter] = {}
        self._ordinals = _Ordinals()
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

    def limiter(self, endpoint: Endpoint) -> Limiter:
        """The limiter of this provider account (provider + base URL + key)."""
        key_id = hashlib.sha256(endpoint.key.encode()).hexdigest()[:16] if endpoint.key else ""
        slot = (endpoint.provider.id, endpoint.base_url, key_id)
        limiter = self._limiters.get(slot)
        if limiter is None:
            config = limits_for(endpoint.provider.id, self.limit_overrides)
            limiter = Limiter(config, name=f"{endpoint.provider.id}@{endpoint.base_url}")
            self._limiters[slot] = limiter
        return limiter

    def set_limits(self, provider_id: str, config: LimitConfig) -> None:
        """Change one provider's limits, including limiters already in use."""
        self.limit_overrides[provider_id] = config

        def apply() -> None:
            for (pid, _, _), limiter in self._limiters.items():
                if pid == provider_id:
                    limiter.reconfigure(config)

        self.loop.call_soon_threadsafe(apply)

    # ---- the call -------------------------------------------------------
    async def call(
        self,
        endpoint: Endpoint,
        request: Request,
        *,
        budget: Budget | None = None,
        cache: CallCache | None = None,
        bus: EventBus | None = None,
        model_label: str | None = None,
        session_id: str = "",
        timeout: float | Timeouts | None = None,
    ) -> Response:
        """One attempt at one request: cache, budget, limiter, HTTP, pricing, event."""
        spec = endpoint.provider
        label = model_label or f"{spec.id}/{endpoint.model}"
        call = _Call(self, endpoint, label, next(self._call_ids))
        self.stats.calls += 1
        self.stats.in_flight += 1
        task = asyncio.current_task()
        running = self._running_calls.setdefault(session_id, set())
        if task is not None:
            running.add(task)
        try:
            wire = None if spec.offline else registry.wire_for(spec)
            wire_request = wire.build(request, endpoint) if wire is not None else None
            body = wire_request.body if wire_request is not None else request_to_dict(request)
            if cache is None:
                body_json = _COMPACT.encode(body).encode()  # no key to compute: skip sorting
            else:
                body_json = canonical_json(body)
                call.key = self._cache_key(call, request, body_json, session_id)
                stored = await self._lookup(cache, call.key)
                if stored is not None and (cached := self._parse_stored(wire, stored, endpoint)) is not None:
                    return call.hit(cached)
            price = price_for(spec.id, endpoint.model, self.price_overrides)
            call.price = price
            if budget is not None:
                max_tokens = request.config.max_tokens or endpoint.max_tokens_default
                call.reservation, allowed = await reserve_for_call(budget, label, price, len(body_json), max_tokens)
                if allowed < max_tokens:  # what is left pays for a shorter answer only: ask for one
                    request = replace(request, config=replace(request.config, max_tokens=allowed))
                    wire_request = wire.build(request, endpoint) if wire is not None else None
                    body_json = _COMPACT.encode(wire_request.body if wire_request else request_to_dict(request)).encode()
            if wire is None or wire_request is None:
                await asyncio.sleep(offline.simulated_latency_s(endpoint.model, request))
                # Pure CPU work, off the loop so other models' HTTP keeps flowing.
                response = await asyncio.to_thread(offline.complete, request, endpoint.model)
                stored_body = response_to_dict(response)
            else:
                max_tokens = request.config.max_tokens or endpoint.max_tokens_default
                est = len(body_json) // 3 + 1 + max_tokens
                timeouts = as_timeouts(timeout)
                if spec.managed:  # local/: started on first use, timeouts at the server's measured speed
                    wire_request, call.server = await local_server.SERVERS.route(wire_request, endpoint, session_id)
                    seconds = call.server.timeout_s(timeouts.total, len(body_json) // 3 + 1, max_tokens)
                    timeouts = Timeouts(total=seconds, connect=timeouts.connect)
                response, stored_body = await call.send(wire, wire_request, body_json, est, timeouts)
            call.succeeded(response, budget)
            if cache is not None:
                event = call.event(session_id)
                await self._store(cache, call.key, endpoint, stored_body, response, event)
                call.recorded = event.recorded
            return response
        except BaseException as exc:
            call.failed(exc, budget)
            raise
        finally:
            self.stats.in_flight -= 1
            if task is not None:
                running.discard(task)
            call.finish(bus, session_id)

    def _cache_key(self, call: _Call, request: Request, body_json: bytes, session_id: str) -> str:
        endpoint = call.endpoint
        # Scoped to the session: a resumed session is answered from what it already paid
        # for, while a new session measures real answers, latency and cost.
        key = cache_key(endpoint.provider.id, endpoint.base_url, endpoint.model, body_json)
        if session_id:
            key = f"{session_id}:{key}"
        temperature = request.config.temperature
        if temperature is None or temperature <= 0:
            return key
        scope = key
        number = self._ordinals.take(scope)
        call.ordinal = (scope, number)
        return key if number == 0 else f"{key}#{number}"

    @staticmethod
    async def _lookup(cache: CallCache, key: str) -> dict[str, Any] | None:
        """A cached body, or None; a cache that cannot be read is a miss, not a failed call."""
        try:
            return await asyncio.to_thread(cache.get, key)
        except Exception:
            log.exception("could not read the LM call cache")
            return None

    @staticmethod
    def _parse_stored(wire: WireFormat | None, stored: dict[str, Any], endpoint: Endpoint) -> Response | None:
        """A cached answer, or None when it no longer reads (then the call is made afresh)."""
        try:
            return response_from_dict(stored) if wire is None else wire.parse(stored, endpoint)
        except Exception:
            log.warning(
                "ignoring an unreadable cached answer for %s/%s", endpoint.provider.id, endpoint.model
            )
            return None

    @staticmethod
    async def _store(
        cache: CallCache,
        key: str,
        endpoint: Endpoint,
        body: dict[str, Any],
        response: Response,
        event: CallCompleted,
    ) -> None:
        """Cache the answer and record the call in one transaction (a session's call has a session id)."""
        try:
            await asyncio.to_thread(
                cache.put,
                key,
                provider=endpoint.provider.id,
                model=endpoint.model,
                endpoint=endpoint.base_url,
                body=body,
                usage=usage_to_dict(response.usage),
                call=event.model_dump() if event.session_id else None,
            )
            event.recorded = bool(event.session_id)
        except Exception:  # the call is paid for and answered; a cache miss later is the only loss
            log.exception("could not store an LM call in the cache")


class _Call:
    """The bookkeeping of one attempt, so `Runtime.call` reads as the steps it takes."""

    def __init__(self, runtime: Runtime, endpoint: Endpoint, label: str, number: int) -> None:
        self.runtime = runtime
        self.endpoint = endpoint
        self.label = label
        self.call_id = f"c{number}"
        self.started = time.perf_counter()
        self.key = ""
        self.recorded = False  # its calls row was written with its cache entry
        self.ordinal: tuple[str, int] | None = None  # (scope, number) of a sampled request
        self.price: Price | None = None
        self.reservation: Reservation | None = None
        self.response: Response | None = None
        self.cost: float | None = None
        self.cost_estimated = False  # the bill was unknown: `cost` is the whole reservation
        self.cache_hit = False
        self.error: BaseException | None = None
        self.sent = False  # the request left this process, so the provider may bill it
        self.server: local_server.LocalServer | None = None  # the managed server of a local/ model

    async def send(
        self, wire: WireFormat, wire_request: Any, body_json: bytes, est_tokens: int, timeouts: Timeouts
    ) -> tuple[Response, dict[str, Any]]:
        runtime, endpoint = self.runtime, self.endpoint
        spec = endpoint.provider
        limiter = runtime.limiter(endpoint)
        async with limiter.slot(est_tokens) as slot:
            runtime.stats.network_calls += 1
            session = runtime._session(endpoint.base_url)
            try:
                self.sent = True
                sent_at = time.perf_counter()
                async with session.request(
                    wire_request.method,
                    _url(wire_request.url),
                    data=body_json,
                    headers=wire_request.headers,
                    timeout=timeouts.client_timeout,
                ) as http:
                    status, headers = http.status, http.headers
                    raw = await http.read()
            except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
                raise LMTimeoutError(
                    f"{spec.label} did not answer within the timeout ({_timeout_words(timeouts)})",
                    provider=spec.id,
                ) from exc
            except aiohttp.ClientConnectorError as exc:
                self.sent = False  # never connected: nothing can have been billed
                raise TransportError(
                    f"could not connect to {spec.label} at {endpoint.base_url}: {exc.os_error.strerror or exc}",
                    provider=spec.id,
                ) from exc
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                raise TransportError(
                    f"the connection to {spec.label} failed mid-request ({type(exc).__name__})",
                    provider=spec.id,
                ) from exc
            except aiohttp.ClientError as exc:
                raise TransportError(
                    f"HTTP error talking to {spec.label}: {type(exc).__name__}", provider=spec.id
                ) from exc
            if not 200 <= status < 300:
                self.sent = False  # an error status is not billed
                error = wire.error(status, headers, raw, endpoint)
                if isinstance(error, RateLimitError):
                    limiter.on_rate_limited(error.retry_after)
                raise error
            try:
                data = json.loads(raw)
            except ValueError as exc:
                raise ProviderError(
                    f"{spec.label} sent a response that is not valid JSON (HTTP {status}, {len(raw)} bytes)",
                    provider=spec.id,
                    status=status,
                    provider_code="malformed_json",
                ) from exc
            response = wire.parse(data, endpoint)
            limiter.on_success()
            usage = response.usage
            if usage.input_tokens is not None and usage.output_tokens is not None:
                slot.record_tokens(usage.input_tokens + usage.output_tokens)
                if self.server is not None:
                    self.server.speed.observe(usage.input_tokens, usage.output_tokens, time.perf_counter() - sent_at)
        return response, data

    def hit(self, response: Response) -> Response:
        stats = self.runtime.stats
        self.cache_hit = True
        self.response = response
        self.cost = 0.0
        stats.cache_hits += 1
        saved = cost_of(
            price_for(self.endpoint.provider.id, self.endpoint.model, self.runtime.price_overrides),
            response.usage,
        )
        stats.cache_saved_usd += saved or 0.0
        return response

    def succeeded(self, response: Response, budget: Budget | None) -> None:
        self.response = response
        self.cost = cost_of(self.price, response.usage)
        stats = self.runtime.stats
        stats.tokens_in += response.usage.input_tokens or 0
        stats.tokens_out += response.usage.output_tokens or 0
        self._settle(budget, self.cost)
        stats.cost_usd += self.cost or 0.0

    def _settle(self, budget: Budget | None, cost: float | None) -> None:
        """Charge the reservation: the bill, or all of it when the bill is unknown (then marked estimated)."""
        if budget is None or self.reservation is None:
            return
        reservation, self.reservation = self.reservation, None
        charged = budget.settle(reservation, cost)
        if cost is None and self.price is not None:
            self.cost, self.cost_estimated = charged, True

    def failed(self, exc: BaseException, budget: Budget | None) -> None:
        self.error = exc
        stats = self.runtime.stats
        stats.errors += 1
        kind = _error_kind(exc)
        stats.by_error[kind] = stats.by_error.get(kind, 0) + 1
        if self.ordinal is not None and self.response is None:
            self.runtime._ordinals.give_back(*self.ordinal)
        if self.sent:
            # Sent but unreadable (timeout, reset mid-body, bad JSON): the
            # provider may well have billed it. Unknown is not free.
            self._settle(budget, None)
            stats.cost_usd += self.cost or 0.0
        elif budget is not None and self.reservation is not None:
            reservation, self.reservation = self.reservation, None
            budget.release(reservation)

    def event(self, session_id: str) -> CallCompleted:
        usage = self.response.usage if self.response is not None else None
        return CallCompleted(
            session_id=session_id,
            model=self.label,
            provider=self.endpoint.provider.id,
            endpoint=self.endpoint.base_url,
            request_hash=self.key or None,
            latency_ms=(time.perf_counter() - self.started) * 1000,
            tokens_in=usage.input_tokens if usage else None,
            tokens_out=usage.output_tokens if usage else None,
            tokens_cached=usage.cache_read_tokens if usage else None,
            cost_usd=self.cost,
            cost_estimated=self.cost_estimated,
            cache_hit=self.cache_hit,
            status="ok" if self.error is None else "refused" if _refused(self.error) else "error",
            error_kind=None if self.error is None else _error_kind(self.error),
            call_id=self.call_id,
            recorded=self.recorded,
        )

    def finish(self, bus: EventBus | None, session_id: str) -> None:
        if bus is not None:
            bus.publish(self.event(session_id))


@functools.lru_cache(maxsize=1024)
def _url(url: str) -> yarl.URL:
    """Parsed once per distinct URL (a handful per run) instead of on every call."""
    return yarl.URL(url)


def _refused(exc: BaseException) -> bool:
    """The budget refused the call before it was sent (it stopped a run or its optimization)."""
    return isinstance(exc, (BudgetExhausted, BudgetReserveReached))


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else type(exc).__name__


def _timeout_words(timeouts: Timeouts) -> str:
    read = f", read {timeouts.read:g}s" if timeouts.read is not None else ""
    return f"total {timeouts.total:g}s, connect {timeouts.connect:g}s{read}"
