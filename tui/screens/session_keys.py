"""The keys the live and detail screens share over one session's events and round chart.

Said once, so both screens keep the same key, label and tooltip; each screen chooses where
in its BINDINGS they stand and which its footer shows.
"""

from __future__ import annotations

from textual.binding import Binding

# action -> (key, label, tooltip); the screens implement the actions
SESSION_KEYS = {
    "calls": ("c", "Calls", "Show each LM call in the events, or fold them"),
    "search": ("slash", "Search", "Search the events"),
    "metric": ("m", "Metric", "Chart dev score, cost, latency or tokens"),
    "filter": ("f", "Filter", "Filter the event log by model and kind"),
}


def session_key(screen: str, action: str, *, show: bool = True) -> Binding:
    """The shared `action` key as `screen`'s binding (id `screen.action`)."""
    key, label, tooltip = SESSION_KEYS[action]
    return Binding(key, action, label, id=f"{screen}.{action}", show=show, tooltip=tooltip)
