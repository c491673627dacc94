"""The app driving the real engine on the offline models: start with the defaults, stop, resume, quit.

These run real DSPy optimizations (no network: the offline provider) in a
fresh DSPY_TUI_HOME, so nothing comes from an earlier run's call cache.
"""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from tui_support import answer, fixed_clock, home_lists, wait_for

from dspy_tui.engine.config import SessionConfig, parse_config
from dspy_tui.storage.paths import Paths
from dspy_tui.storage.session_record import SessionRow
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens.home import HomeScreen
from dspy_tui.tui.screens.live import LiveScreen
from dspy_tui.tui.screens.new_session import NewSessionScreen

RUN_TIMEOUT = 120


async def start_with_defaults(pilot: Pilot[int]) -> LiveScreen:
    """n, then F5: the promise of the empty home screen."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, NewSessionScreen))
    await pilot.press("f5")
    await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), timeout=60, what="the session to start")
    screen = app.screen
    assert isinstance(screen, LiveScreen)
    return screen


async def test_new_session_with_defaults_runs_to_completion(paths: Paths) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        live = await start_with_defaults(pilot)
        assert [m for m in live.runner.state.models] == ["offline/small", "offline/base", "offline/large"]
        await wait_for(
            pilot, lambda: live.runner.done.is_set(), timeout=RUN_TIMEOUT, what="the session to end"
        )
        await wait_for(pilot, lambda: live.results_shown)
        state = live.runner.state
        assert live.runner.outcome == "completed" and state.status == "completed"
        assert all(r.test_score is not None and r.calls > 0 for r in state.models.values())
        assert live.benchmark.table.row_count == 3
        assert Path(state.report_paths["md"]).exists()
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
    store = SessionStore(paths.db_path)
    session = store.list_sessions()[0]
    assert session.status == "completed" and session.best_test_score is not None
    assert store.report(session.id, "md")


async def test_stop_then_resume_from_home(paths: Paths) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        live = await start_with_defaults(pilot)
        await wait_for(
            pilot,
            lambda: sum(len(p) for p in live.runner.state.points.values()) >= 3,
            timeout=RUN_TIMEOUT,
            what="the baselines",
        )
        await answer(pilot, "s", "y")
        await wait_for(pilot, lambda: live.runner.done.is_set(), timeout=30, what="the stop")
        assert live.runner.outcome == "stopped"
        sid = live.runner.session_id
        calls_before = sum(r.calls for r in live.runner.state.models.values())
        assert SessionStore(paths.db_path).get_session(sid).status == "stopped"

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen) and app.screen.selected_id() == sid)
        await pilot.press("r")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, LiveScreen) and app.screen is not live,
            timeout=60,
            what="the resumed session",
        )
        resumed = app.screen
        assert isinstance(resumed, LiveScreen) and resumed.runner.session.resumed
        await wait_for(
            pilot, lambda: resumed.runner.done.is_set(), timeout=RUN_TIMEOUT, what="the resumed run"
        )
        assert resumed.runner.outcome == "completed"
        state = resumed.runner.state
        assert sum(r.cache_hits for r in state.models.values()) > 0  # paid calls came from the cache
        assert sum(r.calls for r in state.models.values()) >= calls_before  # history kept, then more
    assert SessionStore(paths.db_path).get_session(sid).status == "completed"


async def test_quit_during_a_real_run_leaves_it_stopped_and_resumable(paths: Paths) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        live = await start_with_defaults(pilot)
        await wait_for(pilot, lambda: live.runner.state.status == "running", timeout=60)
        sid = live.runner.session_id
        await answer(pilot, "ctrl+q", "y")
        await wait_for(pilot, lambda: not app.is_running, timeout=60, what="the app to exit")
    assert live.runner.outcome == "stopped"
    stored = SessionStore(paths.db_path).get_session(sid)
    assert stored.status == "stopped"
    from dspy_tui.engine.service import SessionService

    session = SessionService(paths).resume(sid)  # what `r` on home does: the stored config loads and prepares
    assert session.resumed and session.session_id == sid


async def test_a_repeated_run_started_here_runs_every_seed(paths: Paths) -> None:
    """Issue 15: `repeats = 2` from the TUI runs seeds 0 and 1 (one session each, one repeat group), as
    `dspy-tui run` does; before, the TUI ran only the first seed."""
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        app.start_new(_repeats_config("twice", 2))
        await _wait_for_seeds(pilot, app, paths, 2)
    _assert_one_run_of_seeds(paths, "twice", 2)


async def test_resuming_a_seed_of_a_repeated_run_goes_on_with_the_seeds_never_started(paths: Paths) -> None:
    """The seed queue lived in the app: a run stopped (or the TUI quit) at seed 1 of 0, 1, 2 left seed 2
    unstarted for good, since a resume ran seed 1 alone. Now resuming it runs the seeds that have no
    session after it, in the run's group (here 0 and 2: only seed 1 was ever started)."""
    from dspy_tui.engine.repeats import seed_configs
    from dspy_tui.engine.service import SessionService

    service = SessionService(paths)
    stopped = service.create(seed_configs(_repeats_config("thrice", 3))[1])  # seed 1, never run: interrupted
    service.abandon(stopped)
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        app._prepare(None, stopped.session_id)
        await _wait_for_seeds(pilot, app, paths, 3)
    _assert_one_run_of_seeds(paths, "thrice", 3)


def _repeats_config(name: str, repeats: int) -> SessionConfig:
    """One offline model, one round, run `repeats` times (seeds 0 .. repeats-1)."""
    return parse_config(
        {
            "name": name,
            "task": {"dataset": "demo:sentiment"},
            "models": [{"id": "offline/small"}],
            "rounds": 1,
            "repeats": repeats,
        },
        "the test",
    )


def _completed(paths: Paths) -> list[SessionRow]:
    return [s for s in SessionStore(paths.db_path).list_sessions() if s.status == "completed"]


async def _wait_for_seeds(pilot: Pilot[int], app: DspyTuiApp, paths: Paths, repeats: int) -> None:
    """Until every seed's session has completed and the app's runner is done."""
    await wait_for(
        pilot, lambda: len(_completed(paths)) == repeats, timeout=repeats * RUN_TIMEOUT, what="every seed"
    )
    await wait_for(pilot, lambda: app.runner is not None and app.runner.done.is_set())


def _assert_one_run_of_seeds(paths: Paths, name: str, repeats: int) -> None:
    """One completed session per seed, all in one repeat group, each named for its seed."""
    store = SessionStore(paths.db_path)
    sessions = [store.get_session(s.id) for s in _completed(paths)]
    assert sorted(s.seed for s in sessions) == list(range(repeats))
    assert len({s.config["repeat_group"] for s in sessions}) == 1
    assert sorted(s.name for s in sessions) == [f"{name} [seed {seed}]" for seed in range(repeats)]


async def test_r_on_a_completed_seed_runs_the_seeds_its_run_never_started(paths: Paths) -> None:
    """The app running `repeats = 2` quit after seed 0 completed: `r` on that seed said only "This
    session is completed" and seed 1 could never run from the TUI. Now r starts the unstarted seed in
    the run's group; on a completed session of no repeated run it still says it is completed."""
    from dspy_tui.engine.repeats import seed_configs
    from dspy_tui.engine.service import SessionService

    service = SessionService(paths)
    first = service.create(seed_configs(_repeats_config("twice", 2))[0])
    assert service.start(first) == "completed"
    single = service.create(seed_configs(_repeats_config("once", 1))[0])
    assert service.start(single) == "completed"
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 2)
        home = app.screen
        assert isinstance(home, HomeScreen)
        assert home.selected_id() == single.session_id  # newest first
        await pilot.press("r")
        await wait_for(
            pilot,
            lambda: any("completed" in str(n.message) for n in app._notifications),
            what="the completed session's answer",
        )
        assert not isinstance(app.screen, LiveScreen)
        await pilot.press("down", "r")  # seed 0 of the repeated run
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), timeout=60, what="seed 1 to start")
        assert any("starting seed 1" in str(n.message) for n in app._notifications)
        live = app.screen
        assert isinstance(live, LiveScreen)
        await wait_for(pilot, lambda: live.runner.done.is_set(), timeout=RUN_TIMEOUT, what="seed 1 to end")
    store = SessionStore(paths.db_path)
    sessions = [store.get_session(s.id) for s in store.list_sessions()]
    twice = sorted((s.seed, s.name, s.status) for s in sessions if s.config.get("repeat_group"))
    assert twice == [(0, "twice [seed 0]", "completed"), (1, "twice [seed 1]", "completed")]
    assert len({s.config["repeat_group"] for s in sessions if s.config.get("repeat_group")}) == 1
