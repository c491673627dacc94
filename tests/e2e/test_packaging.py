"""The wheel holds nothing at top level but `dspy_tui`, and its sub-packages import."""

from __future__ import annotations

import importlib
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


def test_the_repo_root_is_not_on_the_tests_sys_path() -> None:
    """There `engine` would read as a package of its own, a second copy of dspy_tui.engine."""
    assert ROOT not in {Path(p or ".").resolve() for p in sys.path}


@pytest.mark.parametrize("name", ["engine.runtime", "storage.sessions", "tui.app", "cli.main"])
def test_a_source_folder_cannot_be_imported_by_its_own_name_in_tests(name: str) -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(name)
    assert name not in sys.modules


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
