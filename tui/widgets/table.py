"""The one table every screen uses: cells are shown as typed, never parsed as Rich markup.

Session names, model ids and provider errors are user or provider text: `A/B test [/]`
in a plain DataTable cell is read as a markup tag and crashes the app (issue 13.4).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable


def plain(value: object) -> object:
    """A str becomes literal Text; anything already renderable is left as it is."""
    return Text(value) if isinstance(value, str) else value


class PlainTable(DataTable[Any]):
    """A DataTable whose str cells and labels are literal text."""

    def add_column(self, label: Any, *args: Any, **kwargs: Any) -> Any:
        return super().add_column(plain(label), *args, **kwargs)

    def add_row(self, *cells: Any, **kwargs: Any) -> Any:
        return super().add_row(*(plain(c) for c in cells), **kwargs)

    def update_cell(self, row_key: Any, column_key: Any, value: Any, **kwargs: Any) -> None:
        super().update_cell(row_key, column_key, plain(value), **kwargs)

    def update_cell_at(self, coordinate: Any, value: Any, **kwargs: Any) -> None:
        super().update_cell_at(coordinate, plain(value), **kwargs)
