"""Reports and programs of a stored session, rendered from the database and written under exports/ID/.

Thread workers only: rendering prices the models (DSPy is imported) and
everything here reads SQLite and writes files.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dspy_tui.storage.paths import Paths


def render_markdown(paths: Paths, session_id: str) -> str:
    """The session's report as Markdown, built now from what the database holds."""
    from dspy_tui.engine.exports import render_report
    from dspy_tui.storage.sessions import SessionStore

    store = SessionStore(paths.db_path)
    try:
        store.get_session(session_id)  # an unknown id reads as one sentence
        return render_report(store, session_id, "md")
    finally:
        store.close()


def write_reports(paths: Paths, session_id: str, formats: Iterable[str]) -> dict[str, Path]:
    """Render each format and write it to exports/ID/report.FORMAT; returns the paths by format."""
    from dspy_tui.engine.exports import render_report
    from dspy_tui.storage.sessions import SessionStore

    out_dir = paths.exports_dir / session_id
    store = SessionStore(paths.db_path)
    try:
        store.get_session(session_id)
        rendered = {fmt: render_report(store, session_id, fmt) for fmt in formats}
    finally:
        store.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for fmt, content in rendered.items():
        path = out_dir / f"report.{fmt}"
        tmp = path.with_suffix(f".{fmt}.tmp")
        tmp.write_text(content, encoding="utf-8")
        tmp.replace(path)  # a reader never sees half a report
        written[fmt] = path
    return written


def write_program(paths: Paths, session_id: str, model: str) -> Path:
    """The model's best stored program as DSPy JSON in exports/ID/, loadable with program.load(path)."""
    from dspy_tui.engine.exports import export_checkpoint
    from dspy_tui.engine.session import slug
    from dspy_tui.storage.sessions import SessionStore

    store = SessionStore(paths.db_path)
    try:
        path: Path = export_checkpoint(store, session_id, model, paths.exports_dir / session_id / f"{slug(model)}.json",
                                       force=True)  # its own folder: pressing e again refreshes it
    finally:
        store.close()
    return path
