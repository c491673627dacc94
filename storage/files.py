"""Writing a file the user named (a report, an exported program) without ever destroying data.

The target is refused when it is the session database or one of its WAL/SHM/journal files
(even with `force`), and when it already exists unless `force` is given. The content goes
to a temporary file in the same folder first and is renamed over the target, so a crash or
a full disk never leaves half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .db import StorageError

SQLITE_HEADER = b"SQLite format 3\x00"
_DB_SIDE_FILES = ("", "-wal", "-shm", "-journal")


class OutputRefused(StorageError):
    """The output path would overwrite something it must not; the message says what and how."""


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: Path, *, database: Path | None, force: bool) -> Path:
    """The resolved target, or OutputRefused with one sentence."""
    target = path.expanduser().resolve()
    if database is not None:
        db = database.expanduser().resolve()
        for suffix in _DB_SIDE_FILES:
            protected = db.with_name(db.name + suffix)
            if target == protected or _same_file(target, protected):
                raise OutputRefused(
                    f"{path} is the dspy-tui database{' ' + suffix[1:] + ' file' if suffix else ''}; "
                    "choose another output file."
                )
    if target.is_dir():
        raise OutputRefused(f"{path} is a folder; give a file name.")
    if target.exists():
        with contextlib.suppress(OSError), target.open("rb") as f:
            if f.read(len(SQLITE_HEADER)) == SQLITE_HEADER:
                raise OutputRefused(f"{path} is an SQLite database; choose another output file.")
        if not force:
            raise OutputRefused(f"{path} already exists; give --force to replace it.")
    return target


def write_output(
    path: Path, content: str, *, database: Path | None, force: bool = False, make_parents: bool = False
) -> Path:
    """Write `content` (UTF-8) to `path` via a temporary file and a rename; returns the path written.
    A missing folder is an error unless `make_parents`."""
    target = check_output(path, database=database, force=force)
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target
