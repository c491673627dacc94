"""JSON every parser reads: `json.dumps` writes NaN and infinities as bare `NaN`/`Infinity`, which
strict parsers refuse, so they are written as null (an old database can hold them)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def finite(value: Any) -> Any:
    """`value` with every non-finite float inside it replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def strict_json(value: Any, **options: Any) -> str:
    """`json.dumps(value, **options)` with non-finite numbers as null."""
    return json.dumps(finite(value), allow_nan=False, **options)
