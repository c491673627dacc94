"""The Textual application shell: screens, theme, bindings."""

from __future__ import annotations

from pathlib import Path

from textual.app import App

from dspy_tui.storage.paths import Paths, resolve_paths
from dspy_tui.tui.screens.home import HomeScreen

STYLES = Path(__file__).parent / "styles"


class DspyTuiApp(App[int]):
    TITLE = "dspy-tui"
    CSS_PATH = [STYLES / "app.tcss"]

    def __init__(self, paths: Paths | None = None) -> None:
        super().__init__()
        self.paths = paths or resolve_paths()

    def on_mount(self) -> None:
        self.push_screen(HomeScreen(self.paths))
