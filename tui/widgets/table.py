"""The one table every screen uses: cells are shown as typed, never parsed as Rich markup.

Session names, model ids and provider errors are user or provider text: `A/B test [/]`
in a plain DataTable cell is read as a markup tag and crashes the app (issue 13.4).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.widgets import DataTable

from dspy_tui.tui.widgets.column_fit import shrink_widest


def plain(value: Any) -> Any:
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

    def cursor_key(self) -> str | None:
        """The key of the row under the cursor (a session id, model, provider), None when empty."""
        if not self.row_count:
            return None
        value = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return str(value) if value is not None else None


@dataclass(frozen=True)
class Col:
    """A column of a FitTable.

    `drop`: 0 is always shown; when the table is too narrow the column with the highest `drop`
    goes first (the rightmost of equals). `most`/`least`: a long text column is cut to at most
    `most` cells, and shrunk down to `least` before anything scrolls off.
    """

    key: str
    label: str
    drop: int = 0
    most: int | None = None
    least: int | None = None


GAP = 2  # cells between two columns: text never runs into the next column


class FitTable(PlainTable):
    """Columns sized to their content with a gap between them; low-priority columns drop when narrow.

    The table keeps every row's cells (for every column, shown or not) and lays itself out again
    when its width changes, so 80 columns show the columns that matter and 120 show them all.

    Rows set before the first layout (a screen filled before its first frame) are fitted to the width
    the same table had on its screen the last time at this terminal width: fitted to no width, they
    were drawn once in full and, once the width came, cleared, fitted and drawn again.
    """

    _widths: ClassVar[dict[tuple[str, str | None, int], int]] = {}  # (screen, id, app width) -> width

    def __init__(self, columns: Sequence[Col], **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(cell_padding=0, **kwargs)
        self.specs = tuple(columns)
        self._cells: dict[str, dict[str, Text]] = {}
        self._layout: tuple[tuple[str, int], ...] = ()  # (key, width) of the columns shown
        self._labels: dict[str, str] = {}

    # -- data --------------------------------------------------------------------------
    def set_rows(
        self, rows: Iterable[tuple[str, dict[str, object]]], labels: dict[str, str] | None = None
    ) -> None:
        """Replace every row: (row key, {column key: cell}); `labels` overrides column labels (a sort arrow)."""
        self._cells = {key: {k: _text(v) for k, v in cells.items()} for key, cells in rows}
        self._labels = labels or {}
        self._rebuild(force=True)

    def set_row(self, key: str, cells: dict[str, object]) -> None:
        """Add a row or change some of its cells; the columns widen when a cell needs it."""
        new = {k: _text(v) for k, v in cells.items()}
        if key not in self._cells:
            self._cells[key] = new
            self._rebuild(force=True)
            return
        row = self._cells[key]
        row.update(new)
        widths = dict(self._layout)
        if any(k in widths and v.cell_len + GAP > widths[k] for k, v in new.items()):
            self._rebuild(force=True)
            return
        for k, v in new.items():
            if k in widths:
                super().update_cell(key, k, _cut(v, widths[k]))

    @property
    def shown_columns(self) -> list[str]:
        return [key for key, _ in self._layout]

    # -- layout ------------------------------------------------------------------------
    def on_resize(self) -> None:
        if self.is_attached:
            FitTable._widths[self._place()] = self.size.width
        self._rebuild()

    def _place(self) -> tuple[str, str | None, int]:
        return (type(self.screen).__name__, self.id, self.app.size.width)

    def _width(self) -> int:
        """The width laid out, or before the first layout the width this table last had here (0: unknown)."""
        if self.size.width or not self.is_attached:
            return self.size.width
        return FitTable._widths.get(self._place(), 0)

    def _label(self, key: str) -> str:
        return self._labels.get(key) or next(c.label for c in self.specs if c.key == key)

    def _rebuild(self, *, force: bool = False) -> None:
        width = self._width()
        layout = self._fit(width)
        # a horizontal scrollbar only when the columns do not fit even shrunk; never while the width is
        # not known yet (rows set before the first layout): one there took a row from the screen for
        # that layout, and the next gave it back, laying out and drawing the whole screen twice
        overflows = width > 0 and sum(w for _, w in layout) > width - 1
        self.styles.overflow_x = "auto" if overflows else "hidden"
        if not force and layout == self._layout:
            return
        cursor = self.cursor_row
        self._layout = layout
        self.clear(columns=True)
        for key, width in layout:
            super().add_column(Text(self._label(key), style="bold"), key=key, width=width)
        for row_key, cells in self._cells.items():
            super().add_row(*(_cut(cells.get(k, Text("")), w) for k, w in layout), key=row_key)
        if self.row_count:
            self.move_cursor(row=min(cursor, self.row_count - 1), animate=False)

    def _wants(self, *, short: bool) -> dict[str, int]:
        """Each column's content width, capped at `most`; `short`: a Worded cell in its short words."""
        widths = {}
        for c in self.specs:
            cells = [row.get(c.key, Text("")) for row in self._cells.values()]
            want = max(
                [len(self._label(c.key)), *(_shortest(t).cell_len if short else t.cell_len for t in cells)]
            )
            widths[c.key] = min(want, c.most) if c.most else want
        return widths

    def _fit(self, available: int) -> tuple[tuple[str, int], ...]:
        """Each column's width (content + gap, capped at `most`); drop and shrink to fit `available`."""
        shown = list(self.specs)
        widths = self._wants(short=False)
        if available > 0:
            room = available - 1  # the vertical scrollbar's column is taken when the rows overflow

            def total(cols: list[Col]) -> int:
                return sum(widths[c.key] + GAP for c in cols)

            dropped = []
            for c in sorted((c for c in self.specs if c.drop), key=lambda c: (-c.drop, -self.specs.index(c))):
                if total(shown) <= room:
                    break
                shown.remove(c)
                dropped.append(c)
            if (
                total(shown) > room
            ):  # still too narrow for the whole wordings: the short ones leave room to ids
                widths = self._wants(short=True)
            for c in reversed(dropped):  # a narrower column dropped after a wide one may fit again
                if total(shown) + widths[c.key] + GAP <= room:
                    shown.append(c)
            shown.sort(key=self.specs.index)
            # the widest of the long text columns gives first, so a long status does not take the model
            # id down to its `least` while keeping its own width; of equals the leftmost gives (an id
            # cut still names its provider and family, a status cut loses its end: `4 mode…`)
            fitted = shrink_widest(
                [widths[c.key] for c in shown], [c.least for c in shown], room - GAP * len(shown)
            )
            widths.update(zip((c.key for c in shown), fitted, strict=True))
        return tuple((c.key, widths[c.key] + GAP) for c in shown)


class Worded(Text):
    """A cell with a shorter wording, shown when the whole one would be cut (`rate-limited, retrying in
    37 s` is `429, retry 37 s` at 80 columns, not `rate-limited, ret…`)."""

    def __init__(self, text: str, short: str, style: str = "") -> None:
        super().__init__(text, style=style)
        self.short = Text(short, style=style)


TAG = re.compile(r" \[[^\[\]]{1,16}\]$")  # ` [seed 2]` at the end of a name


def _text(value: object) -> Text:
    if isinstance(value, Text):
        return value
    return Text("" if value is None else str(value))


def _shortest(text: Text) -> Text:
    return text.short if isinstance(text, Worded) else text


def _cut(text: Text, width: int) -> Text:
    """`text` fitted to a column of `width` cells, leaving the gap free (an ellipsis marks the cut).

    A trailing tag such as a repeated run's `[seed 2]` is kept and the words before it are cut:
    cut at its end, the seeds of one run all read `name [seed …`."""
    room = width - GAP
    if text.cell_len <= room:
        return text
    if isinstance(text, Worded):
        text = text.short
        if text.cell_len <= room:
            return text
    tag = TAG.search(text.plain)
    if tag is None or room - len(tag.group()) < 4:  # no tag, or too little room left to keep it
        cut = text.copy()
        cut.truncate(room, overflow="ellipsis")
        return cut
    head = text[: tag.start()]
    head.truncate(room - len(tag.group()), overflow="ellipsis")
    return head + text[tag.start() :]
