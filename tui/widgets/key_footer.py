"""The footer of every screen: Textual's, fitted to the width and rebuilt only when the keys it shows change.

Textual's footer lays every key in one row and lets the command-palette key cover what does not
fit: at 80 columns home stopped at `d Del…` and no screen showed `?` Help. Here the keys are
fitted: full descriptions when they fit, else compact, else with short words (the palette's key
alone), else the keys at the end
of the screen's BINDINGS (its least important) go; `?` Help, which lists them all, and `q` Quit stay.

Textual's Footer also mounts a widget per key again on every bindings signal (each focus change,
each `refresh_bindings`), and each of those is styled and restyled; opening a screen sent
four or five such signals for the same keys and the footer alone was most of the CSS work.
Here a signal whose keys read the same leaves the footer alone, and a change of which keys
are enabled (a screen's data arriving) updates the existing keys in place.

Textual's footer is also blank until the screen's first bindings signal, and that signal's rebuild
waits for a refresh: every screen drew its first frame without keys, then laid out and drew the
whole screen again with them. Here the keys are composed with the footer, in the screen's first frame.
"""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

from textual import events
from textual import on as handles
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# never left out: the app's Help (it lists every key) and a screen's `q` Quit (a way out)
KEPT_ACTIONS = ("help", "app.help", "app.quit")
SHORT = {  # a key's word when the whole descriptions do not fit (Help shows the whole ones)
    "New session": "New",
    "Mark all": "All",
    "Settings": "Setup",
    "Load config": "Load",
    "Save config": "Save",
    "Copy command": "Copy",
    "Delete key": "Delete",
    "Set key": "Set",
    "Pick models": "Pick",
    "Event JSON": "JSON",
}


class Key(NamedTuple):
    key: str
    display: str
    description: str
    action: str
    tooltip: str
    palette: bool  # the command palette's key, docked at the right

    def width(self, compact: bool) -> int:
        """The cells FooterKey draws for it, with its margin (Textual's footer CSS)."""
        if self.palette:  # its border, key, a space, description and a cell of padding or margin
            return len(self.display) + 2 + (len(self.description) + 1 if self.description else 0)
        return len(self.display) + len(self.description) + 2 + (0 if compact else 1)


def fit(keys: list[Key], width: int, compact: bool) -> tuple[list[Key], bool]:
    """The keys that fit in `width` cells, and whether they are drawn compact."""
    words = [k._replace(description=SHORT.get(k.description, k.description)) for k in keys]
    shorter = [k._replace(description="") if k.palette else k for k in words]  # Help names the palette
    for shown, tight in ((keys, compact), (keys, True), (words, True), (shorter, True)):
        if sum(k.width(tight) for k in shown) <= width:
            return shown, tight
    kept = list(shorter)
    for key in reversed(shorter):  # the screen's least important keys go first
        if sum(k.width(True) for k in kept) <= width:
            break
        if not (key.palette or key.action in KEPT_ACTIONS):
            kept.remove(key)
    return kept, True


class ToggleKey(FooterKey):
    """Textual's FooterKey, whose enabled state may change once it is mounted (FooterKey takes it
    only when built, so a screen's data arriving would otherwise rebuild the whole footer)."""

    def __init__(
        self,
        key: str,
        display: str,
        description: str,
        action: str,
        *,
        disabled: bool,
        tooltip: str,
        classes: str,
        compact: bool,
    ) -> None:
        super().__init__(key, display, description, action, disabled, tooltip, classes)
        self.enabled = not disabled
        # styled once: FooterKey's compact starts True and its watcher's class change restyled every
        # key when mounted, and again when bound to the footer's compact
        self.set_reactive(FooterKey.compact, compact)
        self.set_class(compact, "-compact", update=False)

    def enable(self, on: bool) -> None:
        self.enabled = on
        self.set_class(not on, "-disabled")  # FooterKey's dim look

    @handles(events.MouseDown)
    def _click(self, event: events.MouseDown) -> None:
        event.prevent_default()  # FooterKey's own handler reads the state the key was built with
        if self.enabled:
            self.app.simulate_key(self.key)
        else:
            self.app.bell()


def focus_auto(screen: Screen[Any]) -> None:
    """Focus the screen's AUTO_FOCUS widget (the app's when the screen names none), the first focusable
    match, unless something has focus: what Textual does once the screen is composed, done earlier."""
    selector = screen.app.AUTO_FOCUS if screen.AUTO_FOCUS is None else screen.AUTO_FOCUS
    if screen.focused is not None or not (selector and screen.app.app_focus):
        return
    target = next((widget for widget in screen.query(selector) if widget.focusable), None)
    if target is not None:
        screen.set_focus(target)


class KeyFooter(Footer):
    def __init__(self, *, compact: bool = False) -> None:
        super().__init__(compact=compact)
        self._wants_compact = compact  # the screen's choice when everything fits
        self._shown: tuple[Any, ...] | None = None  # what the composed keys show, enabled or not
        self._recomposing = asyncio.Lock()

    def compose(self) -> ComposeResult:
        # the keys depend on the focused widget's bindings (home's list names its own enter): focus
        # the screen's AUTO_FOCUS widget now, as Textual does once the screen is composed, or keys
        # composed before that focus were all removed and built again before the first frame
        focus_auto(self.screen)
        self._shown = self._keys()  # what is about to be shown, for the next recompose to compare
        (keys, compact), enabled = self._shown
        self.compact = compact
        for key, on in zip(keys, enabled, strict=True):
            widget = ToggleKey(
                key.key,
                key.display,
                key.description,
                key.action,
                disabled=not on,
                tooltip=key.tooltip,
                classes="-command-palette" if key.palette else "",
                compact=compact or key.palette,
            )
            yield widget if key.palette else widget.data_bind(compact=Footer.compact)

    def _keys(self) -> tuple[tuple[tuple[Key, ...], bool], tuple[bool, ...]]:
        """What compose would show at this width (the keys, compact or not), and apart from it which are enabled."""
        keys, enabled, actions = [], {}, set()
        palette = self.app.COMMAND_PALETTE_BINDING
        for key, (_node, binding, on, tooltip) in self.screen.active_bindings.items():
            is_palette = key == palette and self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE
            if not (binding.show or is_palette) or binding.action in actions:
                continue  # Textual shows one key per action
            actions.add(binding.action)
            display = self.app.get_key_display(binding)
            keys.append(
                Key(
                    binding.key,
                    display,
                    binding.description,
                    binding.action,
                    (binding.tooltip or binding.description) if is_palette else tooltip,
                    is_palette,
                )
            )
            enabled[binding.action] = on
        keys.sort(key=lambda k: k.palette)  # the palette's key last, as Textual's footer puts it
        width = self.app.size.width  # docked across the screen; its own size swings while laid out
        shown, compact = fit(keys, width, self._wants_compact)
        return (tuple(shown), compact), tuple(enabled[k.action] for k in shown)

    async def on_resize(self) -> None:
        await self.recompose()  # only when what fits changed (below)

    async def recompose(self) -> None:
        # one at a time: a resize and a bindings signal arriving together interleaved Textual's
        # remove-then-mount, and one removed the keys the other had just mounted (a blank footer)
        async with self._recomposing:
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
        keys = self._shown[0][0] if self._shown else ()
        by_action = {key.action: on for key, on in zip(keys, enabled, strict=True)}
        for key in self.query(ToggleKey):
            on = by_action.get(key.action)
            if on is not None:
                key.enable(on)
        self._shown = (self._shown[0] if self._shown else ((), False), enabled)
