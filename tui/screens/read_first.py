"""Screens whose data is read before they are shown, so their first frame already holds it.

Detail and Compare read a session (or several) from SQLite in a thread. Pushed first, they drew a
frame of placeholders ("Loading the session…", an empty table and chart), then laid out and drew
the whole screen again when the data came, and built the footer a third time with its keys enabled:
three full frames for one key press. Here the app starts the read when the key is pressed and
pushes the screen with the data (one frame), or with its placeholders after READ_GRACE_S if the
read takes longer (a busy database), filling them in when it arrives. The read stays off the UI
thread either way.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import App

from dspy_tui.tui.screens.styled_once import StyledOnceScreen

READ_GRACE_S = 0.12  # a read slower than this shows the screen's placeholders first


class ReadFirstScreen(StyledOnceScreen[None]):
    _read_by_app = False  # the app reads for it (open_read_first); otherwise it reads once mounted
    _read: tuple[Any, str | None] | None = None  # (data, error) read before the screen was mounted

    @property
    def read_ahead(self) -> Any:
        """The data read before the screen was mounted, shown in its first frame; None if there is none.
        Its footer is composed before the data is applied and asks check_action by it."""
        return self._read[0] if self._read is not None else None

    def read(self) -> Any:
        """The screen's data, read in a thread worker (a subclass's)."""
        raise NotImplementedError

    def show_read(self, data: Any) -> None:
        """Fill the screen with what `read` returned (the UI thread; before the first frame if read first)."""
        raise NotImplementedError

    def read_failed(self, message: str) -> None:
        """`read` raised: say so in one sentence."""
        raise NotImplementedError

    def _on_mount(self, event: events.Mount) -> None:
        # Textual calls each class's own handler (Screen's too), the subclass's on_mount first; all
        # of them before the first frame: the data read ahead, if any
        if self._read is not None:
            self._apply(*self._read)
        elif not self._read_by_app:
            self.app.run_worker(lambda: _read_in_thread(self.app, self), thread=True, group="read-first")

    def deliver(self, data: Any, error: str | None) -> None:
        """The read's outcome: kept for the first frame when the screen is not mounted yet."""
        if self.is_mounted:
            self._apply(data, error)
        else:
            self._read = (data, error)

    def _apply(self, data: Any, error: str | None) -> None:
        if error is not None:
            self.read_failed(error)
        else:
            self.show_read(data)


def open_read_first(app: App[Any], screen: ReadFirstScreen) -> None:
    """Read `screen`'s data, then push it (at once after READ_GRACE_S if the read is slow). A key
    that leaves the current screen meanwhile wins: the screen is then not pushed."""
    origin = app.screen
    screen._read_by_app = True

    def push() -> None:
        if not screen.is_attached and app.screen_stack[-1:] == [origin]:  # (empty while the app shuts down)
            app.push_screen(screen)

    timer = app.set_timer(READ_GRACE_S, push)

    def done(data: Any, error: str | None) -> None:
        timer.stop()
        screen.deliver(data, error)
        push()

    app.run_worker(lambda: _read_in_thread(app, screen, done), thread=True, group="read-first")


def _read_in_thread(app: App[Any], screen: ReadFirstScreen, done: Any = None) -> None:
    from dspy_tui.tui.runner import one_sentence

    deliver = done or screen.deliver
    try:
        data = screen.read()
    except Exception as exc:  # noqa: BLE001 - a vanished or unreadable session is one sentence on screen
        app.call_from_thread(deliver, None, one_sentence(exc))
        return
    app.call_from_thread(deliver, data, None)
