"""The New-session estimate's table: model, calls, cost; a model id is never broken mid-word.

A Rich table folds a long id at its column's edge (`gemini/gemini-2.0-f` / `lash`). Laid out
here at the width it is drawn at: a row whose id fits stays one line, spaced as that table was;
an id that does not goes on its own line above its figures, and an id wider than the whole pane
breaks only after its `/` (`anthropic/` / `claude-3-5-haiku-20241022`).
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.text import Text

HEADER = (Text("model"), Text("calls"), Text("cost exp, max"))
GAP = "  "  # between columns; one space at each edge


class EstimateRows:
    """(label, calls, cost) rows under a header, fitted to the width Rich gives at render time."""

    def __init__(self, rows: list[tuple[Text, Text, Text]]) -> None:
        self.rows = rows

    def _widths(self) -> tuple[int, int, int]:
        """The widest label, calls and cost, the header's included."""
        rows = [HEADER, *self.rows]
        label, calls, cost = (max(r[i].cell_len for r in rows) for i in range(3))
        return label, calls, cost

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        """As wide as its widest row on one line (a grid gives it no more), at most the width given."""
        label_w, calls_w, cost_w = self._widths()
        return Measurement(1, 2 + 2 * len(GAP) + label_w + calls_w + cost_w).clamp(
            max_width=options.max_width
        )

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        width = options.max_width
        _, calls_w, cost_w = self._widths()
        label_w = max(1, width - 2 - 2 * len(GAP) - calls_w - cost_w)
        for i, (label, calls, cost) in enumerate([HEADER, *self.rows]):
            style = "bold" if i == 0 else ""  # the header row, edges and gaps too
            if label.cell_len > label_w:
                yield from (_edge(part, width - 2, style) for part in _id_lines(label, width - 2))
                label = Text()
            line = Text.assemble(
                _fit(label, label_w, "left"), GAP, _fit(calls, calls_w), GAP, _fit(cost, cost_w)
            )
            yield _edge(line, width - 2, style)


def _fit(text: Text, width: int, justify: str = "right") -> Text:
    """`text` cut or padded to `width` cells, the padding in its style (as a table cell's is)."""
    out = text.copy()
    out.truncate(width, overflow="ellipsis", pad=False)
    (out.pad_right if justify == "left" else out.pad_left)(width - out.cell_len)
    return out


def _edge(text: Text, width: int, style: str) -> Text:
    """A line with the table's edge padding: one space either side, `width` cells between."""
    return Text.assemble(" ", _fit(text, width, "left"), " ", style=style, no_wrap=True)


def _id_lines(label: Text, width: int) -> list[Text]:
    """The id whole on one line; wider than the pane, broken after its `/` (each part cut with `…` at most)."""
    if label.cell_len <= width or "/" not in label.plain:
        return [label]
    cut = label.plain.index("/") + 1
    return [label[:cut], label[cut:]]
