"""SVG snapshots of every screen and dialog at 120x40 and 80x24 over hard data (issue 16's "Done when").

Five models with long ids, hosted prices and latencies over a second (the walk in screen_walk.py;
test_layout.py checks the same screens' text). Regenerate after an intended change with
`pytest tests/tui/test_snapshots_every_screen.py --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from screen_walk import SCREENS, SIZES, reach, wide_app

from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """A relative data dir, so paths shown on screen read the same in every run."""
    monkeypatch.chdir(tmp_path)
    return Paths.under(Path("home"))


@pytest.mark.parametrize("name", SCREENS)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_screen(
    snap_compare: Any, paths: Paths, store: SessionStore, size: tuple[int, int], name: str
) -> None:
    app = wide_app(name, paths, store)

    async def ready(pilot: Any) -> None:
        await reach(pilot, name)

    assert snap_compare(app, terminal_size=size, run_before=ready)
