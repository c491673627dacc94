"""How many prompt tokens a request may cost at most, so that a reservation can be made before it is sent.

Safe for any tokenizer: one token per byte of the request body. Byte-level BPE
(OpenAI, Anthropic, Llama) and SentencePiece with byte fallback (Gemini) spend
a token on at least one byte of text, and the body carries every byte of text
(plus JSON that only adds to the count). That bound is about four times what
English text really costs, which leaves a small budget mostly unspent.

So once a call's byte bound no longer fits, no other call is in flight and no
money held back for later phases stands in the way (the end of a budget),
`Budget` may bound it by what the provider's own reported
usage shows instead: after a request of this account has been billed, it is bounded by
the densest prompt tokens per byte of text billed so far, times `MARGIN`, plus
the template's tokens. The density of a request mixes its ASCII bytes and its
other bytes (CJK, emoji: denser under most tokenizers), so the learned bound is
used only for requests whose share of non-ASCII bytes lies within the range
already billed: when each kind of byte has a density of its own, a request's
density is linear in its share, so the requests at the ends of that range bound
every request inside it. This is an upper bound as long as two requests of one
account with the same share differ in density by less than `MARGIN` (the
prompts of one session share their instructions and their data: 1.20 at most
on the demo tasks under cl100k, 0.21-0.25 tokens per text byte) and the
template adds at most `TEMPLATE_TOKENS`. A request outside the range is
bounded by bytes (and widens the range once billed). A call billed above its
learned bound breaks that assumption: it is recorded as billed and its account
is bounded by bytes for the rest of the session.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

TEMPLATE_TOKENS = 16  # a chat template adds a few tokens of its own around the messages
MARGIN = 1.25  # a later request may be denser than the densest one billed so far (the module docstring)


@dataclass(frozen=True)
class TextSize:
    """The bytes of a request's string values (the text a tokenizer reads), split by kind."""

    ascii: int
    other: int  # bytes of non-ASCII characters

    @property
    def total(self) -> int:
        return self.ascii + self.other

    @property
    def share(self) -> float:
        """Non-ASCII share of the text bytes."""
        return self.other / self.total if self.total else 0.0


def text_size(body: Any) -> TextSize:
    """The string values of a request body (messages, system prompt, model name), not its JSON keys."""
    ascii_bytes = other = 0
    for text in _strings(body):
        encoded = len(text.encode())
        if text.isascii():
            ascii_bytes += encoded
        else:
            plain = len(text.encode("ascii", "ignore"))
            ascii_bytes += plain
            other += encoded - plain
    return TextSize(ascii_bytes, other)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def byte_bound(body_bytes: int) -> int:
    """At most as many prompt tokens as the request has bytes, whatever the tokenizer."""
    return body_bytes + TEMPLATE_TOKENS


@dataclass
class _Seen:
    density: float  # the most prompt tokens per text byte billed
    low: float  # the range of non-ASCII shares billed
    high: float


class TokenBounds:
    """Per account: what its requests have been billed, and the bound that follows from it."""

    def __init__(self, margin: float = MARGIN) -> None:
        self.margin = margin
        self._lock = threading.Lock()
        self._seen: dict[str, _Seen] = {}
        self._distrusted: set[str] = set()

    def bound(self, account: str, text: TextSize) -> int | None:
        """The learned bound on the prompt tokens of a request of `text`, or None (bytes only)."""
        if not text.total:
            return None
        with self._lock:
            seen = None if account in self._distrusted else self._seen.get(account)
        if seen is None or not seen.low <= text.share <= seen.high:
            return None
        return math.ceil(seen.density * self.margin * text.total) + TEMPLATE_TOKENS

    def observe(self, account: str, text: TextSize, prompt_tokens: int) -> None:
        """The provider billed `prompt_tokens` for a request of `text`."""
        if not text.total or prompt_tokens < 0:
            return
        density = prompt_tokens / text.total
        with self._lock:
            seen = self._seen.get(account)
            if seen is None:
                self._seen[account] = _Seen(density, text.share, text.share)
            else:
                seen.density = max(seen.density, density)
                seen.low, seen.high = min(seen.low, text.share), max(seen.high, text.share)

    def distrust(self, account: str) -> None:
        """A call of `account` was billed above its learned bound: bytes only from now on."""
        with self._lock:
            self._distrusted.add(account)

    def learned(self, account: str) -> bool:
        with self._lock:
            return account in self._seen and account not in self._distrusted
