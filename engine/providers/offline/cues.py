"""Mining decisive cue phrases from the labelled examples a meta-prompt shows."""

from __future__ import annotations

import ast
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from .text import STOPWORDS, words


@dataclass
class _Examples:
    """Labelled texts a meta-prompt shows: what instruction writers learn from."""

    pairs: list[tuple[str, str]] = field(default_factory=list)  # (input text, label)
    input_names: list[str] = field(default_factory=list)
    output_name: str = ""

    def labels(self) -> list[str]:
        return list(dict.fromkeys(label for _, label in self.pairs))


_CLAUSE_SPLIT = re.compile(r"[!?;,:\n]+|\.(?!\w)")
_CLAUSE_WORDS = 8  # a clause longer than this is a one-off, not a reusable cue


def _clauses(text: str) -> list[str]:
    return [" ".join(toks) for part in _CLAUSE_SPLIT.split(text) if (toks := words(part))]


def ngrams(text: str, longest: int = 4) -> set[str]:
    """Word n-grams inside clauses that neither start nor end with a function word."""
    grams = set()
    for clause in _clauses(text):
        toks = clause.split()
        for n in range(1, longest + 1):
            for i in range(len(toks) - n + 1):
                gram = toks[i : i + n]
                if gram[0] in STOPWORDS or gram[-1] in STOPWORDS or (n == 1 and len(gram[0]) < 3):
                    continue
                grams.add(" ".join(gram))
    return grams


def _content_words(text: str) -> int:
    """Words that carry meaning; a clause of function words only ("hey there") is no cue."""
    return sum(t not in STOPWORDS for t in text.split())


def contains(longer: str, shorter: str) -> bool:
    return f" {shorter} " in f" {longer} "


def mine_cues(
    pairs: Sequence[tuple[str, str]], per_label: int, min_count: int = 2, single_clauses: bool = False
) -> dict[str, list[tuple[str, int]]]:
    """Phrases seen with one label only, most frequent first, longest kept.

    Word n-grams need `min_count` sightings; with `single_clauses`, a short
    whole clause with a meaningful word counts from one sighting (a
    reader noting "this sentence went with that label"), which is how one
    batch of examples can teach.
    """
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    clauses: set[str] = set()
    for text, label in pairs:
        units = ngrams(text)
        if single_clauses:
            short = {c for c in _clauses(text) if len(c.split()) <= _CLAUSE_WORDS and _content_words(c) >= 1}
            clauses |= short
            units |= short
        for unit in units:
            seen[unit][label] += 1
    candidates = []
    for unit, counts in seen.items():
        label, count = counts.most_common(1)[0]
        if count == sum(counts.values()) and (count >= min_count or unit in clauses):
            candidates.append((count, len(unit.split()), unit, label))
    chosen: dict[str, list[tuple[str, int]]] = defaultdict(list)
    # Repeated phrases: most frequent, then longest. Single sightings: shortest first, as short clauses generalise.
    for count, _, unit, label in sorted(
        candidates, key=lambda c: (-c[0], c[1] if c[0] == 1 else -c[1], c[2])
    ):
        kept = chosen[label]
        if len(kept) < per_label and not any(contains(k, unit) or contains(unit, k) for k, _ in kept):
            kept.append((unit, count))
    return dict(chosen)


def rules_text(cues: dict[str, list[tuple[str, int]]], with_counts: bool = False) -> str:
    items = []
    for label, grams in cues.items():
        for gram, count in grams:
            items.append(f'"{gram}" -> {label}' + (f" (x{count})" if with_counts else ""))
    return "; ".join(items)


_EXAMPLE_REPR = re.compile(r"Example\((\{.*?\})\)\s*\(input_keys=\{(.*?)\}\)", re.S)


def examples_from_reprs(text: str) -> _Examples:
    """Parse `[Example({...}) (input_keys={...}), ...]` as MIPROv2's dataset summary shows it."""
    ex = _Examples()
    for m in _EXAMPLE_REPR.finditer(text):
        try:
            data = ast.literal_eval(m.group(1))
        except (ValueError, SyntaxError):
            continue
        keys = [k.strip().strip("'\"") for k in m.group(2).split(",") if k.strip()]
        outs = [k for k in data if k not in keys]
        if not outs or not isinstance(data, dict):
            continue
        ex.input_names = ex.input_names or keys
        ex.output_name = ex.output_name or outs[0]
        ex.pairs.append((" ".join(str(data[k]) for k in keys if k in data), str(data[outs[0]])))
    return ex


def examples_from_prefixed(text: str, outputs_hint: Sequence[str]) -> _Examples:
    """Parse GroundedProposer task demos: blocks of `Field Name: value` lines."""
    ex = _Examples()
    for block in re.split(r"\n\s*\n", text):
        fields: list[tuple[str, str]] = []
        for line in block.splitlines():
            m = re.match(r"^([A-Z][\w ]{0,40}):\s?(.*)$", line)
            if m:
                fields.append((m.group(1).strip().lower().replace(" ", "_"), m.group(2)))
            elif fields:
                fields[-1] = (fields[-1][0], fields[-1][1] + "\n" + line)
        if len(fields) < 2:
            continue
        out_name = next((n for n, _ in reversed(fields) if n in outputs_hint), fields[-1][0])
        label = dict(fields)[out_name].strip()
        ins = [(n, v) for n, v in fields if n not in (out_name, "reasoning")]
        ex.output_name = ex.output_name or out_name
        ex.input_names = ex.input_names or [n for n, _ in ins]
        ex.pairs.append((" ".join(v for _, v in ins), label))
    return ex


def field_names_from_instruction(text: str) -> tuple[list[str], list[str]]:
    """`Given the fields `a`, `b`, produce the fields `c`.` -> (["a", "b"], ["c"])."""
    m = re.search(r"Given the fields (.*?), produce the fields (.*?)\.", text, re.S)
    if not m:
        return [], []
    return re.findall(r"`(\w+)`", m.group(1)), re.findall(r"`(\w+)`", m.group(2))
