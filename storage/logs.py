"""The rotating log file under the data dir, with key values redacted."""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

from .secrets import redact_known

_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|gsk_[A-Za-z0-9]{10,})")


class RedactingFilter(logging.Filter):
    """Masks anything shaped like a provider key and every key value registered with `add_secret`."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact_known(record.getMessage())
        for secret in self.secrets:
            message = message.replace(secret, "<redacted>")
        record.msg = _KEYLIKE.sub("<redacted>", message)
        record.args = None
        return True


_filter = RedactingFilter()


def add_secret(value: str | None) -> None:
    if value and len(value) >= 6:
        _filter.secrets.add(value)


def setup_logging(log_dir: Path, *, verbose: bool = False) -> Path:
    """Send dspy-tui's (and DSPy's) logging to `log_dir/dspy-tui.log`; returns the file path."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "dspy-tui.log"
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_dspy_tui", False):
            root.removeHandler(handler)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    handler._dspy_tui = True  # type: ignore[attr-defined]
    handler.addFilter(_filter)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    logging.raiseExceptions = False  # a full disk must not print a traceback for every log line
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("aiohttp.access", "asyncio", "LiteLLM", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
