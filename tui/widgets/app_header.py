"""The screens' header: Textual's Header, whose title is set at once and repainted only when it changes.

Header sets its title from async watchers that run as later messages. A screen dismissed soon after
it was pushed (a palette command, a key pressed at once, a loaded machine) has by then removed the
title widget, and Textual's update raised NoMatches 'HeaderTitle' and took the app down. Those late
updates also came after the screen's first frame: each laid the whole screen out again, though the
title's size never depends on its text (it spans the header).
"""

from __future__ import annotations

from textual.events import Mount
from textual.widgets import Header
from textual.widgets._header import HeaderTitle


class AppHeader(Header):
    _shown = ""

    def _on_mount(self, event: Mount) -> None:
        event.prevent_default()  # these watchers replace Header's own (Header is never scrolled)

        def set_title() -> None:
            title = self.format_title()
            if not self.is_attached or title.plain == self._shown:
                return
            self._shown = title.plain
            for widget in self.query(HeaderTitle):  # none once the screen has been taken down
                widget.update(title, layout=False)

        for owner in (self.app, self.screen):
            self.watch(owner, "title", set_title, init=False)
            self.watch(owner, "sub_title", set_title, init=False)
        set_title()
