"""A screen built ahead, while home is idle, so the key that opens it shows it without building it.

Composing, mounting and styling the new-session form's ~75 widgets was most of the 300-450 ms
between `n` and the form on screen. Here a fresh form is built off the screen stack once the
sessions list is painted; `n` pushes that one, and the next is built when home is idle again.
Each is used once, so every open starts from the defaults: nothing is reset by hand.

Textual has no public call that mounts a screen without showing it: `push_screen` does it through
the private `_load_screen_css` and `_register`, and this calls the same two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from textual.app import App
from textual.screen import Screen

S = TypeVar("S", bound=Screen[Any])


class BuiltAhead(Generic[S]):
    def __init__(self, app: App[Any], make: Callable[[], S], classes: Callable[[], set[str]]) -> None:
        self.app = app
        self.make = make
        self.classes = classes  # the breakpoint classes for the app's size, set before the first style pass
        self.screen: S | None = None

    def build(self) -> None:
        """Mount a fresh screen off the stack (its compose and mount run as the app's messages)."""
        if self.screen is not None or not self.app.is_running:
            return
        screen = self.screen = self.make()
        screen.set_classes(screen.classes | self.classes())
        self.app._load_screen_css(screen)  # its CSS before its widgets are styled, as push_screen does
        self.app._register(self.app, screen)

    def take(self) -> S:
        """The screen built ahead, or a new one if there is none yet; the next is built later."""
        screen, self.screen = self.screen, None
        return screen if screen is not None else self.make()
