"""How skilled each offline model is: the knobs that make comparisons mean something."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Variant:
    """How skilled one offline model is; the knobs are what makes comparisons mean something."""

    name: str
    description: str
    max_demos: int  # demos read, nearest to the question first (a context-window stand-in)
    neighbours: int  # k of the k-NN vote over demos
    word_pairs: bool  # bigram features (phrases), not only single words
    char_ngrams: int  # character n-gram size for fuzzy matching, 0 = none
    purity_weighting: bool  # down-weight features the demos use for several labels
    calibrated: bool  # discount neighbour votes for labels the demos over-represent
    prior: Literal[
        "recency", "majority", "neutral"
    ]  # the guess when nothing points anywhere (see prior_label)
    lexicon_coverage: float  # share of the built-in cue words it knows
    negation: bool  # "not great" counts against "great"
    max_rules: int  # instruction rules it can keep in mind
    noise: float  # chance of answering the runner-up label
    cues_per_label: int  # cue phrases its own instruction proposals state
    latency_s: float = 0.0  # simulated fixed latency per call (the runtime may sleep it)
    latency_per_1k_tokens_s: float = 0.0  # simulated latency per 1000 prompt tokens


VARIANTS: dict[str, Variant] = {
    "small": Variant(
        name="small",
        description="Fast and forgetful: reads 3 demos, single words only, knows half the common cues.",
        max_demos=3,
        neighbours=1,
        word_pairs=False,
        char_ngrams=0,
        purity_weighting=False,
        calibrated=False,
        prior="recency",
        lexicon_coverage=0.5,
        negation=False,
        max_rules=4,
        noise=0.12,
        cues_per_label=2,
        latency_s=0.01,
        latency_per_1k_tokens_s=0.005,
    ),
    "base": Variant(
        name="base",
        description="Balanced: reads 8 demos, words and phrases, knows most common cues.",
        max_demos=8,
        neighbours=3,
        word_pairs=True,
        char_ngrams=0,
        purity_weighting=True,
        calibrated=False,
        prior="majority",
        lexicon_coverage=0.75,
        negation=False,
        max_rules=12,
        noise=0.06,
        cues_per_label=4,
        latency_s=0.02,
        latency_per_1k_tokens_s=0.01,
    ),
    "large": Variant(
        name="large",
        description="Careful: reads 32 demos, fuzzy matching, handles negation, knows every common cue.",
        max_demos=32,
        neighbours=5,
        word_pairs=True,
        char_ngrams=4,
        purity_weighting=True,
        calibrated=True,
        prior="neutral",
        lexicon_coverage=1.0,
        negation=True,
        max_rules=64,
        noise=0.03,
        cues_per_label=6,
        latency_s=0.04,
        latency_per_1k_tokens_s=0.02,
    ),
}


def get_variant(variant: str) -> Variant:
    """Accept "base" or "offline/base"; unknown names list the known ones."""
    key = variant.split("/", 1)[1] if variant.startswith("offline/") else variant
    if key not in VARIANTS:
        raise ValueError(
            f"unknown offline model {variant!r}; choose one of: "
            + ", ".join(f"offline/{k}" for k in VARIANTS)
        )
    return VARIANTS[key]
