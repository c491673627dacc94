"""The session service: the one lifecycle the CLI and the TUI share (create, start, stop, resume, delete, report)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dspy_tui.engine.config import parse_config
from dspy_tui.engine.exports import report_data
from dspy_tui.engine.service import ResumeRefused, SessionService
from dspy_tui.storage.paths import Paths, resolve_paths
from dspy_tui.storage.sessions import SessionBusy, SessionStore, UnknownSession

CONFIG: dict[str, Any] = {
    "name": "service",
    "task": {"dataset": "demo:sentiment"},
    "optimizer": "bootstrap",
    "rounds": 1,
    "models": ["offline/small", "offline/base"],
    "seed": 5,
}


@pytest.fixture
def service() -> SessionService:
    return SessionService(resolve_paths())


def test_create_start_report_export_delete(service: SessionService) -> None:
    session = service.create(parse_config(CONFIG))
    sid = session.session_id
    assert service.session(sid).status == "running"
    assert service.start(session) == "completed"

    results = service.results(sid)
    assert [r.model for r in results] == ["offline/small", "offline/base"]
    for r in results:
        assert r.test is not None and r.price_label == "offline/simulated" and r.offline
        assert r.stored.benchmark_cost_usd == 0.0 and r.cost_per_correct == 0.0
    written = service.write_reports(sid, ("md", "json"))
    assert written == {f: service.paths.exports_dir / sid / f"report.{f}" for f in ("md", "json")}
    assert not list((service.paths.exports_dir / sid).glob("*.tmp")), "a temporary file was left behind"
    assert json.loads(written["json"].read_text())["session"]["id"] == sid
    assert service.stored_report(sid, "md") == written["md"].read_text()
    assert service.render_report(sid, "md").startswith("#")

    program = service.export_program(sid, "offline/base")
    assert program == service.paths.exports_dir / sid / "offline_base.json" and json.loads(
        program.read_text()
    )
    assert service.programs(sid) == ["offline/base", "offline/small"]
    rows, total = service.list_sessions()
    assert (
        total == 1
        and rows[0].id == sid
        and set((rows[0].models or "").split(", ")) == {"offline/small", "offline/base"}
    )

    with pytest.raises(ResumeRefused, match="already completed; look"):
        service.resume(sid, completed_hint="look")
    service.delete(sid)
    with pytest.raises(UnknownSession):
        service.session(sid)
    assert service.list_sessions() == ([], 0)


def test_stopped_session_resumes_to_the_same_end(service: SessionService) -> None:
    session = service.create(parse_config(CONFIG))
    service.stop(session)  # before the first call: nothing runs, everything stays resumable
    assert service.start(session) == "stopped"
    assert service.session(session.session_id).status == "stopped"

    resumed = service.resume(session.session_id)
    assert resumed.resumed and resumed.session_id == session.session_id
    assert service.start(resumed) == "completed"
    assert all(r.test is not None for r in service.results(session.session_id))


def test_a_running_session_is_not_resumed_and_an_abandoned_one_is(service: SessionService) -> None:
    session = service.create(parse_config(CONFIG))  # prepared: stored as running, its lease held here
    with pytest.raises(SessionBusy, match="already running"):
        service.resume(session.session_id)
    service.abandon(session)
    assert service.session(session.session_id).status == "interrupted"
    assert service.resume(session.session_id).resumed


def _stored_session(paths: Paths) -> str:
    """A finished session of a priced model and an unpriced one, written as the engine writes it."""
    store = SessionStore(paths.db_path)
    models = ["openai/gpt-4o-mini", "openai/my-finetune"]
    sid = store.create_session(
        name="priced",
        config={"models": models, "task": {"dataset": "demo:sentiment"}},
        models=[(m, "openai") for m in models],
        seed=0,
    )
    for m in models:
        store.update_model(
            sid,
            m,
            status="done",
            test_score=0.5,
            cost_usd=0.9,
            calls=10,
            results={
                "test_scores": [1.0, 0.0, 1.0, 0.0],
                "test_ids": ["a", "b", "c", "d"],
                "benchmark_cost_usd": 0.1,
            },
        )
    store.update_status(sid, "completed")
    store.close()
    return sid


def test_every_reader_gets_one_cost_per_correct(service: SessionService) -> None:
    """Report, detail screen and live results once used three rules (the live and history screens
    divided an unpriced model's cost); they read one record now, and the one-off optimization
    spend is not part of the price of an answer."""
    from dspy_tui.tui.history import load_compare, load_detail

    sid = _stored_session(service.paths)
    expected = {"openai/gpt-4o-mini": 0.1 / 2, "openai/my-finetune": None}
    assert {r.model: r.cost_per_correct for r in service.results(sid)} == expected
    store = SessionStore(service.paths.db_path)
    assert {m["model"]: m["cost_per_correct"] for m in report_data(store, sid)["models"]} == expected
    store.close()
    assert {m.model: m.cost_per_correct for m in load_detail(service.paths, sid).models} == expected
    report = json.loads(service.render_report(sid, "json"))
    assert {m["model"]: m["cost_per_correct"] for m in report["models"]} == expected
    # compare reads without pricing (no DSPy): the priced model's figure is the same there
    [priced, _] = load_compare(service, [sid]).entries
    assert priced.result.cost_per_correct == expected["openai/gpt-4o-mini"]


def test_the_one_off_optimization_spend_is_shown_next_to_cost_per_correct(service: SessionService) -> None:
    """0.9 spent, 0.1 of it on the benchmark: 0.8 was the one-off price of getting the program."""
    sid = _stored_session(service.paths)
    expected = {"openai/gpt-4o-mini": pytest.approx(0.8), "openai/my-finetune": None}
    assert {r.model: r.one_off_cost_usd for r in service.results(sid)} == expected
    report = json.loads(service.render_report(sid, "json"))
    assert {m["model"]: m["one_off_cost_usd"] for m in report["models"]} == expected
    md = service.render_report(sid, "md")
    assert "| cost | cost/correct | one-off |" in md and "| $0.9000 | $0.0500 | $0.8000 |" in md


def test_cli_front_end_goes_through_the_service(tmp_path: Path) -> None:
    from dspy_tui.cli.main import main

    sid = _stored_session(resolve_paths())
    out = tmp_path / "r.md"
    assert main(["report", sid, "-o", str(out)]) == 0 and out.read_text().startswith("#")
    assert main(["resume", sid]) == 2  # completed: one sentence, exit 2
    assert main(["sessions", "delete", sid]) == 0
    assert main(["sessions", "show", sid]) == 2


def test_the_report_shows_each_phases_cost_where_the_price_comes_from_and_the_judge_apart(
    service: SessionService,
) -> None:
    from dspy_tui.engine.events import CallCompleted
    from dspy_tui.engine.pricing import PRICES_AS_OF

    sid = _stored_session(service.paths)
    mini = "openai/gpt-4o-mini"
    spent = {"baseline": 0.05, "optimization": 0.75, "benchmark": 0.1}
    calls = [
        CallCompleted(session_id=sid, model=mini, provider="openai", phase=p, cost_usd=c, call_id=p)
        for p, c in spent.items()
    ]
    calls.append(  # a judge of the competitor's own id, rating its answers
        CallCompleted(
            session_id=sid, model=mini, provider="openai", phase="judge", role="judge", cost_usd=0.02
        )
    )
    store = SessionStore(service.paths.db_path)
    store.record_calls([c.model_dump() for c in calls])
    store.close()
    report = json.loads(service.render_report(sid, "json"))
    shown = {m["model"]: m for m in report["models"]}
    assert shown[mini]["cost_by_phase"] == pytest.approx(spent)
    assert (shown[mini]["price"], shown["openai/my-finetune"]["price"]) == (
        f"list {PRICES_AS_OF}",
        "unpriced",
    )
    md = service.render_report(sid, "md")
    assert f"| {mini} | list {PRICES_AS_OF} | $0.0500 | $0.7500 | $0 | $0.1000 | $0.8000 | $0.0500 |" in md
    assert "| openai/my-finetune | unpriced | unpriced |" in md  # never $0 for an unknown price
    assert f"The judge {mini} cost $0.0200, not counted in any model's cost." in md
