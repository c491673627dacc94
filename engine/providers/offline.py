"""The built-in offline model: a small, deterministic in-context learner.

It lets a newcomer run a whole optimization session with no key and lets the
tests run real DSPy optimizers. It is not a table of canned answers: it reads
the DSPy prompt the way a model would and answers from what the prompt shows.

* The system message gives the input/output fields (ChatAdapter or JSONAdapter
  layout), their descriptions and types, and the instruction after "your
  objective is:".
* The user/assistant pairs before the last user message are few-shot demos;
  the last user message holds the current inputs.

A classification answer (a field whose allowed labels are stated in a field
description, a ``Literal`` type, the instruction, or visible in the demos)
scores every label from four sources, strongest first:

1. rules stated in the instruction: a quoted phrase and a label in the same
   clause, e.g. ``"total lemon" -> negative`` or ``If the ticket mentions
   "2FA code", answer account``;
2. nearest neighbours among the demos (tf-idf cosine over word, word-pair and,
   for the large variant, character n-gram features of the input fields);
3. built-in "world knowledge": a small lexicon of common cue words per concept
   (positive, billing, ...), of which smaller variants know less;
4. a weak prior (the majority demo label, a "neutral"-like label, or the first
   label listed) when there is nothing to go on.

So accuracy rises when an optimizer adds good demos or writes an instruction
that states the label set and decisive cues. Answers that are not labels are
copied from a near-identical demo or extracted from the inputs.

It also answers the meta-prompts of DSPy's optimizers (MIPROv2's dataset
summary, program description and GroundedProposer instruction; COPRO's
proposals; GEPA's reflection, through DSPy's JSONAdapter or GEPA's raw
```-block prompt; SIMBA's advice), writing instructions that state the label
set and the cue phrases it mines from the examples the prompt shows.

Everything is a pure function of the request and the variant: "noise" (a
variant's rate of picking the runner-up) is drawn from a hash of the prompt,
the temperature and the request seed. Token usage is approximate: one token
per 4 characters of text, rounded up, at least 1 per non-empty message.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dspy.lm15 import Message, Request, Response, TextPart, Usage

# --------------------------------------------------------------------------- variants


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
    prior: Literal["recency", "majority", "neutral"]  # the guess when nothing points anywhere (see _prior)
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


# --------------------------------------------------------------------------- public API


def complete(request: Request, variant: str) -> Response:
    """Answer one request as the offline model `variant` would. Pure and deterministic."""
    spec = get_variant(variant)
    prompt = parse_prompt(request)
    if prompt is None:
        text = _answer_raw(_raw_text(request), spec)
    else:
        values = _answer(prompt, spec, _noise_draw(request, spec))
        text = _render(prompt, values)
    finish = "stop"
    in_tokens = count_tokens(_raw_text(request))
    out_tokens = count_tokens(text)
    limit = request.config.max_tokens
    if limit is not None and out_tokens > limit:
        text, out_tokens, finish = text[: limit * 4], limit, "length"
    return Response(
        id=f"offline-{_digest(request, spec)[:16]}",
        model=f"offline/{spec.name}",
        message=Message.assistant((TextPart(text),)),
        finish_reason=finish,
        usage=Usage(input_tokens=in_tokens, output_tokens=out_tokens),
    )


def simulated_latency_s(variant: str, request: Request) -> float:
    """How long a call "takes": fixed part + per prompt token, with a +-20% deterministic jitter."""
    spec = get_variant(variant)
    base = spec.latency_s + spec.latency_per_1k_tokens_s * count_tokens(_raw_text(request)) / 1000
    jitter = 0.8 + 0.4 * int(_digest(request, spec)[16:24], 16) / 0xFFFFFFFF
    return base * jitter


def count_tokens(text: str) -> int:
    """Approximate tokens: one per 4 characters, rounded up (0 for empty text)."""
    return math.ceil(len(text) / 4)


# --------------------------------------------------------------------------- prompt parsing

_HEADER = re.compile(r"^\s*\[\[ ## (\w+) ## \]\]\s*$")
_FIELD_LINE = re.compile(r"^\d+\. `(\w+)` \((.*?)\)(?::\s?(.*))?$")
_OBJECTIVE = re.compile(r"your objective is:\s*", re.I)
_REQUIREMENTS = re.compile(r"\n\s*Respond with (?:the corresponding output fields|a JSON object)")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    desc: str


@dataclass
class Prompt:
    """A DSPy adapter prompt, read back into fields, demos and current inputs."""

    inputs: list[FieldSpec]
    outputs: list[FieldSpec]
    instruction: str
    system: str
    json_mode: bool
    temperature: float = 0.0
    demos: list[tuple[dict[str, str], dict[str, str]]] = field(default_factory=list)
    current: dict[str, str] = field(default_factory=dict)

    def output(self, name: str) -> FieldSpec | None:
        return next((f for f in self.outputs if f.name == name), None)


def _part_text(parts: Iterable[Any]) -> str:
    return "\n".join(p.text for p in parts if isinstance(p, TextPart))


def _system_text(request: Request) -> str:
    if request.system is None:
        return ""
    return request.system if isinstance(request.system, str) else _part_text(request.system)


def _messages(request: Request) -> list[tuple[str, str]]:
    return [(m.role, _part_text(m.parts)) for m in request.messages]


def _raw_text(request: Request) -> str:
    return "\n".join([_system_text(request), *(text for _, text in _messages(request))])


def _parse_field_list(block: str) -> list[FieldSpec]:
    specs: list[FieldSpec] = []
    for line in block.splitlines():
        m = _FIELD_LINE.match(line.strip())
        if m:
            specs.append(FieldSpec(m.group(1), m.group(2), (m.group(3) or "").strip()))
        elif specs and line.strip():
            last = specs[-1]
            specs[-1] = FieldSpec(last.name, last.type, (last.desc + " " + line.strip()).strip())
    return specs


def _sections(text: str) -> dict[str, str]:
    """`[[ ## name ## ]]` sections of a ChatAdapter message."""
    out: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            current = m.group(1)
            out.setdefault(current, [])
        elif current is not None:
            out[current].append(line)
    return {k: "\n".join(v).strip() for k, v in out.items()}


def _json_object(text: str) -> dict[str, Any]:
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def parse_prompt(request: Request) -> Prompt | None:
    """Read a DSPy Chat/JSON adapter prompt; None when the request is not one."""
    system = _system_text(request)
    messages = _messages(request)
    if not system and messages and messages[0][0] == "developer":
        system, messages = messages[0][1], messages[1:]
    if "Your output fields are:" not in system:
        return None
    head, _, rest = system.partition("Your output fields are:")
    outputs_block = rest.split("All interactions will be structured", 1)[0]
    inputs_block = head.split("Your input fields are:", 1)[-1]
    objective = _OBJECTIVE.split(system, maxsplit=1)
    instruction = _dedent(objective[1]) if len(objective) > 1 else ""
    json_mode = "Outputs will be a JSON object" in system or (
        bool(messages) and "Respond with a JSON object" in messages[-1][1]
    )
    prompt = Prompt(
        inputs=_parse_field_list(inputs_block),
        outputs=_parse_field_list(outputs_block),
        instruction=instruction,
        system=system,
        json_mode=json_mode,
        temperature=request.config.temperature or 0.0,
    )
    if not prompt.outputs:
        return None
    user_turns = [i for i, (role, _) in enumerate(messages) if role == "user"]
    if user_turns:
        prompt.current = _sections(_REQUIREMENTS.split(messages[user_turns[-1]][1])[0])
    for i in range(len(messages) - 1):
        (role, text), (next_role, answer) = messages[i], messages[i + 1]
        if role == "user" and next_role == "assistant" and (not user_turns or i < user_turns[-1]):
            ins = _sections(text)
            outs = _sections(answer) or {k: _value_text(v) for k, v in _json_object(answer).items()}
            outs = {k: v for k, v in outs.items() if not v.startswith("Not supplied for this")}
            if ins and outs:
                prompt.demos.append((ins, outs))
    return prompt


def _dedent(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines()]
    return "\n".join(lines).strip()


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# --------------------------------------------------------------------------- text features

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOPWORD_TEXT = """a an the and or but if of to in on at for with by from as is are was were be been being it its
this that these those i me my we our you your he she they them their his her am do does did so just very really
too then than there here have has had will would can could should about into over after before up out what which
who whom when where why how all any some no one"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_NEGATORS = frozenset({"not", "no", "never", "hardly", "barely", "without"})


def words(text: str) -> list[str]:
    """Lower-case word tokens; the unit of every match the model makes."""
    return _WORD.findall(text.lower())


def _norm(text: str) -> str:
    return " " + " ".join(words(text)) + " "


def _features(text: str, spec: Variant) -> Counter[str]:
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


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def _stable_fraction(*parts: str) -> float:
    h = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


# --------------------------------------------------------------------------- built-in knowledge


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
    return _stable_fraction("lexicon", word) < spec.lexicon_coverage


def _lexicon_hits(text: str, labels: Sequence[str], spec: Variant) -> dict[str, list[str]]:
    """Cue words of the built-in knowledge found in `text`, per label."""
    concepts = {concept: label for label in labels if (concept := _concept_of(label)) is not None}
    hits: dict[str, list[str]] = defaultdict(list)
    toks = words(text)
    for i, tok in enumerate(toks):
        for concept, label in concepts.items():
            if tok not in _KNOWLEDGE[concept][1] or not _knows(tok, spec):
                continue
            negated = any(t in _NEGATORS or t.endswith("n't") for t in toks[max(0, i - 2) : i])
            if negated and spec.negation:
                other = concepts.get(_OPPOSITE.get(concept, ""))
                if other is not None:
                    hits[other].append(f"not {tok}")
                continue
            hits[label].append(tok)
    return hits


# --------------------------------------------------------------------------- labels and rules

_ONE_OF = re.compile(r"\bone of\b\s*:?\s*([^\n]+)", re.I)
_QUOTED_ITEM = re.compile(r"'([^']+)'|\"([^\"]+)\"")
_QUOTED = re.compile(r"\"([^\"\n]{1,80})\"|\u201c([^\u201d\n]{1,80})\u201d")
_NONE_LIKE = ("neutral", "none", "other", "unknown", "mixed", "neither", "n/a")


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


def _candidate_labels(prompt: Prompt, out: FieldSpec) -> list[str]:
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


# --------------------------------------------------------------------------- answering a task prompt


@dataclass
class _Decision:
    value: str
    evidence: str


def _careful(instruction: str) -> bool:
    return bool(re.search(r"\b(carefully|step by step|precise|meticulous|double-check)\b", instruction, re.I))


def _noise_draw(request: Request, spec: Variant) -> float:
    return _stable_fraction("noise", _digest(request, spec))


def _digest(request: Request, spec: Variant) -> str:
    cfg = request.config
    key = "\x1e".join([spec.name, _raw_text(request), repr(cfg.temperature), repr(cfg.seed)])
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
    qnorm = _norm(query)
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
        if _norm(phrase) in qnorm:
            add(
                label,
                _RULE_WEIGHT + 0.2 * len(words(phrase)),
                f'the instruction says "{phrase}" means {label}',
            )

    demos = [d for d in prompt.demos if out.name in d[1]][-spec.max_demos :]
    if demos:
        docs = [_features(_input_text(ins, names), spec) for ins, _ in demos]
        qf = _features(query, spec)
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
            ((_cosine(qv, weigh(doc)), i) for i, doc in enumerate(docs)), key=lambda s: (-s[0], -s[1])
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

    for label, cues in _lexicon_hits(query, labels, spec).items():
        add(label, _LEXICON_WEIGHT * len(cues), f'"{cues[0]}" usually signals {label}')

    ranked = sorted(labels, key=lambda label: -scores[label])
    if scores[ranked[0]] <= 0:
        best = _prior(labels, demos, out.name, spec)
        reason = "nothing in the text points elsewhere"
        runner = next((label for label in labels if label != best), best)
    else:
        best, reason = ranked[0], why[ranked[0]][1]
        runner = ranked[1] if len(ranked) > 1 else best
    if draw < _noise_rate(prompt, spec):
        best, reason = runner, "it reads that way at a glance"
    return _Decision(best, reason.replace("{label}", best))


def _noise_rate(prompt: Prompt, spec: Variant) -> float:
    rate = spec.noise
    if _careful(prompt.instruction):
        rate *= 0.6
    if prompt.output("reasoning") is not None:
        rate *= 0.75
    return rate * (1 + max(0.0, prompt.temperature - 0.7))  # sampling hot makes slips likelier


def _prior(
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
        none_like = next((label for label in labels if label.lower() in _NONE_LIKE), None)
        if none_like:
            return none_like
    return labels[0]


def _free_answer(prompt: Prompt, out: FieldSpec, spec: Variant) -> _Decision:
    """A field with no label set: copy a near-identical demo, else extract from the inputs."""
    names = [f.name for f in prompt.inputs] or list(prompt.current)
    query = _input_text(prompt.current, names)
    demos = [d for d in prompt.demos if out.name in d[1]][-spec.max_demos :]
    qf = _features(query, spec)
    best = max(
        ((_cosine(dict(qf), dict(_features(_input_text(i, names), spec))), o) for i, o in demos),
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


def _answer(prompt: Prompt, spec: Variant, draw: float) -> dict[str, Any]:
    """Values for every output field of a task or optimizer prompt."""
    meta = _meta_answer(prompt, spec)
    if meta is not None:
        return meta
    values: dict[str, Any] = {}
    reasons: list[str] = []
    for out in prompt.outputs:
        if out.name == "reasoning":
            continue
        labels = _candidate_labels(prompt, out)
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


def _render(prompt: Prompt, values: dict[str, Any]) -> str:
    if prompt.json_mode:
        return json.dumps(
            {f.name: _typed(values.get(f.name, ""), f.type) for f in prompt.outputs}, ensure_ascii=False
        )
    chunks = []
    for f in prompt.outputs:
        value = values.get(f.name, "")
        chunks.append(f"[[ ## {f.name} ## ]]\n{value if isinstance(value, str) else json.dumps(value)}")
    return "\n\n".join(chunks) + "\n\n[[ ## completed ## ]]"


# --------------------------------------------------------------------------- mining cues from examples


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


def _ngrams(text: str, longest: int = 4) -> set[str]:
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


def _contains(longer: str, shorter: str) -> bool:
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
        units = _ngrams(text)
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
        if len(kept) < per_label and not any(_contains(k, unit) or _contains(unit, k) for k, _ in kept):
            kept.append((unit, count))
    return dict(chosen)


def _rules_text(cues: dict[str, list[tuple[str, int]]], with_counts: bool = False) -> str:
    items = []
    for label, grams in cues.items():
        for gram, count in grams:
            items.append(f'"{gram}" -> {label}' + (f" (x{count})" if with_counts else ""))
    return "; ".join(items)


_EXAMPLE_REPR = re.compile(r"Example\((\{.*?\})\)\s*\(input_keys=\{(.*?)\}\)", re.S)


def _examples_from_reprs(text: str) -> _Examples:
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


def _examples_from_prefixed(text: str, outputs_hint: Sequence[str]) -> _Examples:
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


def _field_names_from_instruction(text: str) -> tuple[list[str], list[str]]:
    """`Given the fields `a`, `b`, produce the fields `c`.` -> (["a", "b"], ["c"])."""
    m = re.search(r"Given the fields (.*?), produce the fields (.*?)\.", text, re.S)
    if not m:
        return [], []
    return re.findall(r"`(\w+)`", m.group(1)), re.findall(r"`(\w+)`", m.group(2))


# --------------------------------------------------------------------------- instruction writing

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
    rules = _rules_text(cues)
    if rules:
        lines.append(f"{_CUES_LEAD} {rules}.")
    if "concise" not in tip.lower() and not _careful(base):
        lines.append(f"Read {what} carefully and weigh every cue before {goal}.")
    return "\n".join(lines)


def _merge_cues(
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
            if len(kept) < per_label and not any(_contains(k, gram) or _contains(gram, k) for k, _ in kept):
                kept.append((gram, count))
        out[label] = kept
    return out


def _rules_as_cues(text: str, labels: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
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


def _base_instruction(text: str) -> str:
    """An instruction without the label list, cue list and closing advice we add, so they are not repeated."""
    keep = [
        line
        for line in text.splitlines()
        if not line.startswith(("Answer with exactly one of:", _CUES_LEAD))
        and not (line.startswith("Read ") and "carefully and weigh every cue" in line)
    ]
    return "\n".join(keep).strip()


# --------------------------------------------------------------------------- optimizer meta-prompts


def _meta_answer(prompt: Prompt, spec: Variant) -> dict[str, Any] | None:
    """Answer the prompts DSPy's optimizers send, recognised by their output fields."""
    outs = {f.name for f in prompt.outputs}
    cur = prompt.current
    if "observations" in outs and "examples" in cur:
        return {"observations": _observe(cur["examples"], cur.get("prior_observations", ""), spec)}
    if "summary" in outs and "observations" in cur:
        return {"summary": _summarise(cur["observations"], spec)}
    if "program_description" in outs:
        return {
            "program_description": _describe_program(
                cur.get("program_code", ""), cur.get("program_example", "")
            )
        }
    if "module_description" in outs:
        return {
            "module_description": f"The module {cur.get('module', 'shown')} performs the whole task in one step: "
            f"{cur.get('program_description', '')}".strip()
        }
    if "proposed_instruction" in outs:
        if "attempted_instructions" in cur:
            instruction, prefix = _improve_attempts(cur["attempted_instructions"], spec)
        else:
            instruction = _propose_instruction(cur, spec)
            prefix = _prefix_for(instruction, cur)
        values = {"proposed_instruction": instruction}
        if "proposed_prefix_for_output_field" in outs:
            values["proposed_prefix_for_output_field"] = prefix
        return values
    if "new_instruction" in outs and "examples_with_feedback" in cur:
        return {
            "new_instruction": _reflect(cur.get("current_instruction", ""), _feedback_examples(cur), spec)
        }
    if "shortened_instruction" in outs:
        return {"shortened_instruction": _shorten(cur.get("instruction", ""), cur.get("length_limit", ""))}
    if "module_advice" in outs:
        discussion, advice = _advise(cur, spec)
        return {"discussion": discussion, "module_advice": advice}
    return None


def _observe(examples_text: str, prior: str, spec: Variant) -> str:
    ex = _examples_from_reprs(examples_text)
    if not ex.pairs:
        return "COMPLETE" if prior else "The examples are short free-form texts."
    counts = Counter(label for _, label in ex.pairs)
    cues = mine_cues(ex.pairs, per_label=3 * spec.cues_per_label, min_count=3, single_clauses=True)
    rules = _rules_text(cues, with_counts=True)
    if prior:  # repeat sightings too: the summary trusts phrases seen in several batches
        if not rules:
            return "COMPLETE"
        return f" More cue phrases seen: {rules}."
    lengths = [len(words(text)) for text, _ in ex.pairs]
    tally = ", ".join(f"{label} {n}" for label, n in counts.most_common())
    text = (
        f"The examples pair {' and '.join(f'`{n}`' for n in ex.input_names)} with `{ex.output_name}`, "
        f"which takes one of: {', '.join(counts)}. Label counts: {tally}. "
        f"Inputs are short texts of about {round(sum(lengths) / len(lengths))} words. "
        f"The task looks like classifying each text by its `{ex.output_name}`."
    )
    return text + (f" Cue phrases seen: {rules}." if rules else "")


def _summarise(observations: str, spec: Variant) -> str:
    labels = labels_in(observations)
    seen = _rules_as_cues(observations, labels)
    repeated = any(n > 1 for grams in seen.values() for _, n in grams)
    cues = _merge_cues(seen, per_label=spec.cues_per_label * 2, min_total=2 if repeated else 1)
    first = re.split(r"(?<=\.)\s", observations.strip(), maxsplit=1)[0]
    out = first if first.endswith(".") else first + "."
    if labels and "one of" not in out:
        out += f" The label is one of: {', '.join(labels)}."
    rules = _rules_text({k: v for k, v in cues.items() if v}, with_counts=True)
    return out + (f" Cue phrases seen: {rules}." if rules else "")


def _describe_program(code: str, example: str) -> str:
    names = re.findall(r"^([A-Z][\w ]{0,40}):", example, re.M)
    if names:
        return (
            f"The program reads {names[0].lower()} and produces {names[-1].lower()} with a single language-model "
            "call that follows an instruction and a few examples."
        )
    return "The program maps its input fields to its output fields with a single language-model call."


def _propose_instruction(cur: dict[str, str], spec: Variant) -> str:
    """GroundedProposer (MIPROv2) and COPRO's first-round instruction proposals."""
    basic = cur.get("basic_instruction", "")
    inputs, outputs = _field_names_from_instruction(basic)
    described = cur.get("dataset_description", "") or ""
    demos = _examples_from_prefixed(cur.get("task_demos", ""), outputs)
    paired = re.search(r"pair (.*?) with `(\w+)`", described)
    if paired and not outputs:
        inputs, outputs = re.findall(r"`(\w+)`", paired.group(1)), [paired.group(2)]
    output = outputs[0] if outputs else demos.output_name
    labels = list(dict.fromkeys([*labels_in(basic), *labels_in(described), *demos.labels()]))
    summary_cues = _rules_as_cues(described, labels)
    demo_cues = mine_cues(demos.pairs, per_label=spec.cues_per_label) if len(demos.pairs) >= 6 else {}
    history = _rules_as_cues(_best_previous(cur.get("previous_instructions", "")), labels)
    tip = cur.get("tip", "")
    per_label = max(1, spec.cues_per_label // 2) if "concise" in tip.lower() else spec.cues_per_label
    cues = _merge_cues(_consistent(summary_cues, demos.pairs), demo_cues, history, per_label=per_label)
    return compose_instruction(
        _base_instruction(basic),
        inputs or demos.input_names,
        output,
        labels,
        {k: v for k, v in cues.items() if v},
        tip=tip,
    )


def _consistent(
    cues: dict[str, list[tuple[str, int]]], pairs: Sequence[tuple[str, str]]
) -> dict[str, list[tuple[str, int]]]:
    """Cues no shown example contradicts (the phrase appearing under another label)."""
    texts = [(_norm(text), label.lower()) for text, label in pairs]
    return {
        label: [
            (gram, n)
            for gram, n in grams
            if not any(f" {gram} " in t and lab != label.lower() for t, lab in texts)
        ]
        for label, grams in cues.items()
    }


def _best_previous(history: str) -> str:
    scored = re.findall(r"(.*?) \| Score: ([\d.]+)", history, re.S)
    return max(scored, key=lambda s: float(s[1]))[0] if scored else ""


_LIST_ITEM = re.compile(r"^\[\d+\] (?:«««\n(.*?)\n»»»|«(.*?)»)$", re.S | re.M)


def _list_items(text: str) -> list[str]:
    """Items of a list input as DSPy renders it: `[1] «short»` or `[2] «««` indented lines `»»»`."""
    items = [_dedent(long or short) for long, short in _LIST_ITEM.findall(text)]
    return items or [line for line in text.splitlines() if line.strip()]


def _improve_attempts(attempts: str, spec: Variant) -> tuple[str, str]:
    """COPRO depth > 1: keep the best-scoring instruction and prefix; merge the cues of the better half."""
    tried: dict[str, dict[str, str]] = defaultdict(dict)
    for item in _list_items(attempts):
        m = re.match(r"(Instruction|Prefix|Resulting Score) #(\d+): ?(.*)", item, re.S)
        if m:
            tried[m.group(2)][m.group(1)] = m.group(3).strip()
    scored = [
        t for t in tried.values() if "Instruction" in t and _float(t.get("Resulting Score")) is not None
    ]
    if not scored:
        return "Read the input carefully and answer precisely.", "Answer:"
    ranked = sorted(scored, key=lambda t: -(_float(t["Resulting Score"]) or 0.0))
    best = ranked[0]["Instruction"]
    labels = labels_in(best)
    better = ranked[: max(1, len(ranked) // 2)]
    cues = _merge_cues(
        *(_rules_as_cues(t["Instruction"], labels) for t in better), per_label=spec.cues_per_label
    )
    inputs, outputs = _field_names_from_instruction(best)
    base = _base_instruction(best)
    prefix = ranked[0].get("Prefix") or "Answer:"
    if _careful(best) and not any(cues.values()):
        return base + "\nBe precise: give only the answer.", prefix
    instruction = compose_instruction(
        base, inputs, outputs[0] if outputs else "", labels, {k: v for k, v in cues.items() if v}
    )
    return instruction, prefix


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _prefix_for(instruction: str, cur: dict[str, str]) -> str:
    _, outputs = _field_names_from_instruction(instruction + " " + cur.get("basic_instruction", ""))
    name = outputs[0] if outputs else "answer"
    return name.replace("_", " ").capitalize() + ":"


def _feedback_examples(cur: dict[str, str]) -> list[dict[str, Any]]:
    try:
        data = json.loads(cur["examples_with_feedback"])
    except ValueError:
        return []
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


_EXPECTED = re.compile(
    r"(?:expected|correct|gold|should (?:have been|be))[^'\"\n]*?['\"]([^'\"\n]+)['\"]", re.I
)


def _reflect(current: str, examples: Sequence[dict[str, Any]], spec: Variant) -> str:
    """GEPA: learn (input, right label) pairs from the feedback; keep the rules they do not contradict."""
    pairs: list[tuple[str, str]] = []
    missed: list[tuple[str, str]] = []
    input_names: list[str] = []
    output = ""
    for ex in examples:
        inputs = ex.get("Inputs") or {}
        outs = ex.get("Generated Outputs") or {}
        feedback = str(ex.get("Feedback", ""))
        if isinstance(inputs, dict):
            input_names = input_names or [str(k) for k in inputs]
            text = " ".join(str(v) for v in inputs.values())
        else:
            text = str(inputs)
        produced = {k: v for k, v in outs.items() if k != "reasoning"} if isinstance(outs, dict) else {}
        output = output or next(iter(produced), "")
        m = _EXPECTED.search(feedback)
        if m:
            pairs.append((text, m.group(1)))
            if str(next(iter(produced.values()), "")).strip().lower() != m.group(1).strip().lower():
                missed.append(pairs[-1])
        elif (
            produced
            and re.search(r"\bcorrect\b|score of 1(?:\.0)?\b", feedback, re.I)
            and "incorrect" not in feedback.lower()
        ):
            pairs.append((text, str(next(iter(produced.values())))))
    labels = list(dict.fromkeys([*labels_in(current), *(label for _, label in pairs)]))
    kept = _consistent(_rules_as_cues(current, labels), pairs)
    mined = _consistent(mine_cues(missed or pairs, per_label=spec.cues_per_label, single_clauses=True), pairs)
    cues = _merge_cues(kept, mined, per_label=2 * spec.cues_per_label)
    inputs, outputs = _field_names_from_instruction(current)
    return compose_instruction(
        _base_instruction(current),
        inputs or input_names,
        outputs[0] if outputs else output,
        labels,
        {k: v for k, v in cues.items() if v},
    )


def _shorten(instruction: str, limit_text: str) -> str:
    m = re.search(r"(\d+)", limit_text)
    limit = int(m.group(1)) if m else len(instruction)
    lines = instruction.splitlines()
    while len("\n".join(lines)) > limit and len(lines) > 1:
        lines.pop()
    return "\n".join(lines)[:limit]


def _advise(cur: dict[str, str], spec: Variant) -> tuple[str, dict[str, str]]:
    """SIMBA: contrast the worse and better trajectories; advise a rule about this input."""

    def load(key: str) -> Any:
        try:
            return json.loads(cur.get(key, "") or "null")
        except ValueError:
            return cur.get(key)

    inputs = load("program_inputs") or {}
    gold = load("oracle_metadata") or {}
    modules = load("module_names") or ["module"]
    worse = load("worse_program_outputs") or {}
    text = " ".join(str(v) for v in inputs.values()) if isinstance(inputs, dict) else str(inputs)
    target = next((str(v) for k, v in gold.items() if k != "reasoning"), "") if isinstance(gold, dict) else ""
    wrong = (
        next((str(v) for k, v in worse.items() if k != "reasoning"), "") if isinstance(worse, dict) else ""
    )
    grams = sorted(_ngrams(text, longest=3), key=lambda g: (-len(g.split()), g))
    cue = next((g for g in grams if len(g.split()) >= 2), grams[0] if grams else "")
    if target and cue:
        rule = f'If the input contains "{cue}", then it should answer {target}'
        rule += f", not {wrong}." if wrong and wrong != target else "."
    else:
        rule = "If the input is ambiguous, then it should re-read it carefully before answering."
    discussion = (
        f"The worse trajectory answered {wrong or 'something else'} where {target or 'another answer'} "
        "was expected; the better one followed the cue in the input."
    )
    names = [str(n) for n in modules] if isinstance(modules, list) else [str(modules)]
    return discussion, {name: rule for name in names}


# --------------------------------------------------------------------------- raw (non-DSPy) prompts


def _answer_raw(text: str, spec: Variant) -> str:
    """GEPA's own ```-block reflection prompt, or a plain reply to anything else."""
    blocks = re.findall(r"```\n?(.*?)```", text, re.S)
    if "new instruction" in text.lower() and blocks:
        current = blocks[0].strip()
        examples = []
        for chunk in re.split(r"^# Example \d+\s*$", blocks[1] if len(blocks) > 1 else "", flags=re.M)[1:]:
            parts = dict(re.findall(r"^## ([^\n]+)\n(.*?)(?=^## |\Z)", chunk, re.S | re.M))
            inputs = dict(
                re.findall(r"^### ([^\n]+)\n(.*?)(?=^### |\Z)", parts.get("Inputs", ""), re.S | re.M)
            )
            outs = dict(
                re.findall(
                    r"^### ([^\n]+)\n(.*?)(?=^### |\Z)", parts.get("Generated Outputs", ""), re.S | re.M
                )
            )
            examples.append(
                {
                    "Inputs": {k: v.strip() for k, v in inputs.items()},
                    "Generated Outputs": {k: v.strip() for k, v in outs.items()},
                    "Feedback": parts.get("Feedback", "").strip(),
                }
            )
        return "```\n" + _reflect(current, examples, spec) + "\n```"
    first = " ".join(text.split()[:40])
    return f"(offline/{spec.name}) I read: {first}"
