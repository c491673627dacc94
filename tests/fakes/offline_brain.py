"""The offline model behind HTTP: a fake provider whose answers learn from the prompt.

With it, a session against the fake server behaves like one against a real
model (scores rise with good demos), while every request is real HTTP, priced
and countable on the server side.
"""

from __future__ import annotations

from collections.abc import Callable

from dspy.lm15 import Message, Request

from dspy_tui.engine.providers import offline


def offline_brain(variant: str = "base") -> Callable[[str | None, list[tuple[str, str]]], str]:
    def reply(system: str | None, turns: list[tuple[str, str]]) -> str:
        messages = tuple(Message.user(t) if role == "user" else Message.assistant(t) for role, t in turns)
        request = Request(model=f"offline/{variant}", messages=messages, system=system)
        return offline.complete(request, variant).text or ""

    return reply
