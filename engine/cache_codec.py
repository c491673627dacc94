"""How an LM call becomes a cache key: canonical JSON, the hash, sample numbering.

The same request must always hash the same (sorted keys, no spaces), never
include the API key, and tell apart repeated samples of one prompt.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from typing import Any

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces: the same request always hashes the same."""
    return _CANONICAL.encode(value).encode()


def compact_json(value: Any) -> bytes:
    """The body as sent when no cache key is needed (no sorting)."""
    return _COMPACT.encode(value).encode()


def cache_key(provider_id: str, base_url: str, model: str, body_json: bytes) -> str:
    """sha256 over the canonical JSON of (provider, base URL, model, body). Never the key."""
    digest = hashlib.sha256()
    digest.update(canonical_json([provider_id, base_url, model]))
    digest.update(b"\n")
    digest.update(body_json)
    return digest.hexdigest()


class Ordinals:
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
