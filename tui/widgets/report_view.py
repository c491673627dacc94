"""A Markdown report drawn for a terminal: prose as Markdown, tables as aligned columns that never wrap.

Textual's Markdown widget squeezes a wide pipe table into the screen width, so a report with
eleven columns read `offline/…`, `basel…`, `0.…` at 120 columns. Here a table keeps every cell
whole and the view scrolls sideways when it is wider than the screen.
"""

from __future__ import annotations

import re

from rich import box
from rich.console import RenderableType
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_EMPHASIS = re.compile(r"(\*\*|__|`)")


def _cells(line: str) -> list[str]:
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [_EMPHASIS.sub("", c).replace("\\|", "|").strip() for c in re.split(r"(?<!\\)\|", inner)]


def _table(lines: list[str]) -> Table:
    header, rows = _cells(lines[0]), [_cells(line) for line in lines[1:] if not _SEPARATOR.match(line)]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1))
    for label in header:
        table.add_column(Text(label, style="bold"), no_wrap=True)
    for row in rows:
        table.add_row(*(Text(c) for c in row[: len(header)]))
    return table


def table_width(table: Table) -> int:
    """The cells a table needs with every cell whole (header and widest cell of each column, padding, rules)."""
    widths = [
        max(
            [
                c.header.cell_len if isinstance(c.header, Text) else len(str(c.header)),
                *(cell.cell_len for cell in c.cells if isinstance(cell, Text)),
            ]
        )
        for c in table.columns
    ]
    return sum(widths) + 2 * len(widths) + len(widths) + 1


def report_parts(markdown: str) -> list[RenderableType]:
    """The report as Markdown blocks (they wrap at the screen width) and whole-cell tables, in order."""
    parts: list[RenderableType] = []
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
            parts.append(_table(table))
            table = []
        prose.append(line)
    if any(p.strip() for p in prose):
        parts.append(Markdown("\n".join(prose)))
    return parts
