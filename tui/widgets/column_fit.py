"""Shrinking columns to a width: the one rule the screens' tables and the report's tables share."""

from __future__ import annotations

from collections.abc import Sequence


def shrink_widest(widths: Sequence[int], floors: Sequence[int | None], room: int) -> list[int]:
    """`widths` narrowed until their sum fits `room`: the widest column above its floor gives a cell at
    a time (of equals the leftmost), so one long column does not shrink its neighbours to their floors
    while keeping its own width. A None floor never shrinks. Stops when no column can give."""
    widths = list(widths)
    over = sum(widths) - room
    while over > 0:
        able = [i for i, floor in enumerate(floors) if floor is not None and widths[i] > floor]
        if not able:
            break  # the rest is left to the caller (a scrollbar, or Rich folding a cell further)
        widths[max(able, key=lambda i: (widths[i], -i))] -= 1
        over -= 1
    return widths
