"""Word tokens and the similarity features the offline model matches on."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter

from .variants import Variant

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOPWORD_TEXT = """a an the and or but if of to in on at for with by from as is are was were be been being it its
this that these those i me my we our you your he she they them their his her am do does did so just very really
too then than there here have has had will would can could should about into over after before up out what which
who whom when where why how all any some no one"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
NEGATORS = frozenset({"not", "no", "never", "hardly", "barely", "without"})


def words(text: str) -> list[str]:
    """Lower-case word tokens; the unit of every match the model makes."""
    return _WORD.findall(text.lower())


def norm(text: str) -> str:
    return " " + " ".join(words(text)) + " "


def features(text: str, spec: Variant) -> Counter[str]:
    toks = words(text)
    content = [t for t in toks if t not in STOPWORDS]
    feats: Counter[str] = Counter(content)
    if spec.word_pairs:
        feats.update(
            f"{a} {b}"
            for a, b in zip(toks, toks[1:], strict=False)
            if not (a in STOPWORDS and b in STOPWORDS)
        )
    if spec.char_ngrams:
        n = spec.char_ngrams
        for t in content:
            padded = f"#{t}#"
            feats.update(f"~{padded[i : i + n]}" for i in range(max(1, len(padded) - n + 1)))
    return feats


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def stable_fraction(*parts: str) -> float:
    h = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64
