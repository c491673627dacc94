"""Built-in "world knowledge": cue words per concept, of which smaller variants know less."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from .text import NEGATORS, stable_fraction, words
from .variants import Variant


# Concept -> the label spellings it answers to, and the cue words a general
# model would associate with it. Variants know a hash-chosen share of the cues.
def _concept(names: str, cues: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(names.split()), tuple(cues.split())


_KNOWLEDGE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "positive": _concept(
        "positive pos good happy favorable",
        "great love loved loves excellent amazing perfect recommend happy awesome fantastic wonderful pleased "
        "best comfortable sturdy beautiful impressed nice",
    ),
    "negative": _concept(
        "negative neg bad unhappy unfavorable",
        "terrible awful broke broken worst disappointed disappointing waste poor useless horrible flimsy "
        "defective hate cheaply stopped annoying junk",
    ),
    "neutral": _concept(
        "neutral mixed none other unknown neither",
        "okay ok average fine decent expected described standard ordinary",
    ),
    "billing": _concept(
        "billing payment payments invoice charges refund refunds",
        "charged charge invoice refund payment bill billing card price fee receipt overcharged paid pay",
    ),
    "shipping": _concept(
        "shipping delivery shipment order_status logistics",
        "package delivery delivered shipping shipped tracking arrive arrived order lost address dispatch",
    ),
    "account": _concept(
        "account login access authentication",
        "password login username email locked reset profile sign verify verification",
    ),
    "technical": _concept(
        "technical bug tech_support technical_issue tech support",
        "crash crashes crashed error bug freezes frozen glitch update install slow loading app",
    ),
    "cancellation": _concept(
        "cancellation cancel churn unsubscribe",
        "cancel cancellation unsubscribe terminate quit stop",
    ),
}
_OPPOSITE = {"positive": "negative", "negative": "positive"}


def _concept_of(label: str) -> str | None:
    key = re.sub(r"[^a-z_]", "", label.lower().replace(" ", "_"))
    for concept, (names, _) in _KNOWLEDGE.items():
        if key in names:
            return concept
    return None


def _knows(word: str, spec: Variant) -> bool:
    return stable_fraction("lexicon", word) < spec.lexicon_coverage


def lexicon_hits(text: str, labels: Sequence[str], spec: Variant) -> dict[str, list[str]]:
    """Cue words of the built-in knowledge found in `text`, per label."""
    concepts = {concept: label for label in labels if (concept := _concept_of(label)) is not None}
    hits: dict[str, list[str]] = defaultdict(list)
    toks = words(text)
    for i, tok in enumerate(toks):
        for concept, label in concepts.items():
            if tok not in _KNOWLEDGE[concept][1] or not _knows(tok, spec):
                continue
            negated = any(t in NEGATORS or t.endswith("n't") for t in toks[max(0, i - 2) : i])
            if negated and spec.negation:
                other = concepts.get(_OPPOSITE.get(concept, ""))
                if other is not None:
                    hits[other].append(f"not {tok}")
                continue
            hits[label].append(tok)
    return hits
