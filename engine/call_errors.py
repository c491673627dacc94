"""How a failed LM call is named: the errors the call path raises and the
one-sentence words for what went wrong on the wire.

DSPy owns retries, so what leaves here decides what it does next: a
`dspy.lm15` error (retried when transient), `CallCancelled` (the session
stopped: never retried) or `ModelFailed` (this model cannot be called again
in this session: never retried, and it ends the evaluation it is part of).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl

import aiohttp
from dspy import lm15
from dspy.lm15 import TimeoutError as LMTimeoutError
from dspy.lm15 import TransportError

from .providers.base import Endpoint

# Errors after which no call to this model can succeed.
FATAL_ERRORS: tuple[type[Exception], ...] = (
    lm15.AuthError,
    lm15.BillingError,
    lm15.UnsupportedModelError,
    lm15.NotConfiguredError,
)


class CallCancelled(BaseException):  # noqa: N818 - a stop signal, like KeyboardInterrupt
    """An LM call was cancelled under its caller: its session stopped, or the runtime shut down.
    A BaseException so that DSPy neither retries it nor counts it as a failed example."""


class ModelFailed(BaseException):  # noqa: N818 - a stop signal for one model
    """This model failed fatally in this session (refused key, dead endpoint, exhausted
    quota, a Retry-After beyond the cap, an open circuit breaker). A BaseException so that
    DSPy neither retries it nor scores it, and the evaluation it is part of ends at once;
    `str()` is one sentence naming provider, model and URL."""

    def __init__(self, sentence: str, model: str = "") -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.model = model


def connect_failure(exc: aiohttp.ClientConnectorError, endpoint: Endpoint) -> TransportError:
    """A request that never reached the server: refused, no such host, TLS."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        reason = "TLS handshake failed"
    elif isinstance(exc, aiohttp.ClientConnectorDNSError):
        reason = "host name not found"
    else:
        reason = _os_reason(exc.os_error)
    return TransportError(
        f"could not connect to {endpoint.provider.id} at {endpoint.base_url} ({reason})",
        provider=endpoint.provider.id,
        provider_code="connect_failed",
    )


def _os_reason(error: OSError | None) -> str:
    if isinstance(error, ConnectionRefusedError) or getattr(error, "errno", None) == errno.ECONNREFUSED:
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "host name not found"
    if isinstance(error, TimeoutError):
        return "connection timed out"
    words = (error.strerror if error is not None else None) or str(error) or "connection failed"
    return words[:1].lower() + words[1:]


def wire_failure(exc: BaseException, endpoint: Endpoint, timeout_words: str) -> lm15.LM15Error:
    """The `dspy.lm15` error for an aiohttp failure after the connection was made."""
    spec = endpoint.provider
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return LMTimeoutError(
            f"{spec.label} did not answer within the timeout ({timeout_words})", provider=spec.id
        )
    if isinstance(exc, ssl.SSLError):
        return TransportError(
            f"could not connect to {spec.id} at {endpoint.base_url} (TLS handshake failed)",
            provider=spec.id,
            provider_code="connect_failed",
        )
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        return TransportError(
            f"the connection to {spec.label} at {endpoint.base_url} failed mid-request ({type(exc).__name__})",
            provider=spec.id,
        )
    return TransportError(f"HTTP error talking to {spec.label}: {type(exc).__name__}", provider=spec.id)


def error_kind(exc: BaseException) -> str:
    """The short name stored with a failed call (`calls.error_kind`)."""
    if isinstance(exc, asyncio.CancelledError | CallCancelled):
        return "cancelled"
    if isinstance(exc, ModelFailed):
        return "model_failed"
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else type(exc).__name__
