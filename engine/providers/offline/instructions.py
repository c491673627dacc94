"""Writing instructions that state the task, the label set and the decisive cues."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from .cues import contains, rules_text
from .labels import labels_in, parse_rules
from .text import words


def careful(instruction: str) -> bool:
    return bool(re.search(r"\b(carefully|step by step|precise|meticulous|double-check)\b", instruction, re.I))


_TIP_PERSONA = {
    "persona": "You are a meticulous analyst who labels {what} for a living. ",
    "high_stakes": "Each answer feeds a decision that cannot be undone, so be precise. ",
}


_CUES_LEAD = "Decisive cues:"


def compose_instruction(
    base: str,
    inputs: Sequence[str],
    output: str,
    labels: Sequence[str],
    cues: dict[str, list[tuple[str, int]]],
    *,
    tip: str = "",
) -> str:
    """An instruction that states the task, the label set and the decisive cues."""
    what = " and ".join(f"`{n}`" for n in inputs) or "the input"
    goal = f"giving the `{output}`" if output else "answering"
    lead = ""
    if "persona" in tip.lower() and not base.startswith("You are"):
        lead = _TIP_PERSONA["persona"].format(what=what)
    elif "high stakes" in tip.lower() and _TIP_PERSONA["high_stakes"].strip() not in base:
        lead = _TIP_PERSONA["high_stakes"]
    lines = [f"{lead}{base.strip()}" if base.strip() else f"{lead}Read {what} and answer."]
    if labels and not labels_in(base):
        lines.append(f"Answer with exactly one of: {', '.join(labels)}.")
    rules = rules_text(cues)
    if rules:
        lines.append(f"{_CUES_LEAD} {rules}.")
    if "concise" not in tip.lower() and not careful(base):
        lines.append(f"Read {what} carefully and weigh every cue before {goal}.")
    return "\n".join(lines)


def merge_cues(
    *sources: dict[str, list[tuple[str, int]]], per_label: int, min_total: int = 1
) -> dict[str, list[tuple[str, int]]]:
    """Sum sightings across sources; drop phrases claimed by two labels or seen too rarely."""
    merged: dict[str, Counter[str]] = defaultdict(Counter)
    owner: dict[str, set[str]] = defaultdict(set)
    for source in sources:
        for label, grams in source.items():
            for gram, count in grams:
                merged[label][gram] += count
                owner[gram].add(label)
    out: dict[str, list[tuple[str, int]]] = {}
    for label, counts in merged.items():
        kept: list[tuple[str, int]] = []
        for gram, count in sorted(counts.items(), key=lambda kv: (-kv[1], -len(kv[0].split()), kv[0])):
            if count < min_total or len(owner[gram]) > 1:
                continue
            if len(kept) < per_label and not any(contains(k, gram) or contains(gram, k) for k, _ in kept):
                kept.append((gram, count))
        out[label] = kept
    return out


def rules_as_cues(text: str, labels: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
    """Rules stated in a text, with their "(xN)" sighting counts summed over repeats."""
    counts: dict[tuple[str, str], int] = Counter()
    for phrase, label in parse_rules(text, labels):
        counts[(" ".join(words(phrase)), label)] += 0
    for m in re.finditer(r'"([^"\n]+)" -> ([^;(\n]+?) \(x(\d+)\)', text):
        key = (" ".join(words(m.group(1))), m.group(2).strip())
        if key in counts:
            counts[key] += int(m.group(3))
    cues: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (phrase, label), n in counts.items():
        cues[label].append((phrase, max(n, 1)))
    return dict(cues)


def base_instruction(text: str) -> str:
    """An instruction without the label list, cue list and closing advice we add, so they are not repeated."""
    keep = [
        line
        for line in text.splitlines()
        if not line.startswith(("Answer with exactly one of:", _CUES_LEAD))
        and not (line.startswith("Read ") and "carefully and weigh every cue" in line)
    ]
    return "\n".join(keep).strip()
