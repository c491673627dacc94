"""The screens' header: Textual's Header, whose title update survives its screen being dismissed.

Header sets its title from async watchers that run as later messages. A screen dismissed soon after
it was pushed (a palette command, a key pressed at once, a loaded machine) has by then removed the
title widget, and Textual's update raised NoMatches 'HeaderTitle' and took the app down.
"""

from __future__ import annotations

from textual.events import Mount
from textual.widgets import Header
from textual.widgets._header import HeaderTitle


class AppHeader(Header):
    def _on_mount(self, event: Mount) -> None:
        event.prevent_default()  # these watchers replace Header's own (Header is never scrolled)

        async def set_title() -> None:
            for title in self.query(HeaderTitle):  # none once the screen has been taken down
                if self.is_attached:
                    title.update(self.format_title())

        for owner in (self.app, self.screen):
            self.watch(owner, "title", set_title)
            self.watch(owner, "sub_title", set_title)
