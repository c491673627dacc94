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


# Task words -> the label set a general model expects for them, for an instruction that names no labels.
_TOPICS = {
    "sentiment": ("positive", "negative", "neutral"),
    "intent": ("billing", "shipping", "account", "technical", "cancellation"),
}
RECALL_BONUS = 0.25  # writing about a task recalls more cue words than reading one text applies


def topic_labels(text: str) -> list[str]:
    """The labels a task description implies by its wording ("sentiment" -> positive, negative, neutral)."""
    toks = set(words(text))
    return next((list(labels) for topic, labels in _TOPICS.items() if topic in toks), [])


def recalled_cues(labels: Sequence[str], spec: Variant, per_label: int) -> dict[str, list[tuple[str, int]]]:
    """Cue words per label that the model recalls when asked to write an instruction (no examples shown).

    Recall is broader than recognition: a variant recalls the cue words within its lexicon coverage
    plus RECALL_BONUS, so its own instruction can teach it cues it would not apply while answering.
    """
    out: dict[str, list[tuple[str, int]]] = {}
    for label in labels:
        concept = _concept_of(label)
        if concept is None:
            continue
        known = [
            w
            for w in _KNOWLEDGE[concept][1]
            if stable_fraction("lexicon", w) < spec.lexicon_coverage + RECALL_BONUS
        ]
        out[label] = [(w, 1) for w in known[:per_label]]
    return out
