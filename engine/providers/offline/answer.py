"""Answering a task prompt: classify from rules, demos and the lexicon, or extract; then render."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dspy.lm15 import Request

from .instructions import careful
from .labels import NONE_LIKE, candidate_labels, parse_rules
from .lexicon import lexicon_hits
from .meta import meta_answer
from .prompt import FieldSpec, Prompt, raw_text
from .text import STOPWORDS, cosine, features, norm, stable_fraction, words
from .variants import Variant


@dataclass
class _Decision:
    value: str
    evidence: str


def noise_draw(request: Request, spec: Variant, sample: int = 0) -> float:
    """The uniform draw behind slips and sampling; `sample` numbers repeated identical requests
    (a real model samples each one afresh at temperature > 0)."""
    return stable_fraction("noise", digest(request, spec), *([str(sample)] if sample else []))


def digest(request: Request, spec: Variant) -> str:
    cfg = request.config
    key = "\x1e".join([spec.name, raw_text(request), repr(cfg.temperature), repr(cfg.seed)])
    return hashlib.sha256(key.encode()).hexdigest()


def _input_text(values: dict[str, str], names: Sequence[str]) -> str:
    return "\n".join(values.get(n, "") for n in names)


# Evidence weights: a stated rule beats a similar demo, which beats a cue word the model merely knows.
_RULE_WEIGHT = 4.0  # plus 0.2 per word of the rule's phrase
_DEMO_WEIGHT = 3.0  # times the cosine similarity of a neighbour
_LEXICON_WEIGHT = 1.5  # per known cue word


def _classify(prompt: Prompt, out: FieldSpec, labels: list[str], spec: Variant, draw: float) -> _Decision:
    names = [f.name for f in prompt.inputs] or list(prompt.current)
    query = _input_text(prompt.current, names)
    qnorm = norm(query)
    canon = {label.lower(): label for label in labels}
    scores: dict[str, float] = dict.fromkeys(labels, 0.0)
    why: dict[str, tuple[float, str]] = {}

    def add(label: str, amount: float, reason: str) -> None:
        label = canon.get(label.lower(), label)
        if label not in scores or amount <= 0:
            return
        scores[label] += amount
        if amount > why.get(label, (0.0, ""))[0]:
            why[label] = (amount, reason)

    for phrase, label in parse_rules(prompt.instruction, labels)[: spec.max_rules]:
        if norm(phrase) in qnorm:
            add(
                label,
                _RULE_WEIGHT + 0.2 * len(words(phrase)),
                f'the instruction says "{phrase}" means {label}',
            )

    demos = [d for d in prompt.demos if out.name in d[1]][-spec.max_demos :]
    if demos:
        docs = [features(_input_text(ins, names), spec) for ins, _ in demos]
        qf = features(query, spec)
        df: Counter[str] = Counter(f for doc in [*docs, qf] for f in set(doc))
        n = len(docs) + 1
        purity: dict[str, float] = {}
        if spec.purity_weighting:
            per_label: dict[str, Counter[str]] = defaultdict(Counter)
            for doc, (_, outs) in zip(docs, demos, strict=True):
                per_label[outs[out.name].lower()].update(set(doc))
            for f in qf:
                counts = [c[f] for c in per_label.values() if c[f]]
                purity[f] = (max(counts) / sum(counts)) ** 2 if counts else 1.0

        def weigh(doc: Counter[str]) -> dict[str, float]:
            return {f: c * math.log(1 + n / df[f]) * purity.get(f, 1.0) for f, c in doc.items()}

        qv = weigh(qf)
        sims = sorted(
            ((cosine(qv, weigh(doc)), i) for i, doc in enumerate(docs)), key=lambda s: (-s[0], -s[1])
        )
        share = Counter(outs[out.name].lower() for _, outs in demos)
        floor = max(0.05, 0.5 * sims[0][0])  # attend to the best matches, not to every faint one
        for sim, i in sims[: spec.neighbours]:
            if sim >= floor:
                label = demos[i][1][out.name]
                # Calibration: a label filling most demos would win neighbour votes by sheer number, not by fit.
                excess = len(labels) * share[label.lower()] / len(demos)
                weight = min(1.0, excess**-0.5) if spec.calibrated else 1.0
                shared = sorted(set(qf) & set(docs[i]), key=lambda f: (-len(f), f))
                cue = next((f for f in shared if not f.startswith("~")), "")
                add(label, _DEMO_WEIGHT * sim * weight, f'a similar example ("{cue}") was labelled {{label}}')

    for label, cues in lexicon_hits(query, labels, spec).items():
        add(label, _LEXICON_WEIGHT * len(cues), f'"{cues[0]}" usually signals {label}')

    ranked = sorted(labels, key=lambda label: -scores[label])
    if scores[ranked[0]] <= 0:
        best = prior_label(labels, demos, out.name, spec)
        reason = "nothing in the text points elsewhere"
        runner = next((label for label in labels if label != best), best)
    else:
        best, reason = ranked[0], why[ranked[0]][1]
        runner = ranked[1] if len(ranked) > 1 else best
    rate = _noise_rate(prompt, spec)
    if draw < rate:
        best, reason = runner, "it reads that way at a glance"
    elif prompt.temperature > 0 and scores[ranked[0]] > 0:
        sampled = _sample(scores, ranked, prompt.temperature, (draw - rate) / (1 - rate))
        if sampled != best:
            best, reason = sampled, why.get(sampled, (0.0, "it could read that way too"))[1]
    return _Decision(best, reason.replace("{label}", best))


_SHARPNESS = 3.0  # evidence units -> logits: at temperature 1 a one-cue lead (1.5) flips ~1% of answers


def _sample(scores: dict[str, float], ranked: list[str], temperature: float, u: float) -> str:
    """Sampling at `temperature`: P(label) ~ exp(SHARPNESS * (score - best) / temperature), drawn with `u` in [0, 1).

    So answers at temperature 1 differ from greedy ones only where the evidence is close, as a real model's do.
    """
    top = scores[ranked[0]]
    weights = [math.exp(_SHARPNESS * (scores[label] - top) / temperature) for label in ranked]
    threshold, total = u * sum(weights), 0.0
    for label, weight in zip(ranked, weights, strict=True):
        total += weight
        if threshold < total:
            return label
    return ranked[-1]


def _noise_rate(prompt: Prompt, spec: Variant) -> float:
    rate = spec.noise
    if careful(prompt.instruction):
        rate *= 0.6
    if prompt.output("reasoning") is not None:
        rate *= 0.75
    return rate * (1 + max(0.0, prompt.temperature - 0.7))  # sampling hot makes slips likelier


def prior_label(
    labels: list[str], demos: list[tuple[dict[str, str], dict[str, str]]], name: str, spec: Variant
) -> str:
    """The guess when nothing points anywhere. "recency": the last demo's label (else the first label
    listed); "majority": the demos' most common label; "neutral": a neutral-like label. Without
    demos, "majority" and "neutral" fall back on a neutral-like label, then on the first label."""
    if demos and spec.prior == "recency":
        return demos[-1][1][name]
    if demos and spec.prior == "majority":
        counts = Counter(outs[name] for _, outs in demos)
        return max(counts, key=lambda label: (counts[label], -labels.index(label) if label in labels else 0))
    if spec.prior != "recency":
        none_like = next((label for label in labels if label.lower() in NONE_LIKE), None)
        if none_like:
            return none_like
    return labels[0]


def _free_answer(prompt: Prompt, out: FieldSpec, spec: Variant) -> _Decision:
    """A field with no label set: copy a near-identical demo, else extract from the inputs."""
    names = [f.name for f in prompt.inputs] or list(prompt.current)
    query = _input_text(prompt.current, names)
    demos = [d for d in prompt.demos if out.name in d[1]][-spec.max_demos :]
    qf = features(query, spec)
    best = max(
        ((cosine(dict(qf), dict(features(_input_text(i, names), spec))), o) for i, o in demos),
        key=lambda s: s[0],
        default=(0.0, {}),
    )
    if best[0] >= 0.8:
        return _Decision(best[1][out.name], "an almost identical example had this answer")
    if out.type in ("int", "float"):
        numbers = re.findall(r"-?\d+(?:\.\d+)?", query)
        return _Decision(numbers[0] if numbers else "0", "the number given in the input")
    if out.type.startswith(("list", "dict")):
        return _Decision("[]" if out.type.startswith("list") else "{}", "nothing to list")
    texts = [prompt.current.get(n, "") for n in names if prompt.current.get(n)]
    if len(texts) >= 2:  # a question and a context: the context sentence sharing most words with the question
        question = set(words(texts[0])) - STOPWORDS
        sentences = re.split(r"(?<=[.!?])\s+", " ".join(texts[1:]))
        pick = max(sentences, key=lambda s: len(question & set(words(s))))
        return _Decision(pick.strip(), "the passage sentence that matches the question")
    snippet = " ".join((texts[0] if texts else "").split()[:12])
    return _Decision(snippet or "unknown", "a restatement of the input")


def answer_prompt(prompt: Prompt, spec: Variant, draw: float) -> dict[str, Any]:
    """Values for every output field of a task or optimizer prompt."""
    meta = meta_answer(prompt, spec)
    if meta is not None:
        return meta
    values: dict[str, Any] = {}
    reasons: list[str] = []
    for out in prompt.outputs:
        if out.name == "reasoning":
            continue
        labels = candidate_labels(prompt, out)
        decision = _classify(prompt, out, labels, spec, draw) if labels else _free_answer(prompt, out, spec)
        values[out.name] = decision.value
        reasons.append(
            f"{decision.evidence[:1].upper()}{decision.evidence[1:]}, so the {out.name} is {decision.value}."
        )
    if prompt.output("reasoning") is not None:
        values["reasoning"] = " ".join(reasons) or "Nothing to reason about."
    return values


# --------------------------------------------------------------------------- rendering


def _typed(value: Any, type_name: str) -> Any:
    """A JSON-ready value of the field's declared type."""
    if not isinstance(value, str):
        return value
    if type_name in ("int", "float"):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if type_name == "int" else number
    if type_name == "bool":
        return value.strip().lower() == "true"
    if type_name.startswith(("list", "dict")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def render(prompt: Prompt, values: dict[str, Any]) -> str:
    if prompt.json_mode:
        return json.dumps(
            {f.name: _typed(values.get(f.name, ""), f.type) for f in prompt.outputs}, ensure_ascii=False
        )
    chunks = []
    for f in prompt.outputs:
        value = values.get(f.name, "")
        chunks.append(f"[[ ## {f.name} ## ]]\n{value if isinstance(value, str) else json.dumps(value)}")
    return "\n\n".join(chunks) + "\n\n[[ ## completed ## ]]"
