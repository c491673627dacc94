"""One session lifecycle for every front end: the headless CLI, its `--json` stream and the TUI.

Create from a config, resume, start, stop, delete; the stored results,
reports and programs; the history reads. Front ends only parse input and show
output. Each call opens the database for as long as it needs it, so a
service is cheap to make and safe to use from any thread (the TUI calls it
from thread workers: several methods import DSPy or read SQLite). Importing
this module imports neither.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dspy_tui.engine import import_dspy
from dspy_tui.storage.paths import Paths

from .exports import REPORT_FORMATS

if TYPE_CHECKING:
    from dspy_tui.storage.history import CompareRows, SessionFilter
    from dspy_tui.storage.results import ModelResult
    from dspy_tui.storage.session_record import SessionRow, StoredSession
    from dspy_tui.storage.sessions import SessionStore

    from .config import SessionConfig
    from .session import Session


__all__ = ["ResumeRefused", "SessionRow", "SessionService", "price_labels", "with_prices"]


class ResumeRefused(ValueError):
    """The session cannot be resumed (it completed); the message says so in one sentence."""


class SessionService:
    """The session lifecycle and the stored results, over one data directory."""

    def __init__(self, paths: Paths, *, keys: Callable[[str], str | None] | None = None) -> None:
        self.paths = paths
        self._keys = keys

    @contextmanager
    def _store(self) -> Iterator[SessionStore]:
        from dspy_tui.storage.sessions import SessionStore

        store = SessionStore(self.paths.db_path)
        try:
            yield store
        finally:
            store.close()

    def recorded_outputs(self, config: SessionConfig) -> dict[str, float]:
        """What the config's models wrote on its task in earlier sessions (for the estimate); nothing
        when there is no database yet (an estimate does not create one)."""
        from dspy_tui.engine.estimate import recorded_outputs

        if not self.paths.db_path.exists():
            return {}
        with self._store() as store:
            return recorded_outputs(store, config)

    # -- the lifecycle -------------------------------------------------------------------
    def create(self, config: SessionConfig, session_id: str | None = None) -> Session:
        """A prepared session (checked, recorded, ready to start); one-sentence ValueErrors for user mistakes."""
        from dspy_tui.storage import keys
        from dspy_tui.storage.sessions import SessionStore

        import_dspy()

        from .session import Session

        session = Session(
            config,
            store=SessionStore(self.paths.db_path),
            paths=self.paths,
            keys=self._keys or keys.get_key,
            session_id=session_id,
        )
        session.prepare()
        return session

    def resume(
        self,
        session_id: str,
        *,
        completed_hint: str = "its report shows the results",
        budget_usd: float | None = None,
    ) -> Session:
        """The stored session prepared to go on; calls already paid are answered by its call cache.
        `budget_usd` raises its budget (a budget-stopped session continues with more money)."""
        from .config import parse_config

        stored = self.session(session_id)
        if stored.status == "completed":
            raise ResumeRefused(f"Session {session_id} is already completed; {completed_hint}.")
        if budget_usd is not None:
            self._raise_budget(session_id, budget_usd)
            stored = self.session(session_id)
        # a session another live process runs is refused by its lease (SessionBusy) when prepared
        config = parse_config(stored.config, f"session {session_id}")
        return self.create(config, session_id=session_id)

    def unstarted_seeds(self, config: SessionConfig) -> list[SessionConfig]:
        """The configs of the seeds of `config`'s repeated run that no stored session has started."""
        from .repeats import unstarted_seed_configs

        if config.repeat_group is None:
            return []
        with self._store() as store:
            seeds = [store.get_session(sid).seed for sid in store.repeat_group(config.repeat_group)]
        started = {s for s in seeds if s is not None}
        return unstarted_seed_configs(config, started)

    def _raise_budget(self, session_id: str, budget_usd: float) -> None:
        """Never less than the session has already spent (every recorded charge counts)."""
        with self._store() as store:
            spent = float(store.call_totals(session_id)["cost_usd"] or 0.0)
            if not (math.isfinite(budget_usd) and budget_usd > spent):
                raise ResumeRefused(
                    f"--budget ${budget_usd:.4f} is not more than the ${spent:.4f} session "
                    f"{session_id} has already spent; give a larger budget."
                )
            store.set_budget(session_id, budget_usd)

    def start(self, session: Session) -> str:
        """Run a prepared session to its end here; "completed", "stopped", "budget" or "failed"."""
        return session.run()

    def stop(self, session: Session, reason: str = "user") -> None:
        """Stop at once: in-flight calls are cancelled, everything recorded stays, resume goes on."""
        session.stop(reason)

    def abandon(self, session: Session) -> None:
        """A session prepared (stored as running) but never started: left interrupted, so it can resume.

        Through the session's own store, which holds its lease: the lease goes back with the status."""
        if session.recorder is not None:
            session.recorder.close()
        session.store.update_status(session.session_id, "interrupted")

    def delete(self, session_id: str) -> None:
        with self._store() as store:
            store.delete_session(session_id)

    # -- what is stored --------------------------------------------------------------------
    def session(self, session_id: str) -> StoredSession:
        """The stored session, config and versions decoded, with its models (UnknownSession if none)."""
        with self._store() as store:
            return store.get_session(session_id)

    def events(self, session_id: str) -> list[dict[str, Any]]:
        with self._store() as store:
            return store.events(session_id)

    def list_sessions(
        self, flt: SessionFilter | None = None, limit: int | None = None
    ) -> tuple[list[SessionRow], int]:
        """The matching sessions, newest first, and how many match in all (no pricing: no DSPy import).
        No database yet means no sessions: it is not created (nor its schema imported) just to say so."""
        if not self.paths.db_path.exists():
            return [], 0
        from dspy_tui.storage.history import list_sessions

        with self._store() as store:
            return list_sessions(store, flt, limit)

    def summary(self, session_id: str) -> dict[str, Any]:
        """The `sessions show --json` object: the session, its call totals and its models."""
        from .metrics import converged_share, normalise

        with self._store() as store:
            s = store.get_session(session_id)
            totals = store.call_totals(session_id)
            by_phase, judge = store.cost_by_phase(session_id), store.cost_by_phase(session_id, "judge")
        metrics = {m.model: normalise(m.stored.metrics) for m in s.models}
        labels = price_labels(s.config)
        return {
            "id": s.id,
            "name": s.name,
            "status": s.status,
            "task": s.task,
            "created_at": s.created_at,
            "updated_at": s.updated_at,
            "seed": s.seed,
            "budget_usd": s.budget_usd,
            "cost_usd": totals["cost_usd"],
            "calls": totals["calls"],
            "cache_hits": totals["cache_hits"],
            "errors": totals["errors"],  # failed calls: not those a stop cancelled (storage/call_outcomes.py)
            "cancelled": totals["cancelled"],
            "error": s.error,
            "refused_by_budget": totals["refused_by_budget"],
            "estimated_cost_usd": totals["estimated_cost_usd"],
            "versions": s.versions,
            "config": s.config,
            "converged_share": converged_share([m.status for m in s.models]),
            "judge_cost_by_phase": judge,  # the llm_judge's calls, apart from a competitor of the same id
            "models": [
                {
                    "model": m.model,
                    "provider": m.provider,
                    "status": m.status,
                    "baseline_score": m.baseline,
                    "best_dev_score": m.best_dev,
                    "test_score": m.test,
                    "test_ci": list(m.ci or (None, None)),
                    "cost_usd": None if "cost_usd" in metrics[m.model]["na"] else m.cost_usd,
                    "cost_note": metrics[m.model]["na"].get("cost_usd"),
                    "price": labels.get(m.model, "unpriced"),  # where its price comes from, dated
                    "calls": m.calls,
                    "errors": m.errors,
                    "cancelled": m.cancelled,
                    "error": m.error,
                    "metrics": metrics[m.model],
                    "cost_by_phase": by_phase.get(m.model, {}),
                    "errored_examples": m.stored.errored_examples or {},
                    "unparsed": m.stored.unparsed or 0,
                    "degraded": m.stored.degraded,
                    "outcomes": m.stored.outcomes or {},
                }
                for m in s.models
            ],
        }

    def results(self, session_id: str, config: Mapping[str, Any] | None = None) -> list[ModelResult]:
        """Each model's stored results, priced from the session's config (imports pricing, so DSPy)."""
        with self._store() as store:
            if config is None:
                config = store.get_session(session_id).config
            results = store.model_results(session_id)
        return with_prices(results, price_labels(config))

    def programs(self, session_id: str) -> list[str]:
        """Models with a stored program to export."""
        with self._store() as store:
            return store.models_with_programs(session_id)

    def compare(self, session_ids: Sequence[str]) -> CompareRows:
        """Several sessions' models and rounds, read without touching `calls`."""
        from dspy_tui.storage.history import compare_rows

        with self._store() as store:
            return compare_rows(store, session_ids)

    def stored_report(self, session_id: str, fmt: str = "md") -> str | None:
        """The report written when the session ended, as stored in the database."""
        with self._store() as store:
            return store.report(session_id, fmt)

    def report_paths(self, session_id: str) -> dict[str, str]:
        """The report files on disk under exports/ID/, by format."""
        out = self.paths.exports_dir / session_id
        return {fmt: str(out / f"report.{fmt}") for fmt in REPORT_FORMATS if (out / f"report.{fmt}").exists()}

    # -- reports and programs ------------------------------------------------------------------
    def render_report(self, session_id: str, fmt: str = "md") -> str:
        """The report built now from what the database holds (during a session, after it, after a crash)."""
        from .exports import render_report

        import_dspy()  # the report's prices

        with self._store() as store:
            store.get_session(session_id)  # an unknown id reads as one sentence
            return render_report(store, session_id, fmt)

    def write_reports(self, session_id: str, formats: Iterable[str] = REPORT_FORMATS) -> dict[str, Path]:
        """Render each format and write it, atomically, to exports/ID/report.FORMAT."""
        from .exports import write_reports

        import_dspy()

        with self._store() as store:
            store.get_session(session_id)
            return write_reports(store, session_id, self.paths.exports_dir / session_id, formats)

    def write_report(self, session_id: str, fmt: str, path: Path, *, force: bool = False) -> Path:
        """One format to a file the user named: never onto the database, an existing file only with `force`."""
        from dspy_tui.storage.files import write_output

        return write_output(
            path, self.render_report(session_id, fmt), database=self.paths.db_path, force=force
        )

    def export_program(
        self, session_id: str, model: str, path: Path | None = None, *, force: bool = False
    ) -> Path:
        """The model's best stored program as DSPy JSON: to `path` (replaced only with `force`), or to
        exports/ID/MODEL.json, the session's own folder, where exporting again refreshes it."""
        import_dspy()  # the program's module classes
        from .exports import export_checkpoint
        from .session import slug

        target = path or self.paths.exports_dir / session_id / f"{slug(model)}.json"
        with self._store() as store:
            store.get_session(session_id)
            return export_checkpoint(store, session_id, model, target, force=force or path is None)


def price_labels(config: Mapping[str, Any]) -> dict[str, str]:
    """model -> where its price comes from: "list 2026-11", "litellm 1.x.y", "config", "local",
    "offline/simulated" or "unpriced" (imports pricing: DSPy)."""
    from .pricing import model_prices, price_label

    return {model: price_label(price) for model, price in model_prices(config).items()}


def with_prices(results: Iterable[ModelResult], labels: Mapping[str, str]) -> list[ModelResult]:
    """The results with their price labels, so cost per correct knows an unpriced model."""
    from dataclasses import replace

    results = list(results)
    missing = [r.model for r in results if r.model not in labels]
    labels = {**labels, **price_labels({"models": missing})} if missing else labels
    return [replace(r, price_label=labels[r.model]) for r in results]
