"""One attempt at one LM request: cache, budget, limiter, HTTP, pricing, event.

`perform` is what `Runtime.call` runs on the loop for every call. It makes
exactly ONE attempt (DSPy owns retries), but it owns every wait: a retryable
failure leaves with `retry_after = 0` after telling the limiter how long to
hold the next send, so DSPy retries at once and the back-off happens on the
loop, where a stopped session cancels it (never in a DSPy thread's
`time.sleep`). Errors no retry can fix fail the model (`ModelFailed`), and
then no further request of it leaves the process.

Latency is the provider's time (request sent -> answer read); the time spent
queued for a limiter slot, which includes the retries' back-off, is reported
apart as `queue_ms`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import aiohttp
import yarl
from dspy._vendor.lm15.serde import request_to_dict, response_from_dict, response_to_dict, usage_to_dict
from dspy.lm15 import LM15Error, ProviderError, RateLimitError, Request, Response, ServerError
from dspy.lm15 import TimeoutError as LMTimeoutError

from dspy_tui.storage.secrets import redact_url

from . import events as ev
from . import local_server
from .budget import Budget, BudgetExhausted, BudgetReserveReached, Reservation, reserve_for_call
from .cache_codec import cache_key, canonical_json, compact_json
from .call_context import ModelLink, Timeouts
from .call_errors import FATAL_ERRORS, ModelFailed, connect_failure, error_kind, wire_failure
from .limits import Limiter, Slot
from .pricing import cost_of, prompt_tokens
from .providers import registry
from .providers.base import Endpoint, WireFormat
from .token_bound import TextSize, text_size

if TYPE_CHECKING:
    from dspy_tui.storage.cache import CallCache

    from .runtime import Runtime

log = logging.getLogger(__name__)

_OVERLOAD_STATUSES = (503, 529)


async def perform(runtime: Runtime, link: ModelLink, request: Request) -> Response:
    """One attempt; see the module docstring."""
    ctx, endpoint, spec = link.context, link.endpoint, link.endpoint.provider
    link.health.check()
    call = _Call(runtime, link, next(runtime._call_ids))
    runtime.stats.calls += 1
    runtime.stats.in_flight += 1
    task = asyncio.current_task()
    running = runtime._running_calls.setdefault(ctx.session_id, set())
    if task is not None:
        running.add(task)
    try:
        wire = None if spec.offline else registry.wire_for(spec)
        wire_request = wire.build(request, endpoint) if wire is not None else None
        body = wire_request.body if wire_request is not None else request_to_dict(request)
        text = text_size(body) if ctx.budget is not None else None
        cache = ctx.cache
        if cache is None:
            body_json = compact_json(body)
        else:
            body_json = canonical_json(body)
            call.key = _cache_key(runtime, call, request, body_json)
            stored = await _lookup(cache, call.key)
            for other in () if stored is not None else ctx.shared_cache:  # the same request in a sibling seed
                stored = await _lookup(cache, call.key.replace(f"{ctx.session_id}:", f"{other}:", 1))
                if stored is not None:
                    break
            if stored is not None and (cached := _parse_stored(wire, stored, endpoint)) is not None:
                return call.hit(cached, ctx.budget, text)
        max_tokens = request.config.max_tokens or endpoint.max_tokens_default
        if ctx.budget is not None:
            call.reservation, allowed = await reserve_for_call(
                ctx.budget,
                link.account,
                link.price,
                len(body_json),
                max_tokens,
                holder=link.serves,
                text=text,
            )
            if allowed < max_tokens:  # what is left pays for a shorter answer only: ask for one
                max_tokens = allowed
                request = replace(request, config=replace(request.config, max_tokens=allowed))
                wire_request = wire.build(request, endpoint) if wire is not None else None
                body_json = compact_json(wire_request.body if wire_request else request_to_dict(request))
        if wire is None or wire_request is None:
            from .providers import offline  # 0.02 s to import: only a session with offline models needs it

            await asyncio.sleep(offline.simulated_latency_s(endpoint.model, request))
            # Pure CPU work, off the loop so other models' HTTP keeps flowing.
            sample = call.ordinal[1] if call.ordinal else 0  # repeated samples differ, as a real model's do
            response = await asyncio.to_thread(offline.complete, request, endpoint.model, sample)
            stored_body = response_to_dict(response)
        else:
            est = len(body_json) // 3 + 1 + max_tokens
            timeouts, server = ctx.timeouts, None
            if spec.managed:  # local/: started on first use, timeouts at the server's measured speed
                wire_request, server = await local_server.SERVERS.route(
                    wire_request, endpoint, ctx.session_id
                )
                seconds = server.timeout_s(timeouts.total, len(body_json) // 3 + 1, max_tokens)
                timeouts = Timeouts(total=seconds, connect=timeouts.connect)
            response, stored_body = await call.send(wire, wire_request, body_json, est, timeouts, server)
        link.health.succeeded()
        call.succeeded(response, ctx.budget)
        if cache is not None:
            event = call.event()
            await _store(cache, call.key, endpoint, stored_body, response, event)
            call.recorded = event.recorded
        return response
    except BaseException as exc:
        call.failed(exc, ctx.budget)
        raise
    finally:
        runtime.stats.in_flight -= 1
        if task is not None:
            running.discard(task)
        call.finish()


def _cache_key(runtime: Runtime, call: _Call, request: Request, body_json: bytes) -> str:
    endpoint = call.link.endpoint
    # Scoped to the session: a resumed session is answered from what it already paid
    # for, while a new session measures real answers, latency and cost.
    key = cache_key(endpoint.provider.id, endpoint.base_url, endpoint.model, body_json)
    session_id = call.link.context.session_id
    if session_id:
        key = f"{session_id}:{key}"
    temperature = request.config.temperature
    if temperature is None or temperature <= 0:
        return key
    number = runtime._ordinals.take(key)
    call.ordinal = (key, number)
    return key if number == 0 else f"{key}#{number}"


async def _lookup(cache: CallCache, key: str) -> dict[str, Any] | None:
    """A cached body, or None; a cache that cannot be read is a miss, not a failed call."""
    try:
        return await asyncio.to_thread(cache.get, key)
    except Exception:
        log.exception("could not read the LM call cache")
        return None


def _parse_stored(wire: WireFormat | None, stored: dict[str, Any], endpoint: Endpoint) -> Response | None:
    """A cached answer, or None when it no longer reads (then the call is made afresh)."""
    try:
        return response_from_dict(stored) if wire is None else wire.parse(stored, endpoint)
    except Exception:
        log.warning("ignoring an unreadable cached answer for %s/%s", endpoint.provider.id, endpoint.model)
        return None


async def _store(
    cache: CallCache,
    key: str,
    endpoint: Endpoint,
    body: dict[str, Any],
    response: Response,
    event: ev.CallCompleted,
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
    """The bookkeeping of one attempt, so `perform` reads as the steps it takes."""

    def __init__(self, runtime: Runtime, link: ModelLink, number: int) -> None:
        self.runtime = runtime
        self.link = link
        self.call_id = f"c{number}"
        self.phase = link.phase  # read now: the model may be in its next phase when the call ends
        self.started = time.perf_counter()
        self.key = ""
        self.recorded = False  # its calls row was written with its cache entry
        self.ordinal: tuple[str, int] | None = None  # (scope, number) of a sampled request
        self.reservation: Reservation | None = None
        self.response: Response | None = None
        self.cost: float | None = None
        self.cost_estimated = False  # the bill was unknown: `cost` is the whole reservation
        self.cache_hit = False
        self.error: BaseException | None = None
        self.sent = False  # the request left this process, so the provider may bill it
        self.provider_s: float | None = None  # request sent -> answer read
        self.queue_s = 0.0  # waiting for a limiter slot (includes the retries' back-off)

    async def send(
        self,
        wire: WireFormat,
        wire_request: Any,
        body_json: bytes,
        est_tokens: int,
        timeouts: Timeouts,
        server: local_server.LocalServer | None,
    ) -> tuple[Response, dict[str, Any]]:
        runtime, link = self.runtime, self.link
        endpoint = link.endpoint
        limiter = runtime.limiter(link)
        queued = time.perf_counter()
        async with limiter.slot(est_tokens) as slot:
            sent = time.perf_counter()
            self.queue_s = sent - queued
            link.health.check()  # another call may have failed the model while this one queued
            runtime.stats.network_calls += 1
            session = runtime._session(endpoint.base_url)
            # its failure counts only if no answer arrives while it is out
            answers_when_sent = link.health.sending()
            try:
                self.sent = True
                async with session.request(
                    wire_request.method,
                    _url(wire_request.url),
                    data=body_json,
                    headers=wire_request.headers,
                    timeout=timeouts.client_timeout,
                ) as http:
                    status, headers = http.status, http.headers
                    raw = await http.read()
                self.provider_s = time.perf_counter() - sent
            except aiohttp.ClientConnectorError as exc:
                self.sent = False  # never connected: nothing can have been billed
                self.provider_s = time.perf_counter() - sent
                error: LM15Error = connect_failure(exc, endpoint)
                self._transport_failed(
                    error, limiter, never_connected=True, answers_when_sent=answers_when_sent
                )
                raise error from exc
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.provider_s = time.perf_counter() - sent
                error = wire_failure(exc, endpoint, timeouts.words())
                if isinstance(error, LMTimeoutError):  # overload, unless the server never answered
                    if link.health.timed_out():
                        sentence = (
                            f"{endpoint.provider.label} at {redact_url(endpoint.base_url)} never answered "
                            f"{link.label}: {link.health.consecutive_failures} requests in a row timed out "
                            f"({timeouts.words()})"
                        )
                        raise self._fatal(sentence, error) from exc
                    self._overloaded(limiter, slot, None, "timeouts")
                    error.retry_after = 0.0
                else:
                    self._transport_failed(
                        error, limiter, never_connected=False, answers_when_sent=answers_when_sent
                    )
                raise error from exc
            finally:
                link.health.ended()
            limiter.observe(headers, slot)
            if not 200 <= status < 300:
                self.sent = False  # an error status is not billed
                raise self._refused(wire.error(status, headers, raw, endpoint), limiter, slot, status)
            try:
                data = json.loads(raw)
            except ValueError as exc:
                raise ProviderError(
                    f"{endpoint.provider.label} sent a response that is not valid JSON (HTTP {status}, {len(raw)} bytes)",
                    provider=endpoint.provider.id,
                    status=status,
                    provider_code="malformed_json",
                ) from exc
            response = wire.parse(data, endpoint)
            limiter.on_success()
            usage = response.usage
            if usage.input_tokens is not None and usage.output_tokens is not None:
                slot.record_tokens(usage.input_tokens + usage.output_tokens)
                if server is not None:
                    server.speed.observe(usage.input_tokens, usage.output_tokens, self.provider_s or 0.0)
        return response, data

    # ---- what a failed attempt does to the model and its limiter ------------
    def _refused(self, error: Exception, limiter: Limiter, slot: Slot, status: int) -> BaseException:
        """What to raise for an error status: the error itself, ready for DSPy to retry
        at once (the limiter holds the back-off), or `ModelFailed`."""
        link = self.link
        if isinstance(error, FATAL_ERRORS):
            return self._fatal(str(error).splitlines()[0], error)
        if isinstance(error, RateLimitError):
            wait = error.retry_after
            cap = link.context.retry_after_cap_s
            if wait is not None and wait > cap:
                sentence = (
                    f"{link.endpoint.provider.label} asked to wait {wait:,.0f} s before the next request to "
                    f"{link.label}, more than the {cap:g} s cap (retry_after_cap_s)"
                )
                return self._fatal(sentence, error)
            self._overloaded(limiter, slot, wait, "rate limited")
        elif isinstance(error, ServerError):
            if status in _OVERLOAD_STATUSES:
                self._overloaded(limiter, slot, error.retry_after, "overloaded")
            else:
                limiter.hold(error.retry_after or limiter.config.default_pause_s)
        if isinstance(error, LM15Error) and error.retry_after is not None:
            error.retry_after = 0.0  # DSPy must not sleep in its thread: the limiter holds the wait
        return error

    def _overloaded(self, limiter: Limiter, slot: Slot, wait: float | None, why: str) -> None:
        before = limiter.paused_for
        limiter.on_overload(wait, slot, why)
        after = limiter.paused_for
        bus = self.link.context.bus
        if bus is not None and after > before + 0.5:
            bus.publish(ev.ModelThrottled(model=self.link.label, reason=why, retry_in_s=round(after, 1)))

    def _transport_failed(
        self, error: LM15Error, limiter: Limiter, *, never_connected: bool, answers_when_sent: int
    ) -> None:
        if self.link.health.transport_failed(
            str(error), never_connected=never_connected, answers_when_sent=answers_when_sent
        ):
            failed = self._failed(error)
            self._report_fatal(failed)
            raise failed
        limiter.hold(limiter.config.default_pause_s)
        error.retry_after = 0.0

    def _fatal(self, sentence: str, error: Exception) -> ModelFailed:
        first = self.link.health.fail(sentence)
        failed = self._failed(error)
        if first:
            self._report_fatal(failed)
        return failed

    def _failed(self, error: BaseException) -> ModelFailed:
        """The model's failure as raised and as the session hears it: the health's sentence (the
        breaker's, the Retry-After cap's), not the last error's own text, which may name neither
        the URL nor the reason."""
        failed = ModelFailed(self.link.health.failed or str(error), self.link.label)
        failed.__cause__ = error
        return failed

    def _report_fatal(self, failed: ModelFailed) -> None:
        on_fatal = self.link.context.on_fatal
        if on_fatal is not None:
            on_fatal(self.link.label, failed)

    # ---- outcomes ------------------------------------------------------------
    def hit(self, response: Response, budget: Budget | None, text: TextSize | None) -> Response:
        stats = self.runtime.stats
        self.cache_hit = True
        self.response = response
        self.cost = 0.0
        stats.cache_hits += 1
        saved = cost_of(self.link.price, response.usage)
        stats.cache_saved_usd += saved or 0.0
        billed_in = prompt_tokens(response.usage, self.link.endpoint.provider.wire)
        if budget is not None and text is not None and saved is not None and billed_in is not None:
            # the provider's bill for this very request (a resumed session replays its own calls
            # first): it bounds the account's later requests as a fresh bill does
            budget.token_bounds.observe(self.link.account, text, billed_in)
        return response

    def succeeded(self, response: Response, budget: Budget | None) -> None:
        self.response = response
        self.cost = cost_of(self.link.price, response.usage)
        stats = self.runtime.stats
        billed_in = prompt_tokens(response.usage, self.link.endpoint.provider.wire)
        stats.tokens_in += billed_in or 0
        stats.tokens_out += response.usage.output_tokens or 0
        self._settle(budget, self.cost, billed_in)
        stats.cost_usd += self.cost or 0.0

    def _settle(self, budget: Budget | None, cost: float | None, billed_in: int | None = None) -> None:
        """Charge the reservation: the bill, or all of it when the bill is unknown (then marked estimated)."""
        if budget is None or self.reservation is None:
            return
        reservation, self.reservation = self.reservation, None
        charged = budget.settle(reservation, cost, billed_in)
        if cost is None and self.link.price is not None:
            self.cost, self.cost_estimated = charged, True

    def failed(self, exc: BaseException, budget: Budget | None) -> None:
        self.error = exc
        stats = self.runtime.stats
        stats.errors += 1
        kind = error_kind(exc)
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

    def event(self) -> ev.CallCompleted:
        usage = self.response.usage if self.response is not None else None
        endpoint = self.link.endpoint
        provider_s = self.provider_s
        if provider_s is None:  # a cache hit or an offline answer: all of it was "the provider"
            provider_s = max(0.0, time.perf_counter() - self.started - self.queue_s)
        return ev.CallCompleted(
            session_id=self.link.context.session_id,
            model=self.link.label,
            provider=endpoint.provider.id,
            endpoint=endpoint.base_url,
            request_hash=self.key or None,
            latency_ms=provider_s * 1000,
            queue_ms=self.queue_s * 1000,
            tokens_in=prompt_tokens(usage, endpoint.provider.wire),  # cached tokens included
            tokens_out=usage.output_tokens if usage else None,
            tokens_cached=usage.cache_read_tokens if usage else None,
            cost_usd=self.cost,
            cost_estimated=self.cost_estimated,
            cache_hit=self.cache_hit,
            status="ok" if self.error is None else "refused" if _budget_refused(self.error) else "error",
            error_kind=None if self.error is None else error_kind(self.error),
            call_id=self.call_id,
            recorded=self.recorded,
            phase=self.phase,
            role=self.link.role,
        )

    def finish(self) -> None:
        if isinstance(self.error, ModelFailed) and not self.sent and self.provider_s is None:
            return  # the model had failed before this call reached the wire: nothing to record
        bus = self.link.context.bus
        if bus is not None:
            bus.publish(self.event())


def _budget_refused(exc: BaseException) -> bool:
    """The budget refused the call before it was sent (it stopped a run or its optimization)."""
    return isinstance(exc, BudgetExhausted | BudgetReserveReached)


@functools.lru_cache(maxsize=1024)
def _url(url: str) -> yarl.URL:
    """Parsed once per distinct URL (a handful per run) instead of on every call."""
    return yarl.URL(url)
