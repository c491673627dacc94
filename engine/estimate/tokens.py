"""Tokens per call, measured on prompts rendered by DSPy's ChatAdapter from the task itself.

A call's input is the program's system and user messages for an example (and, for an
optimized program, its demos); its output is the answer in the adapter's field format.
Both are rendered for a few real examples and counted at `CHARS_PER_TOKEN` (the usual
English rate of the BPE tokenizers; budget reservations use a byte bound, not this).

What a model writes (a chain of thought's reasoning above all) is the model's own: an offline
model is asked, on the same rendered prompts (it is a pure function, ~0.5 ms a call); a hosted
model's figure is its recorded answers to this task's unoptimized program, when this machine has
any (`recorded`, from storage), else the reasoning prior.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CHARS_PER_TOKEN = 4
SAMPLE = 5  # examples rendered per estimate: enough for an average, cheap enough for a form
# A chain of thought's reasoning before the answer, for a hosted model never run on the task: a prior,
# not a measurement (min, expected). The offline models write 14-17 tokens on the demo tasks.
REASONING_TOKENS = (10, 60)


@dataclass(frozen=True)
class CallTokens:
    """Average tokens of one call of the task's program."""

    prompt: float  # input of the unoptimized program
    demo: float  # what one demo adds to the input
    answer: float  # output of an answer (reasoning excluded)
    reasoning: tuple[float, float]  # (min, expected) reasoning tokens, 0 for Predict
    judge_prompt: float = 0.0  # input of one llm_judge rating
    judge_answer: float = 0.0
    written: Mapping[str, float] = field(default_factory=dict)  # measured output per model id

    def output(self, model: str) -> tuple[float, float]:
        """(min, expected) output tokens of one answer by `model`: measured, else the prior."""
        low, mid = self.answer + self.reasoning[0], self.answer + self.reasoning[1]
        if model in self.written:
            return min(low, self.written[model]), self.written[model]
        return low, mid

    def input(self, demos: float) -> float:
        return self.prompt + demos * self.demo


def _chars(messages: list[dict[str, Any]]) -> int:
    return sum(len(str(m.get("content", ""))) for m in messages)


def measure(
    task: Any, judge: Any = None, models: Sequence[str] = (), recorded: Mapping[str, float] | None = None
) -> CallTokens:
    """Render the task's first predictor for a few examples, with and without demos; `judge`: the
    llm_judge's `JudgeSpec`, whose ratings are rendered too; `models`: whose answers to measure
    (offline ones are asked, others taken from `recorded`: model id -> mean output tokens)."""
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
    offline = [m for m in models if m.startswith("offline/")]
    written = dict.fromkeys(offline, 0.0)
    for example in examples:
        inputs = {k: example[k] for k in example.inputs().keys()}
        messages = adapter.format(signature, [], inputs)
        bare = _chars(messages)
        for m in offline:
            written[m] += _offline_output(m, messages) / len(examples)
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
        {m: t for m, t in (recorded or {}).items() if m in models} | written,
    )


def _offline_output(model: str, messages: list[dict[str, Any]]) -> int:
    """The output tokens the offline model `model` bills for this prompt."""
    from dspy.lm15 import Message, Request

    from ..providers import offline

    system = "\n".join(str(m["content"]) for m in messages if m["role"] == "system")
    turns = tuple(
        Message.user(str(m["content"])) if m["role"] == "user" else Message.assistant(str(m["content"]))
        for m in messages
        if m["role"] != "system"
    )
    variant = model.partition("/")[2]
    reply = offline.complete(Request(model=model, messages=turns, system=system or None), variant)
    return reply.usage.output_tokens if reply.usage else 0


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
