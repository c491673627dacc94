"""Where dspy-tui keeps its files.

platformdirs gives the usual per-OS places; `DSPY_TUI_HOME` replaces all of
them at once, which is what tests and portable installs use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "dspy-tui"
HOME_ENV = "DSPY_TUI_HOME"


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    config_dir: Path

    @classmethod
    def under(cls, root: Path) -> Paths:
        """Everything in one folder, as DSPY_TUI_HOME lays it out: data at `root`, config in root/config."""
        return cls(data_dir=root, config_dir=root / "config")

    @property
    def db_path(self) -> Path:
        """The one SQLite file of every session, its events, calls and checkpoints, and the call cache.

        SQLite keeps its -wal and -shm side files beside it; none of them is ever an export.
        """
        return self.data_dir / "dspy-tui.db"

    @property
    def log_dir(self) -> Path:
        """dspy-tui.log (`--verbose` for debug lines) and each local llama-server's own log."""
        return self.data_dir / "logs"

    @property
    def exports_dir(self) -> Path:
        """One folder per session: its reports and exported programs."""
        return self.data_dir / "exports"

    @property
    def settings_path(self) -> Path:
        return self.config_dir / "settings.toml"


def resolve_paths(env: dict[str, str] | None = None) -> Paths:
    env = dict(os.environ) if env is None else env
    home = env.get(HOME_ENV)
    if home:
        return Paths.under(Path(home).expanduser())
    return Paths(
        data_dir=platformdirs.user_data_path(APP_NAME),
        config_dir=platformdirs.user_config_path(APP_NAME),
    )
