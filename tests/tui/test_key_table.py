"""The screens' key tables: rows build the bindings users see and remap, and a bad row fails at import."""

from __future__ import annotations

import pytest

from dspy_tui.tui.screens.compare import CompareScreen
from dspy_tui.tui.screens.detail import DetailScreen
from dspy_tui.tui.screens.home import HomeScreen
from dspy_tui.tui.screens.key_table import key_table
from dspy_tui.tui.screens.keys import KeysScreen
from dspy_tui.tui.screens.live import LiveScreen
from dspy_tui.tui.screens.new_session import NewSessionScreen
from dspy_tui.tui.screens.session_keys import SESSION_KEYS
from dspy_tui.tui.screens.settings import SettingsScreen

SCREENS = [HomeScreen, DetailScreen, CompareScreen, LiveScreen, NewSessionScreen, SettingsScreen, KeysScreen]


def test_a_row_is_one_binding_with_the_screen_id_and_its_flags() -> None:
    shown, hidden = key_table(
        "s",
        """
        # key | action | id   | label | flags           | tooltip
        f5    | start  | go   | Start | priority        | Start it
        o     | sort   | sort | Sort  | hidden priority |
        """,
    )
    assert (shown.key, shown.action, shown.id, shown.description) == ("f5", "start", "s.go", "Start")
    assert (shown.show, shown.priority, shown.tooltip) == (True, True, "Start it")
    assert (hidden.show, hidden.priority, hidden.tooltip) == (False, True, "")


def test_a_session_row_takes_the_shared_key() -> None:
    (calls,) = key_table("live", "session calls hidden")
    key, label, tooltip = SESSION_KEYS["calls"]
    assert (calls.key, calls.action, calls.description, calls.tooltip) == (key, "calls", label, tooltip)
    assert (calls.id, calls.show) == ("live.calls", False)


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ("r | report | report | Report | Open the report", "want key | action"),  # the flags cell left out
        ("r | report |  | Report | | Open the report", "want key | action"),  # no id
        ("r | report | report | Report | hiden | Open", "unknown flags ['hiden']"),
        ("session calls shown", "unknown flags ['shown']"),
    ],
)
def test_a_malformed_row_is_refused_naming_it(row: str, says: str) -> None:
    with pytest.raises(ValueError, match="s key row") as raised:
        key_table("s", row)
    assert says in str(raised.value)


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.__name__)
def test_no_screen_binds_a_key_or_an_id_twice(screen: type) -> None:
    keys = [b.key for b in screen.BINDINGS]
    ids = [b.id for b in screen.BINDINGS]
    assert len(set(keys)) == len(keys) and len(set(ids)) == len(ids)
