"""A Markdown report drawn for a terminal: prose as Markdown, tables fitted to the screen's width.

Textual's Markdown widget squeezes a wide pipe table into the screen width, so a report with
eleven columns read `offline/…`, `basel…`, `0.…` at 120 columns. Here a table keeps every cell
whole: on one line when the table fits, else wrapped at its spaces (no column narrower than its
longest word), and when even that is too wide, columns are left out (the report's low-priority
ones first, as Detail's tables drop theirs) and named on a line under the table. Nothing scrolls
sideways: at 80 columns the Results table had 6 of its 12 columns off-screen with no sign of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich import box
from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from dspy_tui.tui.widgets.column_fit import shrink_widest

_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_EMPHASIS = re.compile(r"(\*\*|__|`)")
_ESCAPE = re.compile(r"\\([\\|\[\]*_`#])")  # Markdown's escapes (`\[task\]`, `a\|b`) read as the character
GAP = 3  # cells between two columns' texts: Table padding (0, 1) each side and the box's blank rule
FOLD = 14  # a longer word (`offline/simulated`) is folded rather than a column left out
KEY_COLUMNS = 2  # the first two (`#` and model, metric and the first model) are never folded
# the report's (engine/report.py) columns that give way first on a narrow screen, in this order
DROP_FIRST = (
    "errors",
    "tokens in/out",
    "one-off",
    "p50/p95 latency",
    "status",
    "baseline dev",
    "cost/correct",
    "best dev",  # the test score and the cost stay longest
)


def _cells(line: str) -> list[str]:
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [_ESCAPE.sub(r"\1", _EMPHASIS.sub("", c)).strip() for c in re.split(r"(?<!\\)\|", inner)]


@dataclass(frozen=True)
class PipeTable:
    """A report's pipe table, parsed: its header and rows of cell texts."""

    header: list[str]
    rows: list[list[str]]

    @classmethod
    def parse(cls, lines: list[str]) -> PipeTable:
        header = _cells(lines[0])
        rows = [_cells(line)[: len(header)] for line in lines[1:] if not _SEPARATOR.match(line)]
        return cls(header, rows)

    def _column(self, i: int) -> list[str]:
        return [self.header[i], *(row[i] for row in self.rows if i < len(row))]

    def widest(self, i: int) -> int:
        """Column `i`'s cells on one line: its widest cell."""
        return max(Text(c).cell_len for c in self._column(i))

    def narrowest(self, i: int, fold: int | None = None) -> int:
        """Column `i` wrapped at its spaces: its longest word (or `fold` cells of it, but not in a key column)."""
        longest = max(Text(word).cell_len for c in self._column(i) for word in c.split() or [""])
        return longest if fold is None or i < KEY_COLUMNS else min(fold, longest)

    def width(self, columns: list[int], *, wrapped: bool = False, fold: int | None = None) -> int:
        """The cells `columns` take, on one line or wrapped."""
        cells = sum(self.narrowest(i, fold) if wrapped else self.widest(i) for i in columns)
        return cells + GAP * (len(columns) - 1)

    def _kept(self, width: int, fold: int | None) -> list[int]:
        """The columns that fit `width` wrapped: the report's low-priority ones go first (DROP_FIRST),
        then the rightmost; the first (the row's key) always stays."""
        order = sorted(
            range(1, len(self.header)),
            key=lambda i: (DROP_FIRST.index(self.header[i]), 0) if self.header[i] in DROP_FIRST else (99, -i),
        )
        kept = list(range(len(self.header)))
        while order and self.width(kept, wrapped=True, fold=fold) > width:
            kept.remove(order.pop(0))
        return kept

    def _widths(self, kept: list[int], fold: int | None, width: int) -> list[int]:
        """Each kept column's text width: its widest cell, the widest giving a cell at a time until they fit."""
        floors = [self.narrowest(i, fold) for i in kept]
        return shrink_widest([self.widest(i) for i in kept], floors, width - GAP * (len(kept) - 1))

    def fitted(self, width: int) -> RenderableType:
        """The table in `width` cells: whole, wrapped, or without some columns (named under it). Words
        are folded at FOLD cells (never in the key columns) only when that keeps more columns."""
        kept, fold = max(
            ((self._kept(width, f), f) for f in (None, FOLD)), key=lambda k: (len(k[0]), k[1] is None)
        )
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1))
        for i, cells in zip(kept, self._widths(kept, fold, width), strict=True):
            table.add_column(Text(self.header[i], style="bold"), width=cells, overflow="fold")
        for row in self.rows:
            table.add_row(*(Text(row[i]) if i < len(row) else Text("") for i in kept))
        left_out = [label for i, label in enumerate(self.header) if i not in kept]
        if not left_out:
            return table
        note = Text(f"Not shown at this width: {', '.join(left_out)} (the report file has every column).")
        note.stylize("dim")
        return Group(table, note)


class ReportTable(Widget):
    """A PipeTable fitted to the widget's width, again on each resize."""

    DEFAULT_CSS = "ReportTable { height: auto; }"

    def __init__(self, table: PipeTable) -> None:
        super().__init__(classes="report-table")
        self.table = table
        self._fit: tuple[int, RenderableType] | None = None  # the last width and the table fitted to it

    def _fitted(self, width: int) -> RenderableType:
        """The table fitted to `width`: laying out (its height) and painting ask at the same width."""
        if self._fit is None or self._fit[0] != width:
            self._fit = (width, self.table.fitted(width))
        return self._fit[1]

    def render(self) -> RenderableType:
        return self._fitted(self.content_size.width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        lines = self.app.console.render_lines(
            self._fitted(width), self.app.console.options.update_width(width), pad=False
        )
        return len(lines)


def report_parts(markdown: str) -> list[Markdown | PipeTable]:
    """The report as Markdown blocks (they wrap at the screen width) and pipe tables, in order."""
    parts: list[Markdown | PipeTable] = []
    prose: list[str] = []
    table: list[str] = []
    for line in [*markdown.splitlines(), ""]:
        if line.lstrip().startswith("|"):
            if prose:
                parts.append(Markdown("\n".join(prose)))
                prose = []
            table.append(line)
            continue
        if table:
            parts.append(PipeTable.parse(table))
            table = []
        prose.append(line)
    if any(p.strip() for p in prose):
        parts.append(Markdown("\n".join(prose)))
    return parts
