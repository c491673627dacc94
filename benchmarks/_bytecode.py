"""Our modules' bytecode, written before anything is timed, as installing a package writes it."""

from __future__ import annotations

import compileall
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dspy_tui", "cli", "engine", "storage", "tui")


def compile_sources() -> None:
    """Write the bytecode of every module of this tree (into its __pycache__ folders).

    The peers (DSPy, Textual) come installed with their bytecode; this tree is an editable
    install, and with PYTHONDONTWRITEBYTECODE set (as it is on the team machine) every
    `dspy-tui` process compiled our modules from source again, a cost no installed copy has.
    """
    for package in PACKAGES:
        if not compileall.compile_dir(ROOT / package, quiet=1):
            raise SystemExit(f"could not compile {package}")
