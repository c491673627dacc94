"""A local aiohttp server that plays OpenAI, Anthropic and Gemini.

It answers DSPy's ChatAdapter prompts in the ChatAdapter format (one
deterministic value per output field the system prompt declares), bills
tokens the way each provider reports them, and injects faults on demand.
Everything it received is recorded, so tests can compare what the engine
recorded with what the "provider" billed, and check that no request was
answered twice.

Use it from pytest (see `conftest_plugin.py`), from a script in a thread
(`FakeProvider(...).start()`), or as its own process:
`python -m fakes.provider_server --port 0`, run in tests/, prints `READY <url>`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

FAULTS = (
    "429",  # rate limited, no Retry-After
    "429_retry_after",  # rate limited with Retry-After (seconds: Fault.retry_after)
    "500",
    "502",
    "503",
    "timeout",  # hold the request longer than any sane client timeout
    "reset",  # send headers and half the body, then drop the connection
    "malformed",  # 200 with a body that is not JSON
    "no_usage",  # 200, a good answer, no usage block
    "empty",  # 200 with no choices / candidates / content
    "401",
    "insufficient_quota",  # OpenAI's 429 that means "out of money"
    "unparseable",  # 200, a billed answer in prose that no DSPy adapter can parse
)

Answerer = Callable[[dict[str, str], list[tuple[str, str]]], dict[str, str]]


@dataclass
class Fault:
    kind: str
    retry_after: float | str | None = None  # for 429_retry_after (and 503 when set); a str goes out as is
    hold_s: float = 30.0  # for timeout
    drop_after_s: float = 0.01  # for reset: how long the half body hangs before the connection drops

    def __post_init__(self) -> None:
        if self.kind not in FAULTS:
            raise ValueError(f"unknown fault {self.kind!r}; one of {FAULTS}")


@dataclass
class Received:
    """One request as the server saw it and what it did with it."""

    wire: str  # openai | anthropic | gemini
    path: str
    model: str
    body_hash: str
    status: int
    fault: str | None
    answered: bool  # a complete, readable 2xx answer was sent
    tokens_in: int | None = None  # what the server billed (None: not reported)
    tokens_out: int | None = None
    tokens_cached: int | None = None
    tokens_thoughts: int | None = None
    had_key: bool = False
    number: int = 0  # the server's request counter, which its answer ids carry
    # What the provider charged, reported or not: a reply without usage, or a request
    # the client gave up on that the server still processed, is billed all the same.
    charged_in: int = 0
    charged_out: int = 0
    temperature: float | None = None  # what the request asked for (None: not sent)


@dataclass
class FakeProvider:
    """The server and its script. Attributes may be changed between calls."""

    latency_s: float = 0.0
    answer: Answerer | None = None
    brain: Callable[[str | None, list[tuple[str, str]]], str] | None = None  # whole reply from the prompt
    expected_key: str | None = None  # when set, other keys get a 401
    cached_tokens: int = 0  # tokens of each prompt reported as served from cache
    thoughts_tokens: int = 0  # Gemini thoughtsTokenCount per answer
    fault_rate: float = 0.0  # chance of a random fault per request
    fault_kinds: tuple[str, ...] = ("429_retry_after", "500", "503")
    # A fault kind for every attempt whose last user turn it picks (None: answer normally),
    # so chosen examples fail however often they are retried.
    fault_for: Callable[[str], str | None] | None = None
    seed: int = 0
    tokens_per_byte: float | None = None  # bill by UTF-8 bytes at this rate (None: 4 characters a token)
    received: list[Received] = field(default_factory=list)
    # An account limit: at most `window_limit` requests per `window_s` seconds, told in
    # x-ratelimit-* headers on every answer and enforced with a 429 (fault "window").
    window_limit: int | None = None
    window_s: float = 60.0

    def __post_init__(self) -> None:
        self._queue: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._random = random.Random(self.seed)
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0
        self._window_start = 0.0
        self._window_used = 0
        self.port = 0
        self._in_flight: Counter[str] = Counter()
        self.peak_in_flight: Counter[str] = Counter()  # most requests per model served at once

    # ---- scripting --------------------------------------------------
    def fail_next(
        self,
        kind: str,
        times: int = 1,
        *,
        retry_after: float | str | None = None,
        hold_s: float = 30.0,
        drop_after_s: float = 0.01,
    ) -> None:
        """Queue `times` faults of one kind for the next requests."""
        with self._lock:
            for _ in range(times):
                self._queue.append(Fault(kind, retry_after, hold_s, drop_after_s))

    def _next_fault(self) -> Fault | None:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            if self.fault_rate and self._random.random() < self.fault_rate:
                return Fault(self._random.choice(self.fault_kinds), retry_after=0.01)
        return None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ---- what happened ----------------------------------------------
    def answered(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.answered]

    def billed(self) -> dict[str, int]:
        """Sum of tokens the server reported on answered requests."""
        totals = {"tokens_in": 0, "tokens_out": 0, "tokens_cached": 0, "tokens_thoughts": 0}
        for record in self.answered():
            for name in totals:
                totals[name] += getattr(record, name) or 0
        return totals

    def charged(self) -> dict[str, int]:
        """Tokens the server charged on every request, reported or not (its own ledger)."""
        with self._lock:
            records = list(self.received)
        return {
            "tokens_in": sum(r.charged_in for r in records),
            "tokens_out": sum(r.charged_out for r in records),
        }

    def _count(self, text: str) -> int:
        if self.tokens_per_byte is None:
            return max(1, len(text) // 4)
        return max(1, math.ceil(len(text.encode()) * self.tokens_per_byte))

    def _bill(
        self,
        record: Received,
        body: dict[str, Any],
        system: str | None,
        turns: list[tuple[str, str]],
        text: str,
    ) -> tuple[int, int]:
        """(input, output) tokens of one answer; output stops at the request's max_tokens, as a provider's does."""
        tokens_in = self._count((system or "") + "".join(t for _, t in turns))
        tokens_out = self._count(text)
        cap = _max_tokens(body)
        if cap is not None:
            tokens_out = min(tokens_out, cap)
        record.charged_in, record.charged_out = tokens_in, tokens_out
        return tokens_in, tokens_out

    def answered_twice(self) -> list[str]:
        """Body hashes that got more than one complete answer."""
        counts = Counter(r.body_hash for r in self.answered())
        return [h for h, n in counts.items() if n > 1]

    def reset_records(self) -> None:
        with self._lock:
            self.received.clear()
            self._queue.clear()

    # ---- lifecycle --------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        return app

    async def astart(self, port: int = 0) -> str:
        """Start on the running loop (127.0.0.1 only)."""
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, backlog=1024)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.url

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> FakeProvider:
        """Run in a daemon thread with its own event loop (not the caller's)."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.astart())
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-provider", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake provider did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _shutdown(self) -> None:
        """Close the server, then cancel handlers still holding requests (timeouts, latency)."""
        await self.aclose()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    # ---- serving ----------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        raw = await request.read()
        body_hash = hashlib.sha256(raw).hexdigest()[:16]
        wire = _wire_of(path)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        model = _model_of(wire, path, body)
        key = _key_of(wire, request)
        record = Received(wire, path, model, body_hash, 0, None, False, had_key=key is not None)
        if isinstance(body, dict):
            config = body.get("generationConfig") if wire == "gemini" else body
            record.temperature = config.get("temperature") if isinstance(config, dict) else None
        with self._lock:
            self.received.append(record)
            self._counter += 1
            record.number = self._counter
            self._in_flight[model] += 1
            self.peak_in_flight[model] = max(self.peak_in_flight[model], self._in_flight[model])
        try:
            return await self._respond(request, record, wire, body, key)
        finally:
            with self._lock:
                self._in_flight[model] -= 1

    async def _respond(
        self, request: web.Request, record: Received, wire: str | None, body: Any, key: str | None
    ) -> web.StreamResponse:
        model, number = record.model, record.number
        if wire is None or not isinstance(body, dict):
            record.status = 404 if wire is None else 400
            return web.json_response({"error": {"message": "not found or not JSON"}}, status=record.status)
        limit_headers = self._take_window()
        if limit_headers is not None and limit_headers["x-ratelimit-remaining-requests"] == "-1":
            record.status, record.fault = 429, "window"
            limit_headers["x-ratelimit-remaining-requests"] = "0"
            limit_headers["Retry-After"] = limit_headers["x-ratelimit-reset-requests"].rstrip("s")
            return web.json_response(
                _error(wire, 429, "fake window limit"), status=429, headers=limit_headers
            )
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        fault = self._next_fault()
        if fault is None and self.fault_for is not None:
            _, turns = _prompt_of(wire, body)
            kind = self.fault_for(turns[-1][1] if turns else "")
            fault = Fault(kind, retry_after=0.01) if kind else None
        if fault is None and self.expected_key is not None and key != self.expected_key:
            fault = Fault("401")
        if fault is not None:
            record.fault = fault.kind
            return await self._faulty(request, record, fault, wire)

        system, turns = _prompt_of(wire, body)
        if self.brain is not None:
            text = self.brain(system, turns)
        else:
            outputs = _output_fields(system)
            inputs = _input_values(turns[-1][1] if turns else "")
            answer = (self.answer or default_answer)(inputs, outputs)
            wants_json = wire == "openai" and isinstance(body.get("response_format"), dict)
            text = json.dumps(answer) if wants_json else _chat_format(answer)
        tokens_in, tokens_out = self._bill(record, body, system, turns, text)
        cached = min(self.cached_tokens, tokens_in)
        thoughts = self.thoughts_tokens if wire == "gemini" else 0
        payload = _payload(wire, model, number, text, tokens_in, tokens_out, cached, thoughts, usage=True)
        record.status = 200
        record.answered = True
        record.tokens_in, record.tokens_out = tokens_in, tokens_out
        record.tokens_cached = cached
        record.tokens_thoughts = thoughts or None
        return web.Response(
            body=json.dumps(payload).encode(), content_type="application/json", headers=limit_headers
        )

    def _take_window(self) -> dict[str, str] | None:
        """Count a request against the account window; its headers (remaining -1: refused)."""
        if self.window_limit is None:
            return None
        with self._lock:
            now = time.monotonic()
            if now - self._window_start >= self.window_s:
                self._window_start, self._window_used = now, 0
            self._window_used += 1
            remaining = self.window_limit - self._window_used
            if remaining < 0:
                self._window_used -= 1  # a refused request does not count
            reset = self.window_s - (now - self._window_start)
        return {
            "x-ratelimit-limit-requests": str(self.window_limit),
            "x-ratelimit-remaining-requests": str(max(remaining, -1)),
            "x-ratelimit-reset-requests": f"{reset:.3f}s",
        }

    async def _faulty(
        self, request: web.Request, record: Received, fault: Fault, wire: str
    ) -> web.StreamResponse:
        kind = fault.kind
        if kind in (
            "timeout",
            "reset",
            "malformed",
        ):  # processed, so billed, though the client cannot read it
            body = await request.json()
            system, turns = _prompt_of(wire, body)
            answer = (self.answer or default_answer)(
                _input_values(turns[-1][1] if turns else ""), _output_fields(system)
            )
            self._bill(record, body, system, turns, _chat_format(answer))
        if kind == "timeout":
            record.status = 504
            await asyncio.sleep(fault.hold_s)
            return web.json_response(_error(wire, 504, "held too long"), status=504)
        if kind == "reset":
            record.status = 200
            whole = json.dumps(_payload(wire, record.model, 0, "x" * 400, 10, 100, 0, 0, usage=True)).encode()
            response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            response.content_length = len(whole)
            await response.prepare(request)
            await response.write(whole[: len(whole) // 2])
            await asyncio.sleep(fault.drop_after_s)
            assert request.transport is not None
            request.transport.close()
            return response
        if kind == "malformed":
            record.status = 200
            return web.Response(body=b'{"id": "broken", "choices": [', content_type="application/json")
        if kind == "unparseable":
            record.status, record.answered = 200, True
            text = "I would rather not answer in any particular format."
            record.tokens_in, record.tokens_out = 10, len(text) // 4
            return web.json_response(
                _payload(wire, record.model, record.number, text, 10, len(text) // 4, 0, 0, usage=True)
            )
        if kind == "empty":
            record.status = 200
            return web.json_response(_empty(wire, record.model))
        if kind == "no_usage":
            body = await request.json()
            system, turns = _prompt_of(wire, body)
            answer = (self.answer or default_answer)(
                _input_values(turns[-1][1] if turns else ""), _output_fields(system)
            )
            self._bill(record, body, system, turns, _chat_format(answer))
            record.status = 200
            record.answered = True
            return web.json_response(
                _payload(wire, record.model, record.number, _chat_format(answer), 0, 0, 0, 0, usage=False)
            )
        status = {"429": 429, "429_retry_after": 429, "insufficient_quota": 429, "401": 401}.get(kind) or int(
            kind
        )
        record.status = status
        headers = {}
        if fault.retry_after is not None and kind in ("429_retry_after", "503"):
            wait = fault.retry_after
            headers["Retry-After"] = wait if isinstance(wait, str) else f"{wait:g}"
        code = "insufficient_quota" if kind == "insufficient_quota" else None
        return web.json_response(
            _error(wire, status, f"fake {kind}", code=code), status=status, headers=headers
        )


# ---- the prompt ------------------------------------------------------

_FIELD_DECL = re.compile(r"^\d+\. `(\w+)` \(([^)]*)\)", re.MULTILINE)
_SECTION = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\n\[\[ ## |\n\nRespond with|\Z)", re.DOTALL)


def _max_tokens(body: dict[str, Any]) -> int | None:
    """The output cap the request asked for, on any of the three wires."""
    for key in ("max_completion_tokens", "max_tokens"):
        if isinstance(body.get(key), int):
            return int(body[key])
    config = body.get("generationConfig")
    if isinstance(config, dict) and isinstance(config.get("maxOutputTokens"), int):
        return int(config["maxOutputTokens"])
    return None


def _wire_of(path: str) -> str | None:
    if path.endswith("/chat/completions"):
        return "openai"
    if path.endswith("/messages"):
        return "anthropic"
    if ":generateContent" in path:
        return "gemini"
    return None


def _model_of(wire: str | None, path: str, body: Any) -> str:
    if wire == "gemini":
        return path.rsplit("/", 1)[-1].split(":", 1)[0]
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else "?"


def _key_of(wire: str | None, request: web.Request) -> str | None:
    if wire == "anthropic":
        return request.headers.get("x-api-key")
    if wire == "gemini":
        return request.headers.get("x-goog-api-key") or request.query.get("key")
    auth = request.headers.get("Authorization", "")
    return auth[7:] if auth.startswith("Bearer ") else None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _prompt_of(wire: str, body: dict[str, Any]) -> tuple[str | None, list[tuple[str, str]]]:
    """(system prompt, [(role, text)]) from any of the three request shapes."""
    if wire == "gemini":
        instruction = body.get("systemInstruction") or body.get("system_instruction") or {}
        system = _text_of(instruction.get("parts")) if isinstance(instruction, dict) else None
        turns = [(c.get("role", "user"), _text_of(c.get("parts"))) for c in body.get("contents", [])]
        return system, turns
    messages = body.get("messages", [])
    if wire == "anthropic":
        system = _text_of(body.get("system"))
    else:
        system = next(
            (_text_of(m.get("content")) for m in messages if m.get("role") in ("system", "developer")), None
        )
    turns = [
        (m.get("role", ""), _text_of(m.get("content")))
        for m in messages
        if m.get("role") in ("user", "assistant")
    ]
    return system, turns


def _output_fields(system: str | None) -> list[tuple[str, str]]:
    """[(name, type)] declared under "Your output fields are:"."""
    if not system or "Your output fields are:" not in system:
        return [("answer", "str")]
    section = system.split("Your output fields are:", 1)[1].split("All interactions", 1)[0]
    return _FIELD_DECL.findall(section) or [("answer", "str")]


def _input_values(user_text: str) -> dict[str, str]:
    return {name: value.strip() for name, value in _SECTION.findall(user_text)}


def default_answer(inputs: dict[str, str], outputs: list[tuple[str, str]]) -> dict[str, str]:
    """Strings echo the first input; other types get a fixed valid value."""
    first = next(iter(inputs.values()), "ok")
    fixed = {"float": "0.5", "int": "1", "bool": "True"}
    values: dict[str, str] = {}
    for name, kind in outputs:
        base = kind.split("[", 1)[0].strip()
        values[name] = fixed.get(base, "[]" if base in ("list", "dict") else first)
    return values


def _chat_format(answer: dict[str, str]) -> str:
    parts = [f"[[ ## {name} ## ]]\n{value}" for name, value in answer.items()]
    return "\n\n".join([*parts, "[[ ## completed ## ]]"])


# ---- the wire shapes -------------------------------------------------


def _payload(
    wire: str,
    model: str,
    number: int,
    text: str,
    tokens_in: int,
    tokens_out: int,
    cached: int,
    thoughts: int,
    *,
    usage: bool,
) -> dict[str, Any]:
    if wire == "anthropic":
        out: dict[str, Any] = {
            "id": f"msg_{number:08d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
        }
        if usage:
            # Anthropic's cache counters are disjoint from input_tokens.
            out["usage"] = {
                "input_tokens": tokens_in - cached,
                "output_tokens": tokens_out,
                "cache_read_input_tokens": cached,
                "cache_creation_input_tokens": 0,
            }
        return out
    if wire == "gemini":
        out = {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}
            ],
            "modelVersion": model,
            "responseId": f"resp-{number}",
        }
        if usage:
            meta: dict[str, int] = {
                "promptTokenCount": tokens_in,
                "candidatesTokenCount": tokens_out,
                "totalTokenCount": tokens_in + tokens_out + thoughts,
            }
            if cached:
                meta["cachedContentTokenCount"] = cached
            if thoughts:
                meta["thoughtsTokenCount"] = thoughts
            out["usageMetadata"] = meta
        return out
    out = {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    if usage:
        out["usage"] = {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
    return out


def _empty(wire: str, model: str) -> dict[str, Any]:
    if wire == "anthropic":
        return {
            "id": "msg_empty",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "output_tokens": 0},
        }
    if wire == "gemini":
        return {"candidates": [], "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}}
    return {
        "id": "chatcmpl-empty",
        "object": "chat.completion",
        "model": model,
        "choices": [],
        "usage": {"prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5},
    }


def _error(wire: str, status: int, message: str, *, code: str | None = None) -> dict[str, Any]:
    if wire == "anthropic":
        kind = {401: "authentication_error", 429: "rate_limit_error", 529: "overloaded_error"}.get(
            status, "api_error"
        )
        return {"type": "error", "error": {"type": kind, "message": message}}
    if wire == "gemini":
        state = {401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}.get(
            status, "INTERNAL"
        )
        return {"error": {"code": status, "message": message, "status": state}}
    kind = {401: "invalid_request_error", 429: "requests"}.get(status, "server_error")
    return {
        "error": {
            "message": message,
            "type": "insufficient_quota" if code else kind,
            "param": None,
            "code": code or ("invalid_api_key" if status == 401 else None),
        }
    }


def main() -> None:
    """Serve until killed; print `READY <url>` once listening (for scripts/benchmarks)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument(
        "--window-limit", type=int, help="requests allowed per --window-s (x-ratelimit-* headers)"
    )
    parser.add_argument("--window-s", type=float, default=60.0)
    parser.add_argument(
        "--brain", help="answer as this offline variant (small/base/large) instead of echoing"
    )
    parser.add_argument("--fault-rate", type=float, default=0.0, help="chance of a fault per request")
    parser.add_argument(
        "--fault-kinds",
        default="429_retry_after,500,503",
        help=f"comma-separated kinds the random faults are drawn from: {', '.join(FAULTS)}",
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the random faults")
    args = parser.parse_args()
    kinds = tuple(k for k in args.fault_kinds.split(",") if k)
    unknown = sorted(set(kinds) - set(FAULTS))
    if unknown:
        parser.error(f"unknown fault kinds {unknown}; one of {', '.join(FAULTS)}")
    brain = None
    if args.brain:
        from fakes.offline_brain import offline_brain

        brain = offline_brain(args.brain)
    provider = FakeProvider(
        latency_s=args.latency,
        brain=brain,
        window_limit=args.window_limit,
        window_s=args.window_s,
        fault_rate=args.fault_rate,
        fault_kinds=kinds,
        seed=args.seed,
    )

    async def serve() -> None:
        url = await provider.astart(args.port)
        print(f"READY {url}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
