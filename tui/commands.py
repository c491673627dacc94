"""The command palette's entries (ctrl+p): what the current screen can do, and the screens every screen reaches.

The screen's entries are its key bindings (those with an id and a
description, and allowed right now), so the palette and the footer never
disagree, and a key remapped in settings.toml shows under its new key.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import Screen

# action -> (title, help) of the app-wide entries, worded like the bindings' tooltips
APP_COMMANDS = {
    "app.new_session": ("Set up and start a session", "New session"),
    "app.keys": ("API keys: see, set and delete them", "Keys"),
    "app.settings": ("Settings: default budget and concurrency, theme, where the data lives", "Settings"),
    "app.home": ("Back to the list of sessions", "Home"),
}
HIDDEN = {"command_palette", "app.command_palette"}


def our_bindings(screen: Screen[Any]) -> list[tuple[DOMNode, Binding, bool]]:
    """(namespace, binding, enabled) for every binding of ours (with an id) the screen answers now.

    Unlike `Screen.active_bindings` (one binding per key), a key that a focused
    widget also binds (enter in a table) does not hide the screen's own binding.
    """
    app = screen.app
    out = []
    seen: set[str] = set()
    for node, bindings in screen._modal_binding_chain:  # Textual's chain: focused widget, ..., screen, app
        for _key, binding in bindings:
            if not binding.id or binding.id in seen or not binding.description:
                continue
            state = app._check_action_state(binding.action, node)
            if state is False:
                continue
            seen.add(binding.id)
            out.append((node, binding, bool(state)))
    return out


class ScreenCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app = self.app
        out: list[tuple[str, str, Callable[[], Any]]] = []
        actions: set[str] = set()
        for node, binding, enabled in our_bindings(self.screen):
            if binding.action in HIDDEN or not enabled:
                continue
            action = binding.action if "." in binding.action or node is not app else f"app.{binding.action}"
            if action in actions:
                continue
            actions.add(action)
            title = binding.tooltip or binding.description  # the tooltip says it in full; the footer is short
            help_text = f"{binding.description} · key {app.get_key_display(binding)}"
            out.append((title, help_text, partial(app.run_action, binding.action, node)))
        for action, (title, help_text) in APP_COMMANDS.items():
            if action not in actions and not (action == "app.home" and len(app.screen_stack) <= 1):
                out.append((title, help_text, partial(app.run_action, action)))
        return out

    async def discover(self) -> Hits:
        for title, help_text, command in self._commands():
            yield DiscoveryHit(title, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, command in self._commands():
            score = max(matcher.match(title), matcher.match(help_text) * 0.8)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command, text=title, help=help_text)
