"""The offline model as a judge: simulated ratings of an answer, so judged sessions run without a key.

Two prompts are recognised by their fields, both with a `score` output:

* the `llm_judge` task metric (`rubric, task_inputs, expected, response`):
  1 when the response equals the expected answer (case and punctuation aside),
  else the word-overlap F1 between the two;
* the quality aspects (`aspect, task_inputs, response`): coherence is the share
  of distinct words in the response (repetition reads as incoherent), relevance
  is 1 for a short answer (a label) and otherwise the share of its content words
  found in the inputs, creativity is the share of its word pairs not copied from
  the inputs (0 for one word).

These are simple, deterministic text statistics, not a language model's opinion:
every report labels offline judge scores as simulated.
"""

from __future__ import annotations

from dspy_tui.engine.word_overlap import overlap_f1

from .text import STOPWORDS, words


def judge_score(current: dict[str, str]) -> float | None:
    """A score in [0, 1] for a judge prompt's inputs, or None when they are not a judge prompt."""
    if "response" not in current:
        return None
    response = words(current["response"])
    if "expected" in current:
        return overlap_f1(response, words(current["expected"]))
    aspect = current.get("aspect", "").lower()
    inputs = words(current.get("task_inputs", ""))
    if not response:
        return 0.0
    if "coheren" in aspect or "consistent" in aspect or "well-formed" in aspect:
        return len(set(response)) / len(response)
    if "relevan" in aspect or "address" in aspect:
        content = [w for w in response if w not in STOPWORDS]
        if len(response) <= 3 or not content:
            return 1.0
        seen = set(inputs)
        return sum(w in seen for w in content) / len(content)
    if "creativ" in aspect or "original" in aspect:
        pairs = list(zip(response, response[1:], strict=False))
        if not pairs:
            return 0.0
        copied = set(zip(inputs, inputs[1:], strict=False))
        return sum(p not in copied for p in pairs) / len(pairs)
    return None
