"""Dollars as every table, event line, report and CLI output prints them."""

from __future__ import annotations

import math


def format_usd(value: float) -> str:
    """`$0`, `$0.0058`, `$12.34`; below a tenth of a cent two significant figures (`$0.000051`):
    four decimals read a cheap model's cost per correct answer as `$0.0001`, or as `$0.0000`."""
    if value == 0:
        return "$0"
    size = abs(value)
    if size >= 10:
        return f"${value:,.2f}"
    if size >= 0.001:
        return f"${value:.4f}"
    return f"${value:.{1 - math.floor(math.log10(size))}f}"
