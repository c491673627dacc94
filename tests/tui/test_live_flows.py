"""Pilot tests of the live screen and the app around it, driven by a scripted engine stand-in."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable
from tui_support import (
    MODELS,
    T0,
    ScriptedSession,
    answer,
    fixed_clock,
    home_lists,
    script,
    scripted,
    wait_for,
)

from dspy_tui.engine import events as ev
from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens.detail import DetailScreen
from dspy_tui.tui.screens.home import HomeScreen
from dspy_tui.tui.screens.live import LiveScreen
from dspy_tui.tui.screens.modals import HelpScreen, ReportScreen
from dspy_tui.tui.widgets.event_log import EventLog
from dspy_tui.tui.widgets.round_chart import RoundChart


def cell(table: DataTable[Any], row: str, column: str) -> str:
    return str(table.get_cell(row, column))


async def test_screen_updates_without_input(store: SessionStore, paths: Paths) -> None:
    """Rows change, the chart grows, calls and cost move while nobody touches a key."""
    events = script(MODELS, rounds_done=3, finished=True)
    # the script waits once the baseline is done until the test has seen it: a loaded machine cannot skip it
    optimization = next(
        i for i, e in enumerate(events) if isinstance(e, ev.PhaseStarted) and e.phase == "optimization"
    )
    session = ScriptedSession(store, paths, events, delay=0.02, gate_at=optimization)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), what="the live screen")
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        table = screen.query_one("#models", DataTable)
        await wait_for(
            pilot,
            lambda: "offline/base" in table.rows and cell(table, "offline/base", "phase") == "baseline",
            what="the baseline phase on screen",
        )
        session.gate.set()
        seen_calls: list[str] = []
        seen_points: list[int] = []
        seen_drawn: list[int] = []
        seen_spent: list[float] = []
        seen_phase = {"baseline"}  # seen on screen: waited for above
        while not screen.runner.done.is_set() or session.published < len(session.events):
            await pilot.pause(0.1)
            seen_calls.append(cell(table, "openai/gpt-4o-mini", "calls"))
            seen_phase.add(cell(table, "offline/base", "phase"))
            seen_points.append(sum(len(p) for p in screen.runner.state.points.values()))
            seen_drawn.append(screen.query_one(RoundChart).points_drawn)
            seen_spent.append(screen.runner.state.spent_usd)
        await pilot.pause(0.5)
        assert len(set(seen_calls)) >= 3, seen_calls
        assert seen_points == sorted(seen_points) and seen_points[-1] > seen_points[0]
        assert seen_spent == sorted(seen_spent) and seen_spent[-1] > seen_spent[0]
        assert {"baseline", "optimize", "bench"} <= seen_phase, seen_phase
        assert seen_drawn == sorted(seen_drawn) and seen_drawn[-1] >= 10, seen_drawn  # the chart grew
        assert screen.runner.state.status == "completed"
        assert screen.results_shown
        bench = screen.query_one("#bench-table", DataTable)
        assert bench.row_count == 3


async def test_stop_asks_then_stops_and_session_is_resumable(store: SessionStore, paths: Paths) -> None:
    session = scripted(store, paths, 2)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: session.published == len(session.events), what="the script")
        await answer(pilot, "s", "n")  # keep running
        await pilot.pause(0.2)
        assert not session.stop_event.is_set()
        await answer(pilot, "s", "y")
        await wait_for(pilot, lambda: app.runner is not None and app.runner.done.is_set(), what="the stop")
        await pilot.pause(0.5)
        assert app.runner is not None and app.runner.outcome == "stopped"
        assert isinstance(app.screen, LiveScreen)
        assert app.screen.runner.state.status == "stopped"
    assert store.get_session(session.session_id).status == "stopped"


async def test_quit_during_a_run_asks_then_stops_cleanly(store: SessionStore, paths: Paths) -> None:
    session = scripted(store, paths, 1)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: session.published == len(session.events))
        await answer(pilot, "ctrl+q", "escape")  # changed my mind
        await pilot.pause(0.2)
        assert app.is_running and not session.stop_event.is_set()
        await pilot.press("escape")  # home, the session keeps running
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        assert app.screen.query_one("#running-banner").display
        await answer(pilot, "q", "y")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
    assert session.stop_event.is_set() and session.stop_reason == "user"
    assert store.get_session(session.session_id).status == "stopped"


async def test_escape_home_and_back_keeps_the_live_screen(store: SessionStore, paths: Paths) -> None:
    session = scripted(store, paths, 2)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: session.published == len(session.events))
        live = app.screen
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        home = app.screen
        await wait_for(pilot, lambda: home.query_one("#sessions", DataTable).row_count == 1, what="the list")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is live, what="the same live screen")
        session.stop()


async def test_filter_help_and_metric_keys(store: SessionStore, paths: Paths) -> None:
    session = scripted(store, paths, 2)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: session.published == len(session.events))
        await pilot.pause(0.4)
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        log = screen.query_one(EventLog)
        everything = len(log.shown)
        await pilot.press("f")
        panel = screen.filter_panel
        await wait_for(pilot, lambda: panel.display)
        panel.model_select.value = "offline/base"
        panel.kind_list.deselect_all().select("round_completed")
        await pilot.click("#apply")
        await wait_for(pilot, lambda: not panel.display)
        assert 0 < len(log.shown) < everything
        assert {(e.model, e.type) for e in log.shown} == {("offline/base", "round_completed")}
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await pilot.press("m")
        assert screen.query_one(RoundChart).metric == "cost"
        assert "cost" in str(screen.query_one("#chart-pane").border_title)
        session.stop()


async def test_finished_session_opens_its_detail_with_report(store: SessionStore, paths: Paths) -> None:
    session = scripted(store, paths, 3, finished=True)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.runner is not None and app.runner.done.is_set())
        await pilot.press("escape")
        await home_lists(pilot, 1)
        await pilot.press("enter")  # it ran here, but it is over: its detail, not the live screen
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), what="the finished session")
    # a new app: the session comes from the database only
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 1)
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None,
            what="the stored session",
        )
        screen = app.screen
        assert isinstance(screen, DetailScreen) and screen.detail is not None
        assert screen.detail.state.status == "completed"
        assert sum(len(p) for p in screen.detail.state.points.values()) > 6
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReportScreen), timeout=30, what="the report")


async def test_a_throttled_model_says_what_it_waits_for(store: SessionStore, paths: Paths) -> None:
    """Per-model steps, ETA and "rate-limited, retrying in N s", and a provider line (issue 16.5)."""
    # no limiter sample yet: the provider line adds up the calls (test_provider_footer.py has the samples)
    events = [e for e in script(MODELS, rounds_done=2, finished=False) if not isinstance(e, ev.ProviderStats)]
    events.append(
        ev.ModelThrottled(model="openai/gpt-4o-mini", reason="rate limited", retry_in_s=74, ts=T0 + 58)
    )
    session = ScriptedSession(store, paths, events, hold=True)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)  # the clock reads T0 + 95
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: session.published == len(events), what="the script")
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        table = screen.query_one("#models", DataTable)
        await wait_for(
            pilot, lambda: "retrying" in cell(table, "openai/gpt-4o-mini", "status"), what="the wait"
        )
        assert cell(table, "openai/gpt-4o-mini", "status") == "rate-limited, retrying in 37 s"
        assert cell(table, "offline/base", "status") == "running"
        assert (
            cell(table, "offline/base", "steps") == "3/6"
        )  # baseline and two rounds of 1 + 3 + cross + bench
        assert cell(table, "offline/small", "steps") == "3/5"  # converged after round 2: no third round
        assert cell(table, "offline/base", "eta") != "-"
        assert cell(table, "offline/base", "limited") == "3"  # the scripted 429s: one per baseline and round
        providers = str(screen.query_one("#providers").render())
        assert "openai  14 calls · paused 37 s" in providers and "offline" not in providers
        session.stop()


async def test_a_stopped_session_shows_its_converged_model_stopped_as_stored(
    store: SessionStore, paths: Paths
) -> None:
    """offline/small converged after round 2; a stop before its benchmark stores it `stopped` (the
    engine's _guarded), so the live table says `stopped` too, not `converged` (issue 16.6)."""
    session = scripted(store, paths, 3)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: session.published == len(session.events), what="the script")
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        table = screen.query_one("#models", DataTable)
        await wait_for(
            pilot, lambda: cell(table, "offline/small", "status") == "converged", what="the convergence"
        )
        session.stop()
        await wait_for(pilot, lambda: screen.runner.done.is_set(), what="the stop")
        await pilot.pause(0.3)
        assert {cell(table, m, "status") for m in MODELS} == {"stopped"}
        assert cell(table, "offline/small", "steps") == "3/5"  # converged: cross-model and benchmark to go


def stored_stopped_session(store: SessionStore, paths: Paths, rounds_done: int, *end: ev.Event) -> str:
    """A session stored as stopped after `rounds_done` rounds, its events ending with `end`."""
    first = ScriptedSession(store, paths, [*script(MODELS, rounds_done=rounds_done, finished=False), *end])
    first.run()
    store.update_status(first.session_id, "stopped")
    return first.session_id


async def resume_from_home(pilot: Any, app: DspyTuiApp) -> None:
    """`r` on home's only session."""
    await home_lists(pilot, 1, what="the list")
    await pilot.press("r")


async def test_a_resumed_session_opens_on_its_stored_state(
    store: SessionStore, paths: Paths, monkeypatch: Any
) -> None:
    """Resuming from home: the live screen's first rows are the stored ones (steps, stopped), not blank
    pending rows while the engine loads (issue 16.6: contradictory rows for about a second)."""
    import threading

    from dspy_tui.engine import service as service_module

    sid = stored_stopped_session(store, paths, 2, ev.SessionStopped(reason="user", ts=T0 + 90))
    resumed = ScriptedSession(
        store, paths, script(MODELS, rounds_done=2, finished=False), session_id=sid, gate_at=0
    )
    monkeypatch.setattr(service_module.SessionService, "resume", lambda self, sid, **kw: resumed)
    loading = threading.Event()  # the engine worker's slow start (DSPy, prices) waits for the test
    real_labels = service_module.price_labels
    monkeypatch.setattr(
        service_module, "price_labels", lambda config: (loading.wait(10), real_labels(config))[1]
    )
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await resume_from_home(pilot, app)
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), what="the live screen")
        await pilot.pause(0.1)
        screen = app.screen
        assert isinstance(screen, LiveScreen)
        table = screen.query_one("#models", DataTable)
        assert cell(table, "offline/base", "steps") == "3/6"  # stopped after the baseline and two rounds
        assert {cell(table, m, "status") for m in MODELS} == {"stopped"}
        loading.set()
        resumed.gate.set()
        await wait_for(pilot, lambda: screen.runner.done.is_set(), what="the resumed run")


async def test_a_budget_stop_says_what_was_spent_and_how_to_go_on(store: SessionStore, paths: Paths) -> None:
    """Not "the budget is spent": the engine's words (spent, left) and `resume ID --budget USD`."""
    session = scripted(store, paths, 1)
    session.budget.preload(0.0497)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: session.published == len(session.events), what="the script")
        session.stop("budget")
        await wait_for(
            pilot, lambda: any("budget" in n.message for n in app._notifications), what="the sentence"
        )
        message = next(n.message for n in app._notifications if "budget" in n.message)
        assert "$0.0497 of $0.0500 spent, $0.0003 left" in message, message
        assert f"dspy-tui resume {session.session_id} --budget USD" in message, message


async def test_resuming_a_budget_stopped_session_asks_for_a_larger_budget(
    store: SessionStore, paths: Paths, monkeypatch: Any
) -> None:
    """`r` on a session its budget stopped: a dialog takes a new budget (not below what was spent), the
    service raises it as `resume ID --budget USD` does, and the session resumes."""
    from textual.widgets import Input

    from dspy_tui.engine import service as service_module
    from dspy_tui.tui.screens.modals import BudgetScreen

    sid = stored_stopped_session(
        store,
        paths,
        1,
        ev.BudgetExhausted(spent_usd=0.0496, budget_usd=0.05, ts=T0 + 89),
        ev.SessionStopped(reason="budget", ts=T0 + 90),
    )
    resumed = ScriptedSession(store, paths, script(MODELS, rounds_done=1, finished=False), session_id=sid)
    created: list[float | None] = []

    def create(self: Any, config: Any, session_id: str | None = None) -> ScriptedSession:
        created.append(config.budget_usd)
        return resumed

    monkeypatch.setattr(service_module.SessionService, "create", create)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await resume_from_home(pilot, app)
        await wait_for(pilot, lambda: isinstance(app.screen, BudgetScreen), what="the budget dialog")
        field = app.screen.query_one(Input)
        field.value = "0.001"  # below what was spent: refused, the dialog stays
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, BudgetScreen) and not created
        field.value = "0.2"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), what="the resumed session")
        assert created == [0.2]
        await wait_for(pilot, lambda: app.screen.runner.done.is_set(), what="the resumed run")
    assert store.get_session(sid).budget_usd == 0.2


def test_a_model_done_with_its_rounds_says_whom_it_waits_for() -> None:
    """Issue 16.5: a fast model that finished its rounds waits at the cross-model trial for the slow
    ones; its row said `running` (it looked hung), now it names whom it waits for."""
    from dspy_tui.engine import events as ev
    from dspy_tui.tui.live_state import LiveState
    from dspy_tui.tui.widgets.models_table import cells

    fast, slow, slower = "offline/base", "groq/llama-3.3-70b-versatile", "anthropic/claude-3-5-haiku-20241022"
    state = LiveState("s1", "wait", [fast, slow, slower], rounds=2, cross_model=True, budget_usd=None)
    state.apply([ev.SessionStarted(models=[fast, slow, slower], ts=0.0)])
    state.apply([ev.PhaseStarted(model=m, phase="optimization", ts=1.0) for m in (fast, slow, slower)])
    state.apply([ev.PhaseCompleted(model=fast, phase="optimization", ts=2.0)])

    def status(model: str) -> str:
        return str(cells(state, state.models[model], 0, "", 3.0)["status"])

    assert status(fast) == "waiting for 2 models"
    assert status(slow) == "running"
    state.apply([ev.PhaseCompleted(model=slow, phase="optimization", ts=3.0)])
    assert status(fast) == "waiting for anthropic/claude-3-5-haiku-20241022"
    narrow = cells(state, state.models[fast], 0, "", 3.0)["status"]
    assert str(narrow.short) == "waiting for claude-3-5-haiku-20241022"  # a model, not a provider's limiter
    state.apply([ev.PhaseCompleted(model=slower, phase="optimization", ts=4.0)])
    state.apply([ev.PhaseStarted(model=m, phase="cross_model", ts=4.0) for m in (fast, slow, slower)])
    assert status(fast) == "running"


def test_a_waiting_models_eta_is_that_of_the_models_it_waits_for() -> None:
    """Its ETA counted each second of the wait as work: 2 rounds in 1 s, then 60 s of waiting for a
    slow model read as 91.5 s left (and growing) while the slow model needs 244 s; it goes on when the
    slow model does."""
    from dspy_tui.engine import events as ev
    from dspy_tui.tui.live_state import LiveState

    fast, slow = "offline/base", "groq/llama-3.3-70b-versatile"
    state = LiveState("s1", "wait", [fast, slow], rounds=2, cross_model=True, budget_usd=None)
    state.apply([ev.SessionStarted(models=[fast, slow], ts=0.0)])
    state.apply([ev.PhaseStarted(model=m, phase="optimization", ts=0.0) for m in (fast, slow)])
    state.apply([ev.CallCompleted(model=m, ts=0.0) for m in (fast, slow)])  # sent: the ETA learns from them
    state.apply([ev.RoundCompleted(model=fast, round=r, ts=0.5 * r) for r in (1, 2)])
    state.apply([ev.PhaseCompleted(model=fast, phase="optimization", ts=1.0)])
    state.apply([ev.RoundCompleted(model=slow, round=1, ts=30.0)])
    assert state.waiting_for(fast) == [slow]
    for now in (61.0, 121.0):
        assert state.eta(fast, now) == state.eta(slow, now) is not None, f"at {now} s"


def test_a_stopped_models_steps_keep_the_steps_still_to_run() -> None:
    """Stopped after its baseline and two rounds of five, a model's row read `3/3 stopped`, as if it had
    done everything; it reads `3/8`: the resume runs the other five."""
    from dspy_tui.engine import events as ev
    from dspy_tui.tui.live_state import LiveState
    from dspy_tui.tui.widgets.models_table import cells

    model = "offline/base"
    state = LiveState("s1", "stop", [model, "offline/small"], rounds=5, cross_model=True, budget_usd=None)
    state.apply([ev.SessionStarted(models=[model, "offline/small"], ts=0.0)])
    state.apply([ev.PhaseStarted(model=model, phase="optimization", ts=1.0)])
    state.apply([ev.RoundCompleted(model=model, round=r, ts=1.0 + r) for r in (0, 1, 2)])
    state.apply([ev.SessionStopped(reason="user", ts=5.0)])
    row = cells(state, state.models[model], 0, "", 6.0)
    assert (row["steps"], str(row["status"])) == ("3/8", "stopped")


def test_a_model_past_its_benchmark_is_done_with_all_its_steps_when_the_budget_stops_the_session() -> None:
    """Seen in tmux against a fake groq with a $0.05 budget: the cross-model leader (offline/base) had
    its test score, yet read `5/6 stopped` once the budget stopped the session, as if it had to resume;
    the session stored it as done. The leader runs no cross-model trial of its own."""
    from dspy_tui.engine import events as ev
    from dspy_tui.tui.live_state import LiveState

    leader, other = "offline/base", "groq/llama-3.3-70b-versatile"
    state = LiveState("s1", "stop", [leader, other], rounds=1, cross_model=True, budget_usd=0.05)
    state.apply([ev.SessionStarted(models=[leader, other], ts=0.0)])
    for model in (leader, other):
        state.apply([ev.PhaseStarted(model=model, phase="baseline", ts=1.0)])
        state.apply([ev.RoundCompleted(model=model, round=0, dev_score=0.4, best_dev_score=0.4, ts=1.5)])
        state.apply([ev.PhaseStarted(model=model, phase="optimization", ts=2.0)])
        state.apply([ev.RoundCompleted(model=model, round=1, dev_score=0.7, best_dev_score=0.7, ts=2.5)])
        state.apply([ev.PhaseCompleted(model=model, phase="optimization", ts=3.0)])
    state.apply([ev.PhaseStarted(model=leader, phase="benchmark", ts=3.0)])
    state.apply([ev.BenchmarkProgress(model=leader, done=75, total=75, test_score=0.69, ts=3.5)])
    state.apply([ev.PhaseStarted(model=other, phase="cross_model", ts=3.0)])
    assert state.model_steps(leader) == (3, 3)
    assert state.models[leader].status == "done"
    state.apply([ev.SessionStopped(reason="budget", ts=4.0)])
    assert state.models[leader].status == "done"
    assert state.models[other].status == "stopped"
    assert state.model_steps(other) == (2, 4)  # it resumes its trial and benchmark
