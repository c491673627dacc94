"""Tokens per call, measured on prompts rendered by DSPy's ChatAdapter from the task itself.

A call's input is the program's system and user messages for an example (and, for an
optimized program, its demos); its output is the answer in the adapter's field format.
Both are rendered for a few real examples and counted at `CHARS_PER_TOKEN` (the usual
English rate of the BPE tokenizers; budget reservations use a byte bound, not this).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHARS_PER_TOKEN = 4
SAMPLE = 5  # examples rendered per estimate: enough for an average, cheap enough for a form
# A chain of thought's reasoning before the answer: a prior, not a measurement (min, expected).
REASONING_TOKENS = (10, 60)
# MIPRO, COPRO, SIMBA and GEPA ask the model for instructions and rules: their prompts carry the
# program's own prompt (and data) plus DSPy's proposal template; their answers are a paragraph.
PROPOSER_OVERHEAD_TOKENS = 350
PROPOSAL_TOKENS = 120


@dataclass(frozen=True)
class CallTokens:
    """Average tokens of one call of the task's program."""

    prompt: float  # input of the unoptimized program
    demo: float  # what one demo adds to the input
    answer: float  # output of an answer (reasoning excluded)
    reasoning: tuple[float, float]  # (min, expected) reasoning tokens, 0 for Predict
    judge_prompt: float = 0.0  # input of one llm_judge rating
    judge_answer: float = 0.0

    def input(self, demos: float) -> float:
        return self.prompt + demos * self.demo

    def proposal_input(self, demos: float) -> float:
        return self.input(demos) + PROPOSER_OVERHEAD_TOKENS


def _chars(messages: list[dict[str, Any]]) -> int:
    return sum(len(str(m.get("content", ""))) for m in messages)


def measure(task: Any, judge: Any = None) -> CallTokens:
    """Render the task's first predictor for a few examples, with and without demos; `judge`: the
    llm_judge's `JudgeSpec`, whose ratings are rendered too."""
    import dspy

    from ..tasks import build_program

    adapter = dspy.ChatAdapter()
    predictors = build_program(task).predictors()
    examples = (task.dev or task.train or task.test)[:SAMPLE]
    if not predictors or not examples:
        return CallTokens(40.0, 20.0, 8.0, (0.0, 0.0))
    signature = predictors[0].signature
    outputs = list(signature.output_fields)
    shots = list(task.train[:SAMPLE])
    prompt = demo = answer = 0.0
    for example in examples:
        inputs = {k: example[k] for k in example.inputs().keys()}
        bare = _chars(adapter.format(signature, [], inputs))
        prompt += bare
        if shots:
            demo += (_chars(adapter.format(signature, shots, inputs)) - bare) / len(shots)
        labels = {k: example.get(k, "") for k in outputs if k != "reasoning"}
        answer += len(adapter.format_assistant_message_content(signature, labels, missing_field_message=""))
    n = len(examples)
    reasoning = REASONING_TOKENS if "reasoning" in outputs else (0.0, 0.0)
    judge_prompt, judge_answer = _judge_tokens(judge, examples, outputs, answer / n)
    return CallTokens(
        prompt / n / CHARS_PER_TOKEN,
        demo / n / CHARS_PER_TOKEN,
        max(1.0, answer / n / CHARS_PER_TOKEN),
        reasoning,
        judge_prompt,
        judge_answer,
    )


def _judge_tokens(
    judge: Any, examples: list[Any], outputs: list[str], answer_chars: float
) -> tuple[float, float]:
    """An llm_judge rating rendered as the session asks it (engine/session.py `_judge_fn`)."""
    import json

    import dspy

    if judge is None:
        return 0.0, 0.0
    signature = dspy.Predict("rubric, task_inputs, expected, response -> score: float").signature
    adapter, field = dspy.ChatAdapter(), next((o for o in outputs if o != "reasoning"), "answer")
    chars = 0
    for example in examples:
        inputs = {
            "rubric": judge.rubric,
            "task_inputs": json.dumps({k: example[k] for k in example.inputs().keys()}, default=str),
            "expected": str(example.get(field, "")),
            "response": "x" * int(answer_chars / 2),
        }
        chars += _chars(adapter.format(signature, [], inputs))
    score = adapter.format_assistant_message_content(signature, {"score": 1.0}, missing_field_message="")
    return chars / len(examples) / CHARS_PER_TOKEN, len(score) / CHARS_PER_TOKEN
