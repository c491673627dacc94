"""Y ticks that sit on the rows of a plotext chart, so each label names the value its row holds.

plotext draws a value v of the range lo..hi on row floor(0.5 + (rows - 1)(v - lo)/(hi - lo)):
row r holds the values around lo + r(hi - lo)/(rows - 1). Its own ticks are seven evenly
spaced values whatever the height, and where several fall on one row the last label drawn
wins: on a 3-row chart the bottom row read 0.17 (where every 0.000 score was drawn) and the
middle row 0.67 (it holds 0.5). The ticks here are row centres, spread evenly over the rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

MOST_LABELS = 7  # as many as plotext puts: every row of a 7-row chart

Labeller = Callable[[Sequence[float]], list[str]]


def canvas_rows(monitor: Any, height: int) -> int:
    """The rows plotext leaves for the data of a `height`-row chart built from `monitor`'s settings.

    The same sum plotext's build makes: each x axis drawn, the lower x tick labels (when a signal
    uses that axis), one line for a title or upper x label, one for the y labels or lower x label.
    The charts here draw every signal on the lower x and left y axes."""
    x_labels = bool(monitor.x) and (monitor.xticks[0] is None or bool(monitor.xlabels[0]))
    top_bar = monitor.title is not None or monitor.xlabel[1] is not None
    bottom_bar = any(label is not None for label in [*monitor.ylabel, monitor.xlabel[0]])
    return height - sum(monitor.xaxes) - x_labels - top_bar - bottom_bar


def labelled_rows(rows: int, most: int = MOST_LABELS) -> list[int]:
    """Which rows carry a label: the bottom and the top, and between them rows an equal number apart
    when the gap count allows it (7 rows: every second one), else about evenly spread, some two
    rows apart. A chart of one row has none: that row holds every value."""
    if rows < 2:
        return []
    if most < 2:
        return [0]
    gaps = rows - 1
    even = max(k for k in range(1, min(gaps, most - 1) + 1) if gaps % k == 0)
    k = even if even >= 3 or even == gaps else max(2, min(most - 1, gaps // 2))
    return sorted({int(i * gaps / k + 0.5) for i in range(k + 1)})


def row_ticks(lower: float, upper: float, rows: int, most: int = MOST_LABELS) -> list[float]:
    """The values at the centres of the labelled rows of a `rows`-row canvas spanning lower..upper."""
    return [lower + (upper - lower) * r / (rows - 1) for r in labelled_rows(rows, most)]


def plain_labels(ticks: Sequence[float]) -> list[str]:
    """Two significant digits of the step between ticks (0.015 apart: 0.000 0.015 0.029), whole
    numbers once the step is 10 or more: fewer digits wrote 0.0146 and 0.0293 as 0.01 and 0.03."""
    step = min((b - a for a, b in zip(ticks, ticks[1:], strict=False)), default=0.0)
    decimals = max(0, 1 - math.floor(math.log10(step))) if step > 0 else 0
    return [f"{t:.{decimals}f}" for t in ticks]


def score_labels(ticks: Sequence[float]) -> list[str]:
    """Scores as the tables write them: two decimals."""
    return [f"{t:.2f}" for t in ticks]


def whole_labels(ticks: Sequence[float]) -> list[str]:
    """Counts (tokens): whole numbers with thousands separators."""
    return [f"{round(t):,}" for t in ticks]
