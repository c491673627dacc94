"""The app shell: first launch, the home list, theme memory, resizing, the mouse, start-up imports."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable
from tui_support import MODELS, answer, fixed_clock, home_lists, insert_sessions, scripted, wait_for

from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.commands import APP_COMMANDS, ScreenCommands
from dspy_tui.tui.screens.detail import DetailScreen
from dspy_tui.tui.screens.home import HomeScreen
from dspy_tui.tui.screens.keys import KeysScreen
from dspy_tui.tui.screens.modals import HelpScreen
from dspy_tui.tui.screens.settings import SettingsScreen
from dspy_tui.tui.settings import load_settings
from dspy_tui.tui.widgets.key_footer import ToggleKey


async def test_first_launch_shows_the_empty_state(paths: Paths) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(
            pilot, lambda: isinstance(app.screen, HomeScreen) and app.screen.query_one("#empty").display
        )
        home = app.screen
        assert not home.query_one("#sessions").display
        assert "n" in str(home.query_one("#empty").render()) and "F5" in str(
            home.query_one("#empty").render()
        )
        await pilot.press("r")  # nothing to resume: the footer does not offer it, and it does nothing
        await pilot.pause()
        assert len(app._notifications) == 0
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, KeysScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)


async def test_home_lists_sessions_newest_first_and_clicks_open_them(
    paths: Paths, store: SessionStore
) -> None:
    ids = insert_sessions(store)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 3)
        table = app.screen.query_one("#sessions", DataTable)
        assert [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(3)] == ids[::-1]
        assert str(table.get_cell(ids[0], "status")) == "completed"
        await pilot.press("r")  # the newest failed; resuming it needs an OpenAI key this machine lacks
        await wait_for(pilot, lambda: not app.preparing, timeout=60)

        def errors() -> list[str]:  # notify() posts a message: the toast lands after preparing ends
            return [n.message for n in app._notifications if n.severity == "error"]

        await wait_for(pilot, lambda: bool(errors()), what="the refusal")
        refusals = errors()
        assert len(refusals) == 1 and "OPENAI_API_KEY" in refusals[0], refusals
        assert isinstance(app.screen, HomeScreen) and app.runner is None
        # the mouse: a click on the oldest row selects it, a second click opens it
        await pilot.click(DataTable, offset=(2, 3))
        await pilot.click(DataTable, offset=(2, 3))
        await wait_for(
            pilot, lambda: isinstance(app.screen, DetailScreen), timeout=30, what="the session view"
        )
        assert app.screen.session_id == ids[0]


async def test_a_session_marked_running_elsewhere_asks_before_resuming(
    paths: Paths, store: SessionStore
) -> None:
    sid = store.create_session(
        name="cut off",
        config={"task": {"dataset": "demo:sentiment"}, "models": MODELS},
        models=[(m, m.split("/")[0]) for m in MODELS],
    )
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen) and app.screen.selected_id() == sid)
        await answer(pilot, "r", "n")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        assert not app.preparing


async def test_theme_choice_is_remembered(paths: Paths) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = "nord"
        await wait_for(
            pilot, lambda: load_settings(paths.settings_path).theme == "nord", what="the settings file"
        )
    again = DspyTuiApp(paths, clock=fixed_clock)
    async with again.run_test(size=(80, 24)):
        assert again.theme == "nord"


async def test_resizing_a_running_session_never_crashes(paths: Paths, store: SessionStore) -> None:
    session = scripted(store, paths, 3, finished=True, delay=0.005)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        for size in ((80, 24), (200, 60), (40, 12), (20, 8), (100, 30), (80, 24), (120, 40)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.15)
            assert app.is_running
        await wait_for(pilot, lambda: app.runner is not None and app.runner.done.is_set())


async def test_start_up_builds_home_once_as_the_first_screen(
    paths: Paths, store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16: home is the first screen, not pushed over Textual's blank default one (composed, laid
    out and suspended before home's first frame), and its footer keys are built once: they were built
    before the list took the focus, whose own enter put Open first, and all ten were built again."""
    built: list[str] = []
    build = ToggleKey.__init__

    def counted(self: ToggleKey, *args: Any, **kwargs: Any) -> None:
        built.append(args[0])
        build(self, *args, **kwargs)

    monkeypatch.setattr(ToggleKey, "__init__", counted)
    insert_sessions(store)  # an empty list shows fewer keys once read; these stay
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await home_lists(pilot, 3)
        shown = [key.key for key in app.screen.query(ToggleKey)]
        assert shown[:2] == ["enter", "n"] and built == shown
        assert app.screen_stack == [app.screen]


async def test_home_from_two_screens_deep_and_the_palette_offers_home_only_away_from_it(paths: Paths) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))

        def palette_titles() -> list[str]:
            return [title for title, _, _ in ScreenCommands(app.screen)._commands()]

        assert APP_COMMANDS["app.home"][0] not in palette_titles()
        app.action_keys()
        await wait_for(pilot, lambda: isinstance(app.screen, KeysScreen))
        assert APP_COMMANDS["app.home"][0] in palette_titles()
        app.action_settings()
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsScreen))
        app.action_home()
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="home")
        assert app.screen_stack == [app.screen]


async def test_no_young_garbage_collection_walks_more_than_40000_objects(paths: Paths) -> None:
    """A collection of the young generations walks every object allocated since the last one and
    stops the UI meanwhile: (20_000, 20, 20) let it walk 400,000, a 200-500 ms stall every few
    screen opens (benchmarks/screen_latency.py's worst runs)."""
    walked: list[int] = []

    def young(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 1:
            walked.append(len(gc.get_objects(generation=0)) + len(gc.get_objects(generation=1)))

    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test():
        gc.callbacks.append(young)
        try:
            kept = [[i] for i in range(500_000)]  # alive for a while, as a screen's widgets are
        finally:
            gc.callbacks.remove(young)
    assert len(kept) == 500_000
    assert walked and max(walked) <= 40_000, walked


def test_start_up_imports_neither_dspy_nor_the_toml_parser(tmp_path: Path) -> None:
    """The app built on a first launch (no settings file yet) has not imported DSPy, nor tomllib
    (5 ms of regexes compiled at its import); with a settings file it reads it (test_theme_choice_is_remembered)."""
    code = (
        "import sys; from dspy_tui.tui.app import DspyTuiApp; import dspy_tui.tui.screens.home; DspyTuiApp(); "
        "print(sorted(m for m in ('dspy', 'tomllib') if m in sys.modules))"
    )
    env = {**os.environ, "DSPY_TUI_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"


def test_no_arguments_open_the_app_without_building_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """`dspy-tui` alone is the app with the command line the parser reads, without building the
    parser's sixteen commands (3.5 ms of every app start)."""
    from dspy_tui.cli import main as cli

    expected = cli.build_parser().parse_args([])
    opened: list[object] = []

    def no_parser() -> None:
        raise AssertionError("the parser was built")

    monkeypatch.setattr(cli, "build_parser", no_parser)
    monkeypatch.setattr(cli, "cmd_app", lambda args: opened.append(args) or 0)
    assert cli.main([]) == 0 and opened == [expected]


async def test_keys_can_be_remapped_by_binding_id(paths: Paths) -> None:
    from dspy_tui.tui.screens.new_session import NewSessionScreen
    from dspy_tui.tui.settings import Settings, save_settings

    save_settings(paths.settings_path, Settings(keymap={"home.new": "a"}))
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, NewSessionScreen), what="the remapped key")


def test_tests_run_without_animation(paths: Paths) -> None:
    assert DspyTuiApp(paths).animation_level == "none"


def test_screens_reach_the_app_through_its_typed_contract(paths: Paths) -> None:
    """Issue 14: no `type: ignore`, `app: Any` or `getattr(self.app, …)` in the screens and widgets."""
    import re

    from dspy_tui.tui.app_api import AppServices

    root = Path(__file__).parents[2] / "tui"
    offenders = [
        f"{f.relative_to(root)}:{n}"
        for f in sorted((root / "screens").glob("*.py")) + sorted((root / "widgets").glob("*.py"))
        for n, line in enumerate(f.read_text().splitlines(), 1)
        if re.search(r"type: ignore|app: Any|getattr\(self\.app", line)
    ]
    assert offenders == []
    assert isinstance(DspyTuiApp(paths), AppServices)


def test_readme_lists_every_key_shown_in_a_footer() -> None:
    """Every binding any screen, widget or the app shows in a footer is in the README's TUI section as
    `key` Description (the classes are found, not listed, so a new screen cannot be forgotten)."""
    import importlib
    import inspect
    import pkgutil

    from textual.binding import Binding
    from textual.keys import format_key

    from dspy_tui.tui import screens, widgets

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("## The TUI") : readme.index("## Development")].lower()
    classes: list[type] = [DspyTuiApp]
    for package in (screens, widgets):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            classes += [
                c
                for _, c in inspect.getmembers(module, inspect.isclass)
                if c.__module__ == module.__name__ and "BINDINGS" in c.__dict__
            ]
    shown = [
        (cls.__name__, b)
        for cls in classes
        for b in cls.__dict__["BINDINGS"]
        if isinstance(b, Binding) and b.show
    ]
    assert len(shown) > 40, "the bindings were not found"
    missing = [
        f"{name}: {b.key} {b.description}"
        for name, b in shown
        if not any(
            f"`{key}` {b.description}".lower() in section
            for k in b.key.split(",")
            for key in {k.strip(), format_key(k.strip())}
        )
    ]
    assert missing == []
