"""The footer of every screen: Textual's, rebuilt only when the keys it shows change.

Textual's Footer mounts a widget per key again on every bindings signal (each focus change,
each `refresh_bindings`), and each of those is styled and restyled; opening a screen sent
four or five such signals for the same keys and the footer alone was most of the CSS work.
Here a signal whose keys read the same leaves the footer alone, and a change of which keys
are enabled (a screen's data arriving) updates the existing keys in place.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class KeyFooter(Footer):
    def __init__(self, *, compact: bool = False) -> None:
        super().__init__(compact=compact)
        self._shown: tuple[Any, ...] | None = None  # what the composed keys show, enabled or not

    def compose(self) -> ComposeResult:
        if self._bindings_ready:  # Textual's footer is blank until the screen's first bindings signal
            self._shown = self._keys()  # what is about to be shown, for the next recompose to compare
        yield from super().compose()

    def _keys(self) -> tuple[tuple[Any, ...], tuple[bool, ...]]:
        """What compose would show: each binding's look, and apart from it whether it is enabled."""
        looks, enabled = [], []
        palette = self.app.COMMAND_PALETTE_BINDING
        for key, (_node, binding, on, tooltip) in self.screen.active_bindings.items():
            if binding.show or key == palette:
                display = self.app.get_key_display(binding)
                looks.append((key, display, binding.action, binding.description, binding.group, tooltip))
                enabled.append(on)
        return tuple(looks), tuple(enabled)

    async def recompose(self) -> None:
        if not self.is_attached:
            return
        looks, enabled = self._keys()
        if self._shown is not None and looks == self._shown[0]:
            if enabled != self._shown[1]:
                self._enable(enabled)
            return
        await super().recompose()

    def _enable(self, enabled: tuple[bool, ...]) -> None:
        """Only which keys are enabled changed: set it on the mounted keys (one per action)."""
        looks = self._shown[0] if self._shown else ()
        by_action = {look[2]: on for look, on in zip(looks, enabled, strict=True)}
        for key in self.query(FooterKey):
            on = by_action.get(key.action)
            if on is not None:
                key._disabled = not on  # what a click checks (FooterKey keeps it apart from Widget.disabled)
                key.set_class(not on, "-disabled")  # its dim look
        self._shown = (looks, enabled)
