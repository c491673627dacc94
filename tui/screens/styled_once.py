"""A screen that is not restyled whole when it is first shown: it was styled a moment before.

Textual restyles every widget of a screen each time it becomes the active one, the first time too,
right after mounting styled each of them; on the form that was a third of the CSS work of opening
it. Later resumes (coming back from another screen) restyle as Textual does.
"""

from __future__ import annotations

from typing import TypeVar

from textual import events
from textual.screen import Screen

T = TypeVar("T")


class StyledOnceScreen(Screen[T]):
    _resumed = False

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Textual calls the handler of each class of the MRO, subclass first: this one, then
        # Screen's own, which reads refresh_styles (this is not an override that replaces it)
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False
