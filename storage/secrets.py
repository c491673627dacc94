"""Keeping secrets out of anything we store or show.

Three kinds: values under secret-looking keys (`api_key = ...`), credentials inside URLs
(`?key=...`, `user:pass@host`) and hook commands (a hook may carry a token, so only its
program name is kept), all removed by `scrub`; and the key values themselves (from the
keyring or the environment, registered with `remember` when they are read), removed
from any text by `redact_known` - a provider that echoes a key in its answer must not
put it in the call cache.
"""

from __future__ import annotations

import os
import re
import shlex
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "<redacted>"
_SECRET_NAMES = re.compile(r"(api[_-]?key|secret|token|password|authorization)$", re.I)
_SECRET_PARAMS = re.compile(
    r"(key|token|secret|password|passwd|pwd|auth|signature|sig|credential|session)", re.I
)
_KEY_ENV_NAMES = re.compile(r"(API_KEY|_TOKEN|_SECRET)$")

_known: set[str] = set()
_known_lock = threading.Lock()
# os.environ keeps its variables in `_data` on CPython: comparing that dict with a copy takes
# well under a microsecond, reading every variable through os.environ some 40.
_environ: Mapping[Any, Any] = getattr(os.environ, "_data", os.environ)
_listed: tuple[dict[Any, Any], list[str]] | None = None  # (the environment then, the list)


def remember(value: str | None) -> None:
    """Register a key value so `redact_known` (and the log filter) remove it wherever it appears."""
    global _listed
    if value and len(value) >= 6:
        with _known_lock:
            _known.add(value)
            _listed = None


def known_secrets() -> list[str]:
    """Every registered key value, and those in the environment now, longest first.

    Every text we store asks for it (hundreds of times a session), so the list is kept until
    a value is remembered or the environment changes in any way."""
    global _listed
    with _known_lock:
        if _listed is None or _listed[0] != _environ:
            now = dict(_environ)  # taken before reading: a change meanwhile makes the next call list again
            env = {v for k, v in os.environ.items() if _KEY_ENV_NAMES.search(k) and v and len(v) >= 6}
            _listed = (now, sorted(_known | env, key=len, reverse=True))
        return list(_listed[1])


def redact_known(text: str) -> str:
    """`text` with every known key value replaced by <redacted>."""
    for secret in known_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_url(url: str) -> str:
    """A URL with its password and credential-looking query parameters replaced by <redacted>."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{REDACTED}@{host}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(_SECRET_PARAMS.search(k) and v for k, v in pairs):
        query = urlencode(
            [(k, REDACTED if _SECRET_PARAMS.search(k) and v else v) for k, v in pairs], safe="<>"
        )
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_command(command: str) -> str:
    """A hook command as it may be shown: its program name only (its arguments may hold a token)."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    return f"{words[0]} {REDACTED}" if len(words) > 1 else (words[0] if words else "")


def is_redacted_command(command: str) -> bool:
    return command.endswith(f" {REDACTED}")


def scrub(value: Any, *, _key: str = "") -> Any:
    """A copy of a config-like structure with secrets removed: values under secret-looking keys,
    credentials in URLs, hook commands (program name kept) and every known key value."""
    if isinstance(value, dict):
        if _key == "hooks":
            return {k: redact_command(v) if isinstance(v, str) else scrub(v) for k, v in value.items()}
        return {
            k: (REDACTED if isinstance(k, str) and _SECRET_NAMES.search(k) and v else scrub(v, _key=str(k)))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return redact_known(redact_url(value) if "://" in value else value)
    return value


def mask(key: str) -> str:
    """`sk-...abcd`: enough to tell keys apart, never enough to use one."""
    if len(key) <= 8:
        return "*" * len(key)
    head = key[:3] if key[2:3] == "-" else key[:2]
    return f"{head}...{key[-4:]}"
