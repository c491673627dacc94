"""DSPy parses signature strings with `ast.parse`, which CPython 3.11 cannot run on two threads at
once ("AST constructor recursion depth mismatch" killed a CI worker). The session parses every
signature string on the thread that builds it, never on the per-model threads."""

from __future__ import annotations

import ast
import threading
from typing import Any

from dspy_tui.engine.config import parse_config

from reliability.support import session_in_home


def test_a_judged_session_parses_no_signature_string_on_a_model_thread(monkeypatch: Any) -> None:
    parsed_on: list[str] = []
    real_parse = ast.parse

    def recording_parse(source: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(source, str) and source.startswith("def f("):  # DSPy's signature field parser
            parsed_on.append(threading.current_thread().name)
        return real_parse(source, *args, **kwargs)

    config = parse_config(
        {
            "name": "judged offline",
            "optimizer": "bootstrap",
            "rounds": 1,
            "task": {
                "dataset": "demo:sentiment",
                "max_train": 6,
                "max_dev": 4,
                "max_test": 4,
                "judge": {"model": "offline/base", "rubric": "Score 1 if the label is right, else 0."},
            },
            "models": [{"id": "offline/small"}, {"id": "offline/large"}],
        }
    )
    session = session_in_home(config)
    monkeypatch.setattr(ast, "parse", recording_parse)
    session.prepare()
    assert session.run() == "completed"
    assert parsed_on, "the judge's signatures were never parsed: the test no longer sees DSPy's parser"
    assert set(parsed_on) == {threading.current_thread().name}, parsed_on
