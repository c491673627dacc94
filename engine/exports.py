"""Reports and program exports, built from what the database holds.

Everything here reads the SQLite file, never a live session, so
`dspy-tui report ID` and `dspy-tui export ID` give the same answer during a
session, after it, or after a crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dspy_tui.storage.files import write_output

if TYPE_CHECKING:
    from dspy_tui.storage.sessions import SessionStore

REPORT_FORMATS = ("md", "json", "html")


class ExportError(ValueError):
    """The requested export cannot be made; the message says why in one sentence."""


def export_program(program: Any, path: Path) -> Path:
    """Save a DSPy program's state as JSON that `program.load(path)` reads in plain DSPy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path))
    return path


def export_checkpoint(
    store: SessionStore, session_id: str, model: str, path: Path, *, force: bool = False
) -> Path:
    """Write the best stored program state of `model` (its newest checkpoint) to `path`; an existing
    file is replaced only with `force`, the database never (storage/files.py)."""
    known = [m["model"] for m in store.session_models(session_id)]
    if model not in known:
        raise ExportError(f"Session {session_id} has no model {model!r}; its models are: {', '.join(known)}.")
    checkpoints = store.checkpoints(session_id, model)
    if not checkpoints:
        raise ExportError(f"{model} has no stored program yet in session {session_id} (no round finished).")
    from dspy.utils.saving import get_dependency_versions

    state = dict(checkpoints[-1]["program"])
    state["metadata"] = {"dependency_versions": get_dependency_versions()}  # what program.save() writes
    return write_output(
        path, json.dumps(state, indent=2, sort_keys=True), database=store.path, force=force, make_parents=True
    )


def report_data(store: SessionStore, session_id: str) -> dict[str, Any]:
    """The input of engine.report.build_report, read from the database."""
    from .service import price_labels, with_prices

    session = store.get_session(session_id)
    rounds = store.rounds(session_id)
    by_phase = store.cost_by_phase(session_id)
    models = []
    for r in with_prices(session.models, price_labels(session.config)):
        models.append(
            {
                "model": r.model,
                "status": r.status,
                "error": r.error,
                "offline": r.offline,
                "priced": r.priced,
                "baseline_score": r.baseline,
                "best_dev_score": r.best_dev,
                "test_score": r.test,
                "test_ci": list(r.ci) if r.ci is not None else None,
                "test_scores": list(r.test_scores),
                "test_ids": list(r.test_ids),
                "cost_usd": r.cost_usd,
                "calls": r.calls,
                "cache_hits": r.cache_hits,
                "errors": r.errors,
                "cancelled": r.cancelled,
                "tokens_in": r.tokens_in,
                "tokens_out": r.tokens_out,
                "latency_p50_ms": r.latency_p50_ms,
                "latency_p95_ms": r.latency_p95_ms,
                "cost_per_correct": r.cost_per_correct,
                "one_off_cost_usd": r.one_off_cost_usd,
                "price": r.price_label,
                "cost_by_phase": by_phase.get(r.model, {}),
                "rounds": [
                    {
                        "round": x["round"],
                        "phase": x["phase"],
                        "dev_score": x["dev_score"],
                        "best_dev_score": x["best_dev_score"],
                        "cost_usd": x["cost_usd"],
                    }
                    for x in rounds
                    if x["model"] == r.model and x["phase"] != "cross_model"  # transfers have their own table
                ],
                "transfer": r.transfer,
                "program_path": r.stored.program_path,
                "metrics": r.stored.metrics,
                "outcomes": r.stored.outcomes or {},
                "unparsed": r.stored.unparsed or 0,
                "degraded": r.stored.degraded,
            }
        )
    return {
        "session": {
            "id": session.id,
            "name": session.name,
            "status": session.status,
            "task": session.task,
            "created_at": session.created_at,
            "seed": session.seed,
            "budget_usd": session.budget_usd,
            "config": session.config,
            "versions": session.versions,
            "judge_cost_by_phase": store.cost_by_phase(session_id, "judge"),
        },
        "models": models,
    }


def render_report(store: SessionStore, session_id: str, fmt: str) -> str:
    """The report in `fmt` (md, json, html; `cost`: its Cost section alone, as Markdown)."""
    return render_reports(store, session_id, (fmt,))[fmt]


def render_reports(store: SessionStore, session_id: str, formats: Iterable[str]) -> dict[str, str]:
    """Each format of one report, built once (its statistics are the costly part)."""
    from .report import build_report, render_cost_markdown, render_html, render_json, render_markdown

    renderers = {
        "md": render_markdown,
        "json": render_json,
        "html": render_html,
        "cost": render_cost_markdown,
    }
    formats = list(formats)
    for fmt in formats:
        if fmt not in renderers:
            raise ExportError(f"Unknown report format {fmt!r}; use one of: {', '.join(REPORT_FORMATS)}.")
    report = build_report(report_data(store, session_id))
    return {fmt: renderers[fmt](report) for fmt in formats}


def write_reports(
    store: SessionStore, session_id: str, out_dir: Path, formats: Iterable[str] = REPORT_FORMATS
) -> dict[str, Path]:
    """Render each format, store it in the DB and write it to `out_dir`/report.FORMAT; returns the paths.

    Every format is rendered before any file is written, and each file is
    replaced atomically: a reader never sees half a report.
    """
    rendered = render_reports(store, session_id, formats)
    paths = {}
    for fmt, content in rendered.items():
        store.save_report(session_id, fmt, content)
        paths[fmt] = write_output(
            out_dir / f"report.{fmt}", content, database=store.path, force=True, make_parents=True
        )
    return paths
