"""The Textual application shell: screens, theme, the one live session, quitting safely.

The app holds at most one session that runs here (`runner`). Its engine runs
in a thread worker; the live screen stays installed while it runs, so going
home and back keeps every pane. Nothing here imports DSPy or the provider
code: that happens in workers when a session is prepared.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel

from dspy_tui.storage.paths import Paths, resolve_paths
from dspy_tui.tui.commands import ScreenCommands, our_bindings
from dspy_tui.tui.screens.home import HomeScreen
from dspy_tui.tui.screens.read_first import open_read_first
from dspy_tui.tui.settings import Settings, load_settings, save_settings

if TYPE_CHECKING:
    from textual.dom import DOMNode
    from textual.screen import Screen

    from dspy_tui.tui.runner import SessionRunner
    from dspy_tui.tui.screens.live import LiveScreen

STYLES = Path(__file__).parent / "styles"
LIVE_SCREEN = "live"
HELP_SCREEN = "help"
# (young, middle, full): a collection of the two young generations walks what survived since the
# last one, about young x (middle + 1) objects; a full one is considered after young x middle x full
# allocations. (20_000, 20, 20) let it walk 400,000: every few screen opens one stalled the UI
# 200-500 ms (the worst runs of benchmarks/screen_latency.py). This walks about 35,000 and keeps
# full collections as rare (CPython's default is (700, 10, 10)).
GC_THRESHOLDS = (5_000, 5, 320)


class DspyTuiApp(App[int]):
    TITLE = "dspy-tui"
    CSS_PATH = [STYLES / "app.tcss", STYLES / "home.tcss"]  # the other screens bring their own
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    # fmt: off
    BINDINGS = [  # one key a line
        Binding("question_mark,f1", "help", "Help", id="app.help", tooltip="The keys of this screen"),  # f1 in a text field
        Binding("ctrl+q", "quit", "Quit", id="app.quit", show=False, priority=True),
        Binding("ctrl+p", "command_palette", "Commands", id="app.palette", show=False, priority=True, tooltip="Search the actions of this screen"),
    ]
    # fmt: on
    COMMANDS = App.COMMANDS | {ScreenCommands}

    def __init__(
        self,
        paths: Paths | None = None,
        live_session: Any | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        self.paths = paths or resolve_paths()
        self.clock = clock or time.time
        self.settings = load_settings(self.paths.settings_path)
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        if self.settings.keymap:  # before home is composed: its footer shows the remapped keys at once
            self.set_keymap(self.settings.keymap)
        self.runner: SessionRunner | None = None  # the session that runs (or ran) in this app
        self.preparing = False  # a session is being prepared: one at a time
        self.next_seeds: list[Any] = []  # a repeated run's configs still to run, one session per seed
        self._first_session = live_session
        self._gc_thresholds = gc.get_threshold()  # restored when the app ends

    def on_mount(self) -> None:
        # Full garbage collections stop every thread, the UI's too, for as long as they take to walk the
        # heap (tens of ms once DSPy is loaded): the thresholds make them rare; the large long-lived
        # part of the heap is frozen once a session is loaded (see LiveScreen.apply_history).
        gc.set_threshold(*GC_THRESHOLDS)  # put back on unmount
        self.theme_changed_signal.subscribe(self, lambda theme: self._remember_theme(theme.name))
        if not self.is_headless and _stdin_is_tty():
            self.set_interval(TERMINAL_CHECK_S, self._check_terminal)
        if self._first_session is not None:
            if self._first_session.resumed:  # its screen opens on what is stored, not on blank rows
                self.preparing = True
                self._load_stored(self._first_session)
            else:
                self.start_live(self._first_session)
            self._first_session = None

    def get_default_screen(self) -> HomeScreen:
        """Home is the first screen itself, not pushed over Textual's blank default one: composing,
        laying out and suspending that one came before home's first frame (benchmarks/startup.py)."""
        home = HomeScreen(self.paths)
        home.add_class(*breakpoint_classes(self), update=False)  # as push_screen does: styled once registered
        return home

    def push_screen(self, screen: Any, *args: Any, **kwargs: Any) -> Any:
        """Textual's push_screen, with a new screen's breakpoint classes (-narrow, -tall…) set
        before it is styled: set by its first Resize instead, they restyle every widget of it again."""
        target = self.get_screen(screen) if isinstance(screen, str) else screen
        if not target.is_attached:
            target.add_class(*breakpoint_classes(self), update=False)  # styled when it is registered
        return super().push_screen(screen, *args, **kwargs)

    def update_styles(self, node: DOMNode, animate: bool = True) -> None:
        """Textual's restyle after a class change, skipped for a node not in the DOM yet: it is styled
        when it is registered. A compact Input, Select, Button or Checkbox sets its class while it is
        built, and each restyled that lone widget at once: 19 of them cost the new-session form ~25 ms."""
        if node is self or node.is_attached:
            super().update_styles(node, animate)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification is literal text: they carry session names, model ids and provider errors."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """Screenshots go to the exports dir (Textual's default, ~/Downloads, may not exist)."""
        folder = Path(path) if path else self.paths.exports_dir / "screenshots"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.notify(f"Cannot write a screenshot to {folder}: {exc.strerror or exc}.", severity="error")
            return None
        return super().deliver_screenshot(filename, str(folder), time_format)

    @on(events.DeliveryComplete)
    def _screenshot_saved(self, event: events.DeliveryComplete) -> None:
        """Textual's own note of a saved screenshot carries content markup, which notify (literal text
        here) showed as typed: `Saved screenshot to [$text-success]'…/shot.svg'`."""
        if event.name == "screenshot":
            event.prevent_default()
            self.notify(
                f"Saved screenshot to {event.path}" if event.path else "Saved screenshot", title="Screenshot"
            )

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's commands, with its key panel named so it does not read as our API keys."""
        for command in super().get_system_commands(screen):
            if command.title == "Keys":
                command = SystemCommand(
                    "Key bindings panel", command.help, command.callback, command.discover
                )
            yield command

    # -- preferences ------------------------------------------------------------
    def _check_terminal(self) -> None:
        """A closed terminal hangs up its session leader; started under another program (`make run`)
        the app is not that leader, gets no SIGHUP and would spin on a dead tty. Take the hang-up
        then: the process ends as a directly started one does, and a running session resumes later."""
        if not _stdin_is_tty():
            os.kill(os.getpid(), signal.SIGHUP)

    def _remember_theme(self, name: str) -> None:
        if name != self.settings.theme:
            self.update_settings(dataclasses.replace(self.settings, theme=name))

    def update_settings(self, settings: Settings) -> None:
        """Use `settings` from now on and write them to the config dir (in a worker)."""
        self.settings = settings
        self._save_settings(settings)

    @work(thread=True, group="settings", exclusive=True)
    def _save_settings(self, settings: Settings) -> None:
        try:
            save_settings(self.paths.settings_path, settings)
        except OSError as exc:
            self.call_from_thread(
                self.notify, f"Could not save settings: {exc.strerror or exc}.", severity="warning"
            )

    # -- sessions -----------------------------------------------------------------
    @property
    def session_run(self) -> SessionRunner | None:
        """The session that runs (or ran) here, for the screens (AppServices)."""
        return self.runner

    @property
    def session_running(self) -> bool:
        return self.runner is not None and self.runner.running

    def start_live(self, session: Any, stored: Any | None = None) -> None:
        """Show a prepared engine Session on the live screen (a resumed one from its `stored` state)
        and run it in a thread worker."""
        from dspy_tui.tui.runner import SessionRunner
        from dspy_tui.tui.screens.live import LiveScreen

        if self.session_running:
            self.notify(
                "A session is already running here; stop it first (s on its screen).", severity="error"
            )
            return
        runner = SessionRunner.for_session(session, stored)
        screen = LiveScreen(runner, self.paths, self.clock)
        while len(self.screen_stack) > 1 and not isinstance(self.screen, HomeScreen):
            self.pop_screen()  # the new-session form: escape from the live screen goes home
        if self.is_screen_installed(LIVE_SCREEN):  # the previous session's screen: tear it down
            old = self.get_screen(LIVE_SCREEN)
            self.uninstall_screen(LIVE_SCREEN)
            old.remove()
        self.runner = runner
        self.install_screen(screen, LIVE_SCREEN)
        self.push_screen(LIVE_SCREEN)
        self._run_engine(runner, screen)

    @work(thread=True, group="engine", exit_on_error=False)
    def _run_engine(self, runner: SessionRunner, screen: LiveScreen) -> None:
        from dspy_tui.tui.runner import service_for

        def before_run(history: Any, labels: dict[str, str]) -> None:
            self.call_from_thread(screen.apply_history, history, labels)

        runner.run(service_for(self.paths), before_run)
        with contextlib.suppress(RuntimeError):  # the app is closing; the session is already stored
            self.call_from_thread(self._session_ended, runner, screen)

    def _session_ended(self, runner: SessionRunner, screen: LiveScreen) -> None:
        screen.show_results()
        outcome = runner.outcome
        state = runner.state
        if (
            outcome != "completed" and self.next_seeds
        ):  # stopped, out of budget or failed: as the CLI, no more
            seeds = ", ".join(str(c.seed) for c in self.next_seeds)
            self.next_seeds = []
            self.notify(
                f"Seeds {seeds} of this repeated run were not started; resuming this session (r on home) "
                "runs them after it.",
                severity="warning",
                timeout=10,
            )
        if runner.error and outcome == "failed":
            self.notify(f"Session failed: {runner.error}", severity="error", timeout=10)
        elif outcome == "completed" and self.next_seeds:
            later = self.next_seeds
            self.notify(f"Seed done; starting seed {later[0].seed} ({len(later)} to go).", timeout=8)
            self._prepare(later.pop(0), None)
            return
        elif outcome == "completed":
            self.notify("Session completed: the final benchmark is shown; r opens the report.", timeout=8)
        elif outcome == "budget":
            from dspy_tui.engine.budget import spending_words

            assert runner.session is not None  # a runner whose session ran here
            self.notify(
                f"Session stopped by its budget: {spending_words(runner.session.budget)}. Its results so far "
                f"are kept; `dspy-tui resume {runner.session_id} --budget USD` continues it with more.",
                severity="warning",
                timeout=15,
            )
        elif outcome == "stopped":
            self.notify("Session stopped; resume it from home with r.", severity="warning")
        elif outcome == "failed":
            self.notify(f"Session failed: {state.error or 'see the log'}", severity="error", timeout=10)

    def show_live(self) -> bool:
        """Bring back the live screen of the session that runs (or ran) here; False if there is none."""
        if not self.is_screen_installed(LIVE_SCREEN):
            return False
        screen = self.get_screen(LIVE_SCREEN)
        if screen not in self.screen_stack:
            self.push_screen(LIVE_SCREEN)
        return True

    def open_session(self, session_id: str) -> None:
        """Open a session: its live screen while it runs here, else its detail read from the database."""
        if self.runner is not None and self.runner.session_id == session_id and self.runner.running:
            self.show_live()
            return
        from dspy_tui.tui.screens.detail import DetailScreen

        open_read_first(self, DetailScreen(self.paths, session_id))

    def compare_sessions(self, session_ids: list[str]) -> None:
        from dspy_tui.tui.screens.compare import CompareScreen

        open_read_first(self, CompareScreen(self.paths, session_ids))

    def resume_session(self, session_id: str, budget_usd: float | None = None) -> None:
        """Resume a stored session; one its budget stopped asks for a larger budget first."""
        if self.runner is not None and self.runner.session_id == session_id and self.runner.running:
            self.show_live()
            return
        if self._busy():
            return
        self.notify("Preparing to resume: paid calls will come from the cache.")
        self._prepare(None, session_id, budget_usd)

    def _ask_budget(self, session_id: str, stored: Any) -> None:
        from dspy_tui.tui.screens.modals import BudgetScreen

        self.preparing = False
        self.clear_notifications()
        spent, limit = stored.spent_usd, stored.budget_usd or 0.0

        def answered(budget: float | None) -> None:
            if budget is not None:
                self.resume_session(session_id, budget)

        self.push_screen(
            BudgetScreen(
                f"Its budget stopped this session: ${spent:.4f} of ${limit:.4f} spent. Resume it with a budget of "
                "(USD):",
                spent,
                max(limit * 2, spent * 2, 0.01),
            ),
            answered,
        )

    def start_new(self, config: Any) -> None:
        """Start a session from a SessionConfig, or from a stored config's dict (a re-run)."""
        if self._busy():
            return
        self.notify("Preparing the session (loading the task and models)…")
        self._prepare(config, None)

    def _busy(self) -> bool:
        if self.session_running:
            self.notify(
                "A session is already running here; stop it first (s on its screen).", severity="error"
            )
        elif self.preparing:
            self.notify("A session is being prepared; wait a moment.", severity="warning")
        return self.session_running or self.preparing

    def _prepare(self, config: Any | None, session_id: str | None, budget_usd: float | None = None) -> None:
        self.preparing = True
        self._prepare_in_thread(config, session_id, budget_usd)

    @work(thread=True, group="prepare")
    def _prepare_in_thread(
        self, config: Any | None, session_id: str | None, budget_usd: float | None
    ) -> None:
        """Build and prepare the engine Session off the UI thread (DSPy import, task load, keyring)."""
        from dspy_tui.tui.runner import one_sentence, service_for

        service = service_for(self.paths)
        stored, note = None, None
        try:
            if session_id is not None and (later := self._seeds_after(service, session_id)):
                config, *self.next_seeds = later  # a completed seed: its run goes on where the app quit
                note = f"That seed is completed; starting seed {config.seed} of its run ({len(later)} to go)."
                session = service.create(config)
            elif session_id is not None:
                if budget_usd is None:
                    before = self._stored_state(session_id)
                    if before is not None and before.stop_reason == "budget":
                        self.call_from_thread(self._ask_budget, session_id, before)
                        return
                session = service.resume(
                    session_id, completed_hint="open it to see its results", budget_usd=budget_usd
                )
                stored = self._stored_state(session.session_id)
                self.next_seeds = service.unstarted_seeds(session.config)  # a repeated run goes on after it
            else:
                if isinstance(config, dict):  # a stored setup, run again
                    from dspy_tui.engine.config import parse_config

                    config = parse_config(config, "the stored setup")
                assert config is not None, "a new session needs a config"
                if config.repeat_group is None:  # `repeats`/`seeds`: one session per seed, as the CLI
                    from dspy_tui.engine.repeats import seed_configs

                    config, *later = seed_configs(config)
                    self.next_seeds = later
                session = service.create(config)  # a seed of a run already split keeps the seeds after it
        except Exception as exc:  # noqa: BLE001 - user errors (bad key, dataset, model) as one sentence
            self.next_seeds = []
            self.call_from_thread(self._prepared, None, one_sentence(exc))
            return
        self.call_from_thread(self._prepared, session, None, stored)
        if note:
            self.call_from_thread(self.notify, note, timeout=8)

    @staticmethod
    def _seeds_after(service: Any, session_id: str) -> list[Any]:
        """A completed seed of a repeated run: the run's seeds no session has started (the app running
        the run quit between seeds); [] for any other session, which resumes as itself."""
        stored = service.session(session_id)
        if stored.status != "completed" or not stored.config.get("repeat_group"):
            return []
        from dspy_tui.engine.config import parse_config

        return list(service.unstarted_seeds(parse_config(stored.config, f"session {session_id}")))

    @work(thread=True, group="prepare")
    def _load_stored(self, session: Any) -> None:
        self.call_from_thread(self._prepared, session, None, self._stored_state(session.session_id))

    def _stored_state(self, session_id: str) -> Any | None:
        """A resumed session's state read from its stored events (thread workers only), so its live
        screen starts where it stopped; None if unreadable (the run then reads it again and says why)."""
        from dspy_tui.tui.runner import load_state, service_for

        try:
            return load_state(service_for(self.paths), session_id)
        except Exception:  # noqa: BLE001 - only the first paint is blank then
            return None

    def _prepared(self, session: Any | None, error: str | None, stored: Any | None = None) -> None:
        self.preparing = False
        self.clear_notifications()  # "Preparing the session…" is over, whichever way it went
        if session is None:
            self.notify(error or "The session could not be prepared.", severity="error", timeout=10)
            return
        self.start_live(session, stored)

    # -- screens every screen can reach (keys on home, and the command palette) ----------
    def action_new_session(self) -> None:
        from dspy_tui.tui.screens.new_session import NewSessionScreen

        # a fresh form each time: every open starts from the defaults and the settings of now
        screen = NewSessionScreen(self.paths)
        screen.read_choices_first(self)
        self.push_screen(screen)

    def action_keys(self) -> None:
        from dspy_tui.tui.screens.keys import KeysScreen

        if not isinstance(self.screen, KeysScreen):
            self.push_screen(KeysScreen())

    def action_settings(self) -> None:
        from dspy_tui.tui.screens.settings import SettingsScreen

        if not isinstance(self.screen, SettingsScreen):
            self.push_screen(SettingsScreen(self.paths, self.settings))

    def action_home(self) -> None:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, HomeScreen):
            self.pop_screen()

    # -- help and quitting ---------------------------------------------------------
    def action_help(self) -> None:
        from dspy_tui.tui.screens.modals import HelpScreen

        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        keys, listed = [], set()
        for _node, binding, _enabled in our_bindings(screen):  # widgets' own keys are not ours to list
            key = (self.get_key_display(binding), binding.description)
            if key not in listed:  # the list's enter and home's enter are one "⏎ Open" to the user
                listed.add(key)
                keys.append((*key, binding.id or ""))
        if not self.is_screen_installed(HELP_SCREEN):
            self.install_screen(HelpScreen(), HELP_SCREEN)
        help_screen = self.get_screen(HELP_SCREEN, HelpScreen)
        help_screen.fill(
            f"Keys · {screen.__class__.__name__.removesuffix('Screen')}", getattr(screen, "HELP", ""), keys
        )
        self.push_screen(help_screen)

    async def action_quit(self) -> None:
        if not self.session_running:
            self.exit(0)
            return
        from dspy_tui.tui.screens.modals import ConfirmScreen

        self.push_screen(
            ConfirmScreen(
                "A session is running. Stop it and quit? Everything so far is saved and it can be resumed.",
                yes="Stop and quit",
                no="Cancel",
            ),
            self._quit_answer,
        )

    def _quit_answer(self, yes: bool | None) -> None:
        if yes and self.runner is not None:
            self.runner.stop()
            self.notify("Stopping the session…")
            self._exit_when_stopped()

    @work(thread=True, group="quit")
    def _exit_when_stopped(self) -> None:
        assert self.runner is not None
        self.runner.done.wait(timeout=60)
        self.call_from_thread(self.exit, 0)

    async def on_unmount(self) -> None:
        """However the app ends, a session running here is stopped cleanly (state saved, resumable)."""
        import asyncio

        runner = self.runner
        if runner is not None and runner.running:
            runner.stop()
            await asyncio.to_thread(runner.done.wait, 30)
        gc.set_threshold(*self._gc_thresholds)


TERMINAL_CHECK_S = 1.0


def breakpoint_classes(app: App[Any]) -> set[str]:
    """The classes Textual's Screen gives itself for the app's size (HORIZONTAL/VERTICAL_BREAKPOINTS)."""
    classes = set()
    for size, breakpoints in (
        (app.size.width, app.HORIZONTAL_BREAKPOINTS or []),
        (app.size.height, app.VERTICAL_BREAKPOINTS or []),
    ):
        fitting = [(least, name) for least, name in breakpoints if size >= least]
        if fitting:
            classes.add(max(fitting)[1])
    return classes


def _stdin_is_tty() -> bool:
    stdin = sys.__stdin__
    return stdin is not None and os.isatty(stdin.fileno())
