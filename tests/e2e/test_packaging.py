"""The wheel holds nothing at top level but `dspy_tui`, and its sub-packages import."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_editable_install_maps_the_root_folders() -> None:
    import dspy_tui.cli
    import dspy_tui.engine
    import dspy_tui.storage
    import dspy_tui.tui

    assert Path(dspy_tui.cli.__file__).parent == ROOT / "cli"
    assert Path(dspy_tui.engine.__file__).parent == ROOT / "engine"
    assert Path(dspy_tui.storage.__file__).parent == ROOT / "storage"
    assert Path(dspy_tui.tui.__file__).parent == ROOT / "tui"


@pytest.mark.timeout(300)
def test_wheel_contains_only_dspy_tui(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=280,
    )
    if out.returncode != 0:
        pytest.fail(out.stderr[-2000:])
    wheel = next(tmp_path.glob("dspy_tui-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"dspy_tui", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    for sub in ("cli", "tui", "engine", "storage"):
        assert f"dspy_tui/{sub}/__init__.py" in names
    assert any(n.startswith("dspy_tui/tui/styles/") and n.endswith(".tcss") for n in names)
