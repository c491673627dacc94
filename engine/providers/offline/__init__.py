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

from dspy.lm15 import Message, Request, Response, TextPart, Usage

from .answer import answer_prompt, digest, noise_draw, render
from .cues import mine_cues
from .instructions import compose_instruction
from .labels import labels_in, parse_rules
from .meta import answer_raw
from .prompt import count_tokens, parse_prompt, raw_text
from .text import words
from .variants import VARIANTS, Variant, get_variant


def complete(request: Request, variant: str, sample: int = 0) -> Response:
    """Answer one request as the offline model `variant` would. Pure and deterministic.

    `sample` is the number of an identical request sent again at temperature > 0 (0 for the first):
    the answer is sampled afresh, as a real model's would be.
    """
    spec = get_variant(variant)
    prompt = parse_prompt(request)
    if prompt is None:
        text = answer_raw(raw_text(request), spec)
    else:
        values = answer_prompt(prompt, spec, noise_draw(request, spec, sample))
        text = render(prompt, values)
    finish = "stop"
    in_tokens = count_tokens(raw_text(request))
    out_tokens = count_tokens(text)
    limit = request.config.max_tokens
    if limit is not None and out_tokens > limit:
        text, out_tokens, finish = text[: limit * 4], limit, "length"
    return Response(
        id=f"offline-{digest(request, spec)[:16]}",
        model=f"offline/{spec.name}",
        message=Message.assistant((TextPart(text),)),
        finish_reason=finish,
        usage=Usage(input_tokens=in_tokens, output_tokens=out_tokens),
    )


def simulated_latency_s(variant: str, request: Request) -> float:
    """How long a call "takes": fixed part + per prompt token, with a +-20% deterministic jitter."""
    spec = get_variant(variant)
    base = spec.latency_s + spec.latency_per_1k_tokens_s * count_tokens(raw_text(request)) / 1000
    jitter = 0.8 + 0.4 * int(digest(request, spec)[16:24], 16) / 0xFFFFFFFF
    return base * jitter


__all__ = [
    "VARIANTS",
    "Variant",
    "complete",
    "compose_instruction",
    "count_tokens",
    "get_variant",
    "labels_in",
    "mine_cues",
    "parse_prompt",
    "parse_rules",
    "raw_text",
    "simulated_latency_s",
    "words",
]
