"""Export a model's optimized program from any screen: ask which model, then write it off the UI thread."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from dspy_tui.storage.paths import Paths
from dspy_tui.tui.runner import one_sentence, service_for
from dspy_tui.tui.screens.modals import PickScreen


def export_program(
    screen: Screen[Any], paths: Paths, session_id: str, models: list[str], selected: str | None
) -> None:
    """Ask which model (the selected one first), then write its program under exports/ID/."""
    if selected in models:
        models = sorted(models, key=lambda m: m != selected)

    def write(model: str) -> None:
        try:
            path = service_for(paths).export_program(session_id, model)
        except Exception as exc:  # noqa: BLE001 - ExportError and I/O errors read as one sentence
            screen.app.call_from_thread(screen.notify, one_sentence(exc), severity="error")
            return
        screen.app.call_from_thread(
            screen.notify, f"Wrote {model}'s program to {path} (load it with program.load(path)).", timeout=8
        )

    def chosen(model: str | None) -> None:
        if model:
            screen.run_worker(lambda: write(model), thread=True, group="export-program")

    screen.app.push_screen(PickScreen("Export which model's program?", models), chosen)
