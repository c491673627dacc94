"""Keeping secrets out of anything we store or show."""

from __future__ import annotations

import re
from typing import Any

_SECRET_NAMES = re.compile(r"(api[_-]?key|secret|token|password|authorization)$", re.I)


def scrub(value: Any) -> Any:
    """A copy of a config-like structure with values under secret-looking keys removed."""
    if isinstance(value, dict):
        return {
            k: ("<redacted>" if isinstance(k, str) and _SECRET_NAMES.search(k) and v else scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def mask(key: str) -> str:
    """`sk-...abcd`: enough to tell keys apart, never enough to use one."""
    if len(key) <= 8:
        return "*" * len(key)
    head = key[:3] if key[2:3] == "-" else key[:2]
    return f"{head}...{key[-4:]}"
