"""A screen's keys written as a table, one key a line, and built into its Textual bindings.

Each row is `key | action | id | label | flags | tooltip`. The binding's id is `screen.id`, the
name users remap in settings.toml [keymap], so it is written out rather than derived from the
action. Flags: `hidden` keeps the key out of the footer (it stays in ? and the palette),
`priority` makes it work while a text field has focus. A row `session ACTION [hidden]` takes
the key, label and tooltip the live and detail screens share (session_keys.py). Rows keep
their order: at 80 columns the footer drops keys from the end. A malformed row fails at import.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

from dspy_tui.tui.screens.session_keys import session_key

FLAGS = {"hidden", "priority"}


def key_table(screen: str, rows: str) -> list[BindingType]:
    """The bindings of `screen` written in `rows` (blank lines and # comments are skipped).

    Typed as Textual's BINDINGS are, so a screen can assign the list as it is.
    """
    bindings: list[BindingType] = []
    for line in rows.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            bindings.append(_row(screen, line))
    return bindings


def _row(screen: str, line: str) -> Binding:
    words = line.split()
    if words[0] == "session":
        action, *flags = words[1:]
        _check_flags(screen, line, flags)
        return session_key(screen, action, show="hidden" not in flags)
    cells = [cell.strip() for cell in line.split("|")]
    if len(cells) != 6 or not all(cells[:4]):
        raise ValueError(f"{screen} key row {line!r}: want key | action | id | label | flags | tooltip")
    key, action, binding_id, label, flag_cell, tooltip = cells
    flags = flag_cell.split()
    _check_flags(screen, line, flags)
    return Binding(
        key,
        action,
        label,
        show="hidden" not in flags,
        priority="priority" in flags,
        tooltip=tooltip,
        id=f"{screen}.{binding_id}",
    )


def _check_flags(screen: str, line: str, flags: list[str]) -> None:
    if unknown := set(flags) - FLAGS:
        raise ValueError(
            f"{screen} key row {line!r}: unknown flags {sorted(unknown)} (known: {sorted(FLAGS)})"
        )
