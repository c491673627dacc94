"""Reports and program exports, built from what the database holds.

Everything here reads the SQLite file, never a live session, so
`dspy-tui report ID` and `dspy-tui export ID` give the same answer during a
session, after it, or after a crash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dspy_tui.storage.files import write_output
from dspy_tui.storage.sessions import SessionStore

REPORT_FORMATS = ("md", "json", "html")


class ExportError(ValueError):
    """The requested export cannot be made; the message says why in one sentence."""


def export_program(program: Any, path: Path) -> Path:
    """Save a DSPy program's state as JSON that `program.load(path)` reads in plain DSPy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path))
    return path


def export_checkpoint(store: SessionStore, session_id: str, model: str, path: Path, *, force: bool = False) -> Path:
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
    return write_output(path, json.dumps(state, indent=2, sort_keys=True), database=store.path, force=force,
                        make_parents=True)


def report_data(store: SessionStore, session_id: str) -> dict[str, Any]:
    """The input of engine.report.build_report, read from the database."""
    from .pricing import OFFLINE_PROVIDERS, price_for
    from .providers.registry import split_model

    session = store.get_session(session_id)
    rounds = store.rounds(session_id)
    config = session["config"]
    overrides = {m["id"]: m.get("price") for m in config.get("models", []) if isinstance(m, dict)}
    models = []
    for m in session["models"]:
        res = m["results"]
        provider, model_id = split_model(m["model"])
        given = overrides.get(m["model"])
        price = price_for(provider, model_id, {m["model"]: given} if given else None)
        test_scores = res.get("test_scores") or []
        correct = sum(test_scores)
        models.append(
            {
                "model": m["model"],
                "status": m["status"],
                "error": m["error"],
                "offline": provider in OFFLINE_PROVIDERS,
                "priced": price is not None,
                "baseline_score": m["baseline_score"],
                "best_dev_score": m["best_dev_score"],
                "test_score": m["test_score"],
                "test_ci": [m["test_ci_low"], m["test_ci_high"]] if m["test_ci_low"] is not None else None,
                "test_scores": test_scores,
                "test_ids": res.get("test_ids") or [],
                "cost_usd": m["cost_usd"],
                "calls": m["calls"],
                "cache_hits": res.get("cache_hits", 0),
                "errors": res.get("errors", 0),
                "tokens_in": res.get("tokens_in", 0),
                "tokens_out": res.get("tokens_out", 0),
                "latency_p50_ms": res.get("benchmark_latency_p50_ms") or res.get("latency_p50_ms"),
                "latency_p95_ms": res.get("benchmark_latency_p95_ms") or res.get("latency_p95_ms"),
                "cost_per_correct": (m["cost_usd"] / correct) if correct and price is not None else None,
                "rounds": [
                    {
                        "round": r["round"],
                        "phase": r["phase"],
                        "dev_score": r["dev_score"],
                        "best_dev_score": r["best_dev_score"],
                        "cost_usd": r["cost_usd"],
                    }
                    for r in rounds
                    if r["model"] == m["model"] and r["phase"] != "cross_model"  # transfers have their own table
                ],
                "transfer": res.get("transfer"),
                "program_path": res.get("program_path"),
                "metrics": res.get("metrics"),
                "outcomes": res.get("outcomes") or {},
                "unparsed": res.get("unparsed", 0),
                "degraded": res.get("degraded"),
            }
        )
    return {
        "session": {
            k: session[k]
            for k in (
                "id",
                "name",
                "status",
                "task",
                "created_at",
                "seed",
                "budget_usd",
                "config",
                "versions",
            )
        },
        "models": models,
    }


def render_report(store: SessionStore, session_id: str, fmt: str) -> str:
    from .report import build_report, render_html, render_json, render_markdown

    if fmt not in REPORT_FORMATS:
        raise ExportError(f"Unknown report format {fmt!r}; use one of: {', '.join(REPORT_FORMATS)}.")
    report = build_report(report_data(store, session_id))
    renderers = {"md": render_markdown, "json": render_json, "html": render_html}
    return renderers[fmt](report)


def write_reports(store: SessionStore, session_id: str, out_dir: Path) -> dict[str, str]:
    """Render every format, store it in the DB and write it under `out_dir`; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fmt in REPORT_FORMATS:
        content = render_report(store, session_id, fmt)
        store.save_report(session_id, fmt, content)
        path = out_dir / f"report.{fmt}"
        path.write_text(content, encoding="utf-8")
        paths[fmt] = str(path)
    return paths
