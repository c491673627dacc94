"""The app's own preferences, kept in `settings.toml` in the config dir.

Theme, the new-session defaults (budget, concurrency) and key remaps by
binding id. A missing or broken file, or a value out of range, means the
default: a preference must never stop the app from opening. Only the keys
this module knows are written back.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_CONCURRENCY = 64  # the session config's own limit


@dataclass(frozen=True)
class Settings:
    theme: str | None = None
    budget_usd: float | None = None  # a new session's budget; None: no cap
    concurrency: int | None = None  # a new session's calls in flight; None: the engine's default
    keymap: dict[str, str] = field(default_factory=dict)  # binding id -> keys, e.g. {"live.stop": "x"}


def _budget(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def _concurrency(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_CONCURRENCY:
        return value
    return None


def load_settings(path: Path) -> Settings:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return Settings()
    import tomllib  # only with a file to read: its import compiles regexes, 5 ms of a first launch's start-up

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return Settings()
    theme = data.get("theme")
    keymap = data.get("keymap")
    return Settings(
        theme=theme if isinstance(theme, str) else None,
        budget_usd=_budget(data.get("budget_usd")),
        concurrency=_concurrency(data.get("concurrency")),
        keymap={str(k): str(v) for k, v in keymap.items()} if isinstance(keymap, dict) else {},
    )


def save_settings(path: Path, settings: Settings) -> None:
    lines = []
    if settings.theme:
        lines.append(f"theme = {json.dumps(settings.theme)}")
    if settings.budget_usd is not None:
        lines.append(f"budget_usd = {settings.budget_usd!r}")
    if settings.concurrency is not None:
        lines.append(f"concurrency = {settings.concurrency}")
    if settings.keymap:
        lines.append("\n[keymap]")
        lines.extend(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in sorted(settings.keymap.items()))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
