"""What each wire calls DSPy's token counts and finish reasons, side by side.

A column a wire, so adding a wire or a counter shows what the others call it; `-` where a wire
has no such field. `_http.usage` and `_http.finish` read a response with these maps. Notes:
Anthropic's cache counters are disjoint from its input_tokens, and it sends no total; Gemini
counts thinking tokens apart from candidatesTokenCount; a dotted name is a nested key.
"""

from __future__ import annotations

from typing import cast, get_args

from dspy.lm15 import FinishReason

WIRES = ("openai", "anthropic", "gemini")

USAGE = """
# Usage field      | openai                                     | anthropic                   | gemini
input_tokens       | prompt_tokens                              | input_tokens                | promptTokenCount
output_tokens      | completion_tokens                          | output_tokens               | candidatesTokenCount
total_tokens       | total_tokens                               | -                           | totalTokenCount
cache_read_tokens  | prompt_tokens_details.cached_tokens        | cache_read_input_tokens     | cachedContentTokenCount
cache_write_tokens | prompt_tokens_details.cache_write_tokens   | cache_creation_input_tokens | -
reasoning_tokens   | completion_tokens_details.reasoning_tokens | -                           | thoughtsTokenCount
"""

# The wire's stop reasons for each DSPy finish reason (any other, or none, reads as stop)
FINISH = """
# finish reason | openai                   | anthropic                                | gemini
stop            | stop                     | end_turn stop_sequence                   | STOP
length          | length                   | max_tokens model_context_window_exceeded | MAX_TOKENS
tool_call       | tool_calls function_call | tool_use                                 | -
content_filter  | content_filter           | refusal                                  | SAFETY RECITATION LANGUAGE BLOCKLIST PROHIBITED_CONTENT SPII
"""


def usage_fields(wire: str) -> dict[str, str]:
    """DSPy Usage field -> `wire`'s usage key for it."""
    return {field: names[0] for field, names in _column(USAGE, wire).items() if names}


def finish_reasons(wire: str) -> dict[str, FinishReason]:
    """`wire`'s stop reason -> DSPy's finish reason."""
    known = get_args(FinishReason)
    table: dict[str, FinishReason] = {}
    for reason, names in _column(FINISH, wire).items():
        if reason not in known:
            raise ValueError(f"{reason!r} is not a DSPy finish reason ({', '.join(known)})")
        table.update(dict.fromkeys(names, cast(FinishReason, reason)))
    return table


def _column(table: str, wire: str) -> dict[str, list[str]]:
    """The first cell of each row -> the names in `wire`'s column (none for `-`)."""
    at = WIRES.index(wire) + 1
    column = {}
    for line in table.strip().splitlines():
        if not line.startswith("#"):
            cells = [cell.strip() for cell in line.split("|")]
            if len(cells) != len(WIRES) + 1:
                raise ValueError(f"row {line!r}: want a first cell then one a wire ({', '.join(WIRES)})")
            column[cells[0]] = [] if cells[at] == "-" else cells[at].split()
    return column
