"""What a `run` process spends before its first call: `run` and `resume` (and the app) keep the collector off
while a session is prepared and freeze what that made for the session (cli/main.py `_start_up_gc`),
leaving the collector as they found it; modules a session does not use are not imported."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import pytest

from reliability.support import cli_in_process

SMALL = ["--task", "demo:intent", "--models", "offline/small", "--rounds", "1", "--headless", "--json"]


def test_a_run_freezes_its_start_up_for_the_session_and_leaves_the_collector_as_it_was(
    dspy_tui_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def run_headless(service: Any, session: Any, *, json_lines: bool) -> int:
        seen.update(enabled=gc.isenabled(), frozen=gc.get_freeze_count())
        service.abandon(session)
        return 0

    monkeypatch.setattr("dspy_tui.cli.headless.run_headless", run_headless)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    out = cli_in_process("run", *SMALL, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert seen["enabled"] and seen["frozen"] > 10_000  # DSPy, pydantic, our modules: frozen, collector on
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_run_that_fails_to_start_leaves_the_collector_on(dspy_tui_home: Path) -> None:
    out = cli_in_process("run", "--task", "demo:intent", "--models", "nope/model", env=dict(os.environ))
    assert out.returncode == 2, out.stderr
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_process_that_froze_its_heap_or_turned_the_collector_off_keeps_it_so(
    dspy_tui_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "dspy_tui.cli.headless.run_headless", lambda service, session, **_: service.abandon(session) or 0
    )
    gc.freeze()
    frozen = gc.get_freeze_count()
    gc.disable()
    try:
        out = cli_in_process("run", *SMALL, env=dict(os.environ))
        assert out.returncode == 0, out.stderr
        assert not gc.isenabled()
        assert gc.get_freeze_count() > frozen // 2  # still frozen (frozen objects that die leave the count)
    finally:
        gc.enable()


def test_a_session_without_offline_models_does_not_import_the_offline_model() -> None:
    """The simulated model's package takes 0.02 s to import; the run path loads it only for offline models."""
    import subprocess
    import sys

    probe = (
        "import sys; import dspy_tui.cli.headless, dspy_tui.engine.lm, dspy_tui.engine.call_path; "
        "print(sorted(m for m in sys.modules if m.startswith('dspy_tui.engine.providers.offline')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr


def test_the_app_runs_with_its_start_up_frozen_and_leaves_the_collector_as_it_was(
    dspy_tui_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dspy-tui` alone: Textual's import and the app's construction ran with the collector off (it
    walked them some 90 times before the first frame), frozen once the app runs, collector on."""
    seen: dict[str, Any] = {}

    def run(app: Any) -> None:
        seen.update(enabled=gc.isenabled(), frozen=gc.get_freeze_count())

    monkeypatch.setattr("dspy_tui.tui.app.DspyTuiApp.run", run)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    out = cli_in_process(env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert seen["enabled"] and seen["frozen"] > 10_000  # Textual and our modules: frozen, collector on
    assert gc.isenabled() and gc.get_freeze_count() == 0
