"""Deleting a stored session, asked first: one flow for the home list and the session detail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.screen import Screen

from dspy_tui.storage.paths import Paths
from dspy_tui.tui.app_api import services
from dspy_tui.tui.screens.modals import ConfirmScreen


def delete_session(
    screen: Screen[Any], paths: Paths, session_id: str, name: str, status: str, deleted: Callable[[], None]
) -> None:
    """Refuse a running session; else ask, delete in a thread worker, then call `deleted` (UI thread)."""
    run = services(screen).session_run
    if run is not None and run.session_id == session_id and run.running:
        screen.notify("This session is running here; stop it before deleting it.", severity="error")
        return
    if status == "running":
        screen.notify(
            "This session is running in another dspy-tui; stop it there before deleting it.", severity="error"
        )
        return
    exports = paths.exports_dir / session_id
    question = (
        f"Delete session {name} ({session_id}) with its results, rounds, events, calls, programs and "
        f"reports from the database? Files already written to {exports} are kept. This cannot be undone."
    )

    def in_thread() -> None:
        from dspy_tui.tui.runner import one_sentence, service_for

        try:
            service_for(paths).delete(session_id)
        except Exception as exc:  # noqa: BLE001 - one sentence; nothing was deleted
            screen.app.call_from_thread(screen.notify, one_sentence(exc), severity="error")
            return
        screen.app.call_from_thread(done)

    def done() -> None:
        screen.notify(f"Deleted session {name}.")
        deleted()

    def answered(yes: bool | None) -> None:
        if yes:
            screen.run_worker(in_thread, thread=True, group="delete-session", exclusive=True)

    screen.app.push_screen(ConfirmScreen(question, yes="Delete", no="Keep it"), answered)
