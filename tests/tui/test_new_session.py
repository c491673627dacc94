"""The new-session form: defaults, inline validation, estimate, save and load, user errors on start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Select, Static
from tui_support import fixed_clock, wait_for

from dspy_tui.engine.config import load_config
from dspy_tui.storage.paths import Paths
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens.home import HomeScreen
from dspy_tui.tui.screens.new_session import FILE_TASK, NewSessionScreen


async def open_form(pilot: Pilot[Any]) -> NewSessionScreen:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, NewSessionScreen))
    screen = app.screen
    assert isinstance(screen, NewSessionScreen)
    await wait_for(pilot, lambda: screen.estimates is not None, timeout=60, what="the first estimate")
    return screen


def message(screen: NewSessionScreen, selector: str) -> str:
    widget = screen.query_one(selector, Static)
    return str(widget.render()) if widget.display else ""


async def test_defaults_estimate_and_live_updates(paths: Paths) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)
        config = screen.build_config()
        assert config.task.dataset == "demo:sentiment"
        assert config.model_ids() == ["offline/small", "offline/base", "offline/large"]
        assert [e.model for e in screen.estimates or []] == config.model_ids()
        first = screen.estimates
        rounds = screen.query_one("#rounds", Input)
        rounds.value = "2"
        await wait_for(pilot, lambda: screen.estimates is not first, what="a new estimate")
        assert screen.estimates is not None
        assert screen.estimates[0].calls.max < first[0].calls.max  # fewer rounds, fewer calls
        rounds.value = "99"
        await wait_for(pilot, lambda: "rounds" in message(screen, "#config-msg"), what="the rounds message")
        rounds.value = "1"
        await wait_for(pilot, lambda: not message(screen, "#config-msg"))


async def test_file_task_is_validated_as_typed(paths: Paths, tmp_path: Path) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)
        screen.query_one("#task", Select).value = FILE_TASK
        signature = screen.query_one("#signature", Input)
        signature.value = "question answer"
        await wait_for(pilot, lambda: "inputs -> outputs" in message(screen, "#task-msg"))
        signature.value = "question -> answer"
        screen.query_one("#dataset", Input).value = str(tmp_path / "missing.jsonl")
        await wait_for(pilot, lambda: "missing.jsonl" in message(screen, "#task-msg"), what="the dataset message")
        data = tmp_path / "qa.jsonl"
        data.write_text("".join(f'{{"question": "q{i}", "answer": "a{i}"}}\n' for i in range(40)))
        screen.query_one("#dataset", Input).value = str(data)
        await wait_for(pilot, lambda: not message(screen, "#task-msg") and screen.estimates is not None,
                       timeout=30, what="the file task to load")


async def test_user_error_on_start_is_one_sentence(paths: Paths, tmp_path: Path) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)
        screen.query_one("#add-model", Input).value = "openai/gpt-4o-mini"
        screen.query_one("#add-model", Input).focus()
        await pilot.press("enter")
        assert "openai/gpt-4o-mini" in screen.selected_models()
        await pilot.press("f5")
        await wait_for(pilot, lambda: any("openai" in n.message.lower() or "key" in n.message.lower()
                                          for n in app._notifications), timeout=60, what="the refusal")
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert errors and all("Traceback" not in m and "\n" not in m for m in errors), errors
        assert isinstance(app.screen, NewSessionScreen)  # nothing lost: the form is still there
        assert app.runner is None


async def test_save_and_load_a_config(paths: Paths, tmp_path: Path) -> None:
    target = tmp_path / "mine.toml"
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)
        screen.query_one("#name", Input).value = "nightly"
        screen.query_one("#rounds", Input).value = "3"
        screen.query_one("#budget", Input).value = "0.5"
        screen.query_one("#config-path", Input).value = str(target)
        await pilot.press("ctrl+s")
        await wait_for(pilot, target.exists, what="the saved file")
        saved = load_config(target)
        assert (saved.name, saved.rounds, saved.budget_usd) == ("nightly", 3, 0.5)
        screen.query_one("#name", Input).value = "changed"
        screen.query_one("#rounds", Input).value = "7"
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: screen.query_one("#name", Input).value == "nightly", what="the load")
        assert screen.query_one("#rounds", Input).value == "3"
        assert screen.build_config().budget_usd == 0.5
