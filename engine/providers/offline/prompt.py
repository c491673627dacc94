"""Reading a DSPy Chat/JSON adapter prompt back into fields, demos and current inputs."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dspy.lm15 import Request, TextPart


def count_tokens(text: str) -> int:
    """Approximate tokens: one per 4 characters, rounded up (0 for empty text)."""
    return math.ceil(len(text) / 4)


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


def raw_text(request: Request) -> str:
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
    instruction = dedent(objective[1]) if len(objective) > 1 else ""
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


def dedent(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines()]
    return "\n".join(lines).strip()


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
