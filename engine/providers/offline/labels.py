"""Which labels a prompt allows and which (phrase, label) rules its instruction states."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .prompt import FieldSpec, Prompt
from .text import words

_ONE_OF = re.compile(r"\bone of\b\s*:?\s*([^\n]+)", re.I)
_QUOTED_ITEM = re.compile(r"'([^']+)'|\"([^\"]+)\"")
_QUOTED = re.compile(r"\"([^\"\n]{1,80})\"|\u201c([^\u201d\n]{1,80})\u201d")
NONE_LIKE = ("neutral", "none", "other", "unknown", "mixed", "neither", "n/a")


def labels_in(text: str) -> list[str]:
    """Labels a text states: "one of: a, b, or c", "one of: a; b" or `Literal['a', 'b']`."""
    found: list[str] = []
    for m in re.finditer(r"Literal\[(.*?)\]", text):
        found += [a or b for a, b in _QUOTED_ITEM.findall(m.group(1))]
    for m in _ONE_OF.finditer(text):
        chunk = re.split(r"(?<=[\w'\"`)])\.(?:\s|$)|\(", m.group(1))[0]
        for item in re.split(r"\s*(?:,|;|\||/|\bor\b|\band\b)\s*", chunk):
            item = item.strip(" '\"`*.()[]{}")
            if item and len(item) <= 40 and len(item.split()) <= 3 and not item.lower().startswith("the "):
                found.append(item)
    return list(dict.fromkeys(found))


def _label_positions(label: str, text: str) -> list[int]:
    return [m.start() for m in re.finditer(rf"(?<![\w-]){re.escape(label)}(?![\w-])", text, re.I)]


def parse_rules(text: str, labels: Sequence[str]) -> list[tuple[str, str]]:
    """(phrase, label) pairs: a quoted phrase and a label in the same clause."""
    rules: list[tuple[str, str]] = []
    for segment in re.split(r"[;\n]|(?<=[.!?])\s+", text):
        quoted = [(m.start(), m.group(1) or m.group(2)) for m in _QUOTED.finditer(segment)]
        if not quoted:
            continue
        bare = _QUOTED.sub(lambda m: " " * len(m.group(0)), segment)
        hits = sorted((pos, label) for label in labels for pos in _label_positions(label, bare))
        if not hits:
            continue
        for pos, phrase in quoted:
            after = [label for p, label in hits if p > pos]
            label = after[0] if after else hits[-1][1]
            if words(phrase) and (phrase, label) not in rules:
                rules.append((phrase, label))
    return rules


def candidate_labels(prompt: Prompt, out: FieldSpec) -> list[str]:
    stated = labels_in(f"{out.type} {out.desc}")
    structure = re.search(rf"\{{{out.name}\}}[^\n]*one of:[^\n]*", prompt.system)
    if structure:
        stated += labels_in(structure.group(0))
    stated += labels_in(prompt.instruction)
    if out.type.startswith("bool"):
        stated += ["True", "False"]
    seen = [d[1][out.name] for d in prompt.demos if out.name in d[1]]
    labels = list(dict.fromkeys(stated))
    lowered = {label.lower() for label in labels}
    for value in seen:
        if value.lower() not in lowered and len(value) <= 40 and (labels or len(set(seen)) < len(seen)):
            labels.append(value)
            lowered.add(value.lower())
    return labels
