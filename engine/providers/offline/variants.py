"""How skilled each offline model is: the knobs that make comparisons mean something."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


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


# One knob a line, one model a column: how each knob grows from small to large reads across.
# fmt: off
_KNOBS: dict[str, tuple[Any, Any, Any]] = {
    #                           small       base        large
    "max_demos":               (3,          8,          32),
    "neighbours":              (1,          3,          5),
    "word_pairs":              (False,      True,       True),
    "char_ngrams":             (0,          0,          4),
    "purity_weighting":        (False,      True,       True),
    "calibrated":              (False,      False,      True),
    "prior":                   ("recency",  "majority", "neutral"),
    "lexicon_coverage":        (0.5,        0.75,       1.0),
    "negation":                (False,      False,      True),
    "max_rules":               (4,          12,         64),
    "noise":                   (0.12,       0.06,       0.03),
    "cues_per_label":          (2,          4,          6),
    "latency_s":               (0.01,       0.02,       0.04),
    "latency_per_1k_tokens_s": (0.005,      0.01,       0.02),
}
# fmt: on
_DESCRIPTIONS = {
    "small": "Fast and forgetful: reads 3 demos, single words only, knows half the common cues.",
    "base": "Balanced: reads 8 demos, words and phrases, knows most common cues.",
    "large": "Careful: reads 32 demos, fuzzy matching, handles negation, knows every common cue.",
}
VARIANTS: dict[str, Variant] = {
    name: Variant(name=name, description=description, **{knob: row[i] for knob, row in _KNOBS.items()})
    for i, (name, description) in enumerate(_DESCRIPTIONS.items())
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
