"""The app's own preferences (theme, key remaps), kept in `settings.toml` in the config dir.

A missing or broken file means defaults: a preference must never stop the
app from opening. Only the keys this module knows are written back.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Settings:
    theme: str | None = None
    keymap: dict[str, str] = field(default_factory=dict)  # binding id -> keys, e.g. {"live.stop": "x"}


def load_settings(path: Path) -> Settings:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return Settings()
    theme = data.get("theme")
    keymap = data.get("keymap")
    return Settings(
        theme=theme if isinstance(theme, str) else None,
        keymap={str(k): str(v) for k, v in keymap.items()} if isinstance(keymap, dict) else {},
    )


def save_settings(path: Path, settings: Settings) -> None:
    lines = []
    if settings.theme:
        lines.append(f"theme = {json.dumps(settings.theme)}")
    if settings.keymap:
        lines.append("\n[keymap]")
        lines.extend(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in sorted(settings.keymap.items()))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
