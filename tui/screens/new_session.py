"""New session: task, models, optimizer, rounds, budget, cross-model, seed, and the live estimate.

It opens pre-filled (demo:sentiment on three offline models) so `n` then
`F5` runs a real session without typing. The demo list, the model catalogue
(key status reads the keyring) and the estimate (loading a task imports
DSPy) all come from thread workers; the estimate is recomputed shortly after
the last edit, never on every key press.

This module is the screen (layout, keys, reacting to edits); the form <-> config mapping is in
new_session_form, the field checks in new_session_checks, the estimate in new_session_estimate and
the model list in new_session_models.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.suggester import SuggestFromList
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from dspy_tui.engine import import_dspy
from dspy_tui.engine.config import OPTIMIZER_SUMMARIES, OPTIMIZERS
from dspy_tui.storage.paths import Paths
from dspy_tui.tui.app_api import services
from dspy_tui.tui.screens.key_table import key_table
from dspy_tui.tui.screens.new_session_checks import (
    fields_problem,
    message_lines,
    missing_keys,
    model_problem,
    update_text,
)
from dspy_tui.tui.screens.new_session_estimate import Estimator, budget_sentence, estimate_view, task_sizes
from dspy_tui.tui.screens.new_session_form import (
    DEFAULT_MODELS,
    DEFAULT_TASK,
    FILE_TASK,
    config_from,
    equivalent_command,
    fill_fields,
    read_form,
    task_options,
)
from dspy_tui.tui.screens.new_session_models import model_options, read_choices, search_placeholder
from dspy_tui.tui.screens.styled_once import StyledOnceScreen
from dspy_tui.tui.widgets.app_header import AppHeader
from dspy_tui.tui.widgets.key_footer import KeyFooter
from dspy_tui.tui.widgets.ticks import TickBox, TickList

DEBOUNCE_S = 0.15  # the estimate (in a worker) starts this long after the last keystroke
HELP = (
    "Everything is filled in for a first run on the offline models: F5 starts it. Space toggles a "
    "model; type any provider/model below the list and press enter to add it. The estimate on the "
    "right follows your edits. Ctrl+S saves this setup as a TOML config, Ctrl+O loads one."
)


def _row(label: str, *widgets: Widget) -> ComposeResult:
    """One labelled line of the form."""
    with Horizontal(classes="row"):
        yield Label(label, classes="label")
        yield from widgets


def after_typing(action: Callable[[NewSessionScreen], None]) -> Callable[[NewSessionScreen], None]:
    """Run a priority key's action once the focused field has taken the keys typed before it.

    The app answers a priority binding as its key arrives, while the keys typed just before wait in
    the focused field's own queue: `tmux send-keys /path/x.toml C-o` loaded an empty path (a paste
    then F5 or ctrl+s would read the form without its last keys). Queued behind them, it reads them.
    """

    @functools.wraps(action)
    def queued(screen: NewSessionScreen) -> None:
        (screen.focused or screen).call_later(action, screen)

    return queued


class NewSessionScreen(StyledOnceScreen[None]):
    BINDINGS = key_table(
        "new",
        """
        # key  | action       | id           | label        | flags    | tooltip
        f5     | start        | start        | Start        | priority | Start the session
        ctrl+s | save         | save         | Save config  | priority | Save as TOML
        ctrl+o | load         | load         | Load config  | priority | Load a TOML config
        k      | app.keys     | keys         | Keys         |          | Add the API keys the chosen models need
        ctrl+y | copy_command | copy_command | Copy command |          | Copy the equivalent dspy-tui run command
        escape | back         | back         | Back         |          | Back (asks first when there are edits)
        """,
    )
    HELP = HELP
    CSS_PATH = Path(__file__).parents[1] / "styles" / "new_session.tcss"  # parsed on first use
    AUTO_FOCUS = "#models"

    def __init__(self, paths: Paths) -> None:
        super().__init__()
        self.paths = paths
        self.base: dict[str, Any] = {}  # a loaded config: settings the form does not show are kept
        self.catalog: list[dict[str, Any]] = []
        self.extra_models: list[str] = []
        self.demos: dict[str, str] = {DEFAULT_TASK: ""}
        self._debounce: Timer | None = None
        self.estimator = Estimator(paths)  # keeps loaded tasks and earlier answers between edits
        self.estimates: list[Any] | None = None  # the last estimate shown, None while there is none
        self.chosen: set[str] = set(DEFAULT_MODELS)  # the models picked, shown or filtered out by the search
        self.model_order: list[str] = list(DEFAULT_MODELS)  # every model the list can show, in its order
        self._shown = False  # resumed once: settings applied, the estimate under way
        self._reading_first = False  # the app started reading the choices before pushing the form
        self._choices_first: tuple[Any, str | None] | None = (
            None  # what that read brought before it was shown
        )
        self.pristine: dict[str, Any] | None = (
            None  # the form as opened or loaded: escape asks when it differs
        )

    # -- layout -------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield AppHeader()
        with Horizontal(id="setup"):
            with VerticalScroll(id="form"):
                yield from _row(
                    "Name", Input(placeholder="default: the task's name", id="name", compact=True)
                )
                yield from _row(
                    "Task",
                    Select(
                        task_options({DEFAULT_TASK: ""}),
                        value=DEFAULT_TASK,
                        allow_blank=False,
                        id="task",
                        compact=True,
                    ),
                )
                yield Static(id="task-info", classes="hint")
                with Vertical(id="file-task"):
                    yield from _row(
                        "Dataset",
                        Input(placeholder="path to .jsonl, .csv or .json", id="dataset", compact=True),
                    )
                    yield from _row(
                        "Signature", Input(placeholder="question -> answer", id="signature", compact=True)
                    )
                    yield from _row(
                        "Metric",
                        Input(
                            "exact_match",
                            placeholder="a built-in metric or package.module:function",
                            id="metric",
                            compact=True,
                        ),
                    )
                yield from message_lines("fields", "task")
                yield Label(
                    "Models  [dim](space toggles; enter in the line below adds one)[/]", classes="section"
                )
                yield TickList[str](*[Selection(m, m, True) for m in DEFAULT_MODELS], id="models")
                yield Input(
                    placeholder="search the models, or add provider/model with enter (e.g. ollama/llama3.2)",
                    id="add-model",
                    compact=True,
                )
                yield from message_lines("add", "models", "url", "keys")
                yield from _row(
                    "Optimizer",
                    Select(
                        [(o, o) for o in OPTIMIZERS],
                        value="bootstrap",
                        allow_blank=False,
                        id="optimizer",
                        compact=True,
                    ),
                )
                yield Static(OPTIMIZER_SUMMARIES.get("bootstrap", ""), id="optimizer-info", classes="hint")
                yield from _row(
                    "Rounds",
                    Input("5", type="integer", id="rounds", classes="short", compact=True),
                    Label("Seed", classes="label2"),
                    Input("0", type="integer", id="seed", classes="short", compact=True),
                )
                yield from _row(
                    "Budget $",
                    Input(placeholder="none", type="number", id="budget", classes="short", compact=True),
                    TickBox("Cross-model learning", True, id="cross", compact=True),
                )
                yield from _row(
                    "Config file",
                    Input(
                        placeholder="path/to/session.toml (ctrl+s saves, ctrl+o loads)",
                        id="config-path",
                        compact=True,
                    ),
                )
                yield from message_lines("budget", "config")
                yield Static(id="command", classes="hint")
            with Vertical(id="estimate-pane", classes="pane") as pane:
                pane.border_title = "Estimate"
                yield Static("Estimating…", id="estimate")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "New session"
        self.query_one("#file-task").display = False
        self.query_one("#form").can_focus = False  # tab goes from field to field

    def on_screen_resume(self) -> None:
        first = not self._shown
        if first:  # first shown: the settings as they are now
            self._shown = True
            self._apply_settings()
            if self._choices_first is not None:
                self._choices_read(*self._choices_first)
            self.pristine = self._data_or_none()
            self._show_command(self.pristine)
            self.schedule_estimate()
            # focusing the model list scrolled the form to it: at 24 rows Name and Task were out of view
            self.call_after_refresh(self.query_one("#form").scroll_home, animate=False)
        if not (first and self._reading_first):
            self.load_choices()  # again after the keys screen: a key just added is no longer missing

    def _apply_settings(self) -> None:
        settings = services(self).settings  # the defaults chosen on the settings screen
        if settings:
            if settings.budget_usd is not None:
                self.query_one("#budget", Input).value = f"{settings.budget_usd:g}"
            if settings.concurrency is not None:
                self.base["concurrency"] = settings.concurrency

    # -- choices from the engine (thread worker) -----------------------------------
    def read_choices_first(self, app: App[Any]) -> None:
        """Start reading the choices before the form is pushed: read while it is composed, they are
        in its first frame; read once it was shown, the list came a frame later and laid the form
        out again."""
        self._reading_first = True
        app.run_worker(lambda: self._read_choices(app), thread=True, group="choices")

    @work(thread=True, group="choices")
    def load_choices(self) -> None:
        self._read_choices(self.app)

    def _read_choices(self, app: App[Any]) -> None:
        try:
            import_dspy()  # this worker, the estimate's and the field check's start at once
            choices = read_choices()
        except Exception as exc:  # noqa: BLE001 - the form still works with the defaults
            app.call_from_thread(self._choices_read, None, f"Cannot list models: {exc}")
            return
        app.call_from_thread(self._choices_read, choices, None)

    def _choices_read(
        self, choices: tuple[dict[str, str], list[dict[str, Any]], list[str]] | None, error: str | None
    ) -> None:
        if not self._shown:  # read first: applied when the form is first shown, before its first frame
            self._choices_first = (choices, error)
        elif choices is None:
            self._message("#models-msg", error or "")
        else:
            self._fill_choices(*choices)

    def _fill_choices(self, demos: dict[str, str], catalog: list[dict[str, Any]], metrics: list[str]) -> None:
        if self._form_gone() or (demos, catalog) == (self.demos, self.catalog):
            return  # read again on each resume; unchanged (the usual case), the list is left as it is
        first = not self.catalog
        untouched = self.pristine is None or self._data_or_none() == self.pristine
        self.demos = demos
        self.query_one("#metric", Input).suggester = SuggestFromList(metrics)
        task = self.query_one("#task", Select)
        current = task.value
        task.set_options(task_options(demos))
        task.value = current if current in demos or current == FILE_TASK else DEFAULT_TASK
        self.catalog = catalog
        self._fill_models(set(self.selected_models()))
        self._show_task_info()
        self._check_keys()
        if first and untouched:  # the task list and models are now the engine's: this is the form as opened
            self.pristine = self._data_or_none()  # (not when the user edited it before they came)

    def _fill_models(self, selected: set[str]) -> None:
        """The list for `selected` and the add line's search (models chosen but filtered out stay chosen)."""
        self.chosen = set(selected)
        query = self.query_one("#add-model", Input).value.strip().lower()
        items, self.model_order = model_options(self.catalog, self.extra_models, selected, query)
        models = self.query_one("#models", SelectionList)
        highlighted = models.highlighted  # clear_options drops it, and space then toggles nothing
        models.clear_options()
        models.add_options(items)
        if items:
            models.highlighted = min(highlighted or 0, len(items) - 1)
        placeholder = search_placeholder(self.catalog)
        if placeholder:
            self.query_one("#add-model", Input).placeholder = placeholder

    def selected_models(self) -> list[str]:
        return [m for m in self.model_order if m in self.chosen]

    def _choices_changed(self) -> None:
        """Fold the list's ticks into `chosen` (only the models shown; hidden ones keep their state)."""
        models = self.query_one("#models", SelectionList)
        shown = {models.get_option_at_index(i).value for i in range(models.option_count)}
        self.chosen = (self.chosen - shown) | set(models.selected)

    @on(Input.Changed, "#add-model")
    def _search_models(self, event: Input.Changed) -> None:
        if self.catalog:
            self._fill_models(self.chosen)

    # -- reacting to edits ------------------------------------------------------------
    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    @on(SelectionList.SelectedChanged)
    def _edited(self, event: Any) -> None:
        if self._form_gone():  # a Changed event still queued while the form is taken down
            return
        if getattr(event, "input", None) is not None and event.input.id in ("add-model", "config-path"):
            return
        if isinstance(event, Select.Changed) and event.select.id == "task":
            self.query_one("#file-task").display = event.value == FILE_TASK
            self._show_task_info()
        if isinstance(event, Select.Changed) and event.select.id == "optimizer":
            self.query_one("#optimizer-info", Static).update(
                Text(OPTIMIZER_SUMMARIES.get(str(event.value), ""))
            )
        if isinstance(event, SelectionList.SelectedChanged):
            self._choices_changed()
            self._check_keys()
        self.schedule_estimate()

    def _check_keys(self) -> None:
        self._message("#keys-msg", missing_keys(self.catalog, self.selected_models()))

    def _show_task_info(self) -> None:
        task = self.query_one("#task", Select).value
        info = (
            self.demos.get(str(task), "")
            if task != FILE_TASK
            else "Your own data: a file, a signature, a metric."
        )
        self.query_one("#task-info", Static).update(info)

    @on(Input.Submitted, "#add-model")
    def _add_model(self, event: Input.Submitted) -> None:
        model = event.value.strip()
        problem = model_problem(model) if model else "Type provider/model first (e.g. openai/gpt-4o-mini)."
        self._message("#add-msg", problem or "")
        if problem:
            return
        event.input.value = ""  # the search ends: the whole list again
        if model not in self.model_order:
            self.extra_models.append(model)
        self._fill_models(self.chosen | {model})
        self._message("#models-msg", "")
        self.schedule_estimate()

    def _form_gone(self) -> bool:
        """A worker or timer delivered after the form was closed, or while it is being taken down: it is
        off the screen stack at once but still attached while its widgets go one by one (seen as
        NoMatches for '#task-msg'), or while the app shuts down with the form still on its stack.
        Suspended under the keys screen it is still on the stack."""
        closed = self._shown and self not in self.app.screen_stack
        return not self.is_attached or not self.app.is_running or closed

    def _message(self, selector: str, text: str) -> None:
        if self._form_gone():
            return
        widget = self.query_one(selector, Static)  # an id: found by Textual's cached search, not a full query
        update_text(widget, text)
        widget.display = bool(text)

    def schedule_estimate(self) -> None:
        """Debounce: the estimate runs once the user pauses, in a thread worker; not for the fields' first
        Changed events while the form mounts (it is estimated once it is shown)."""
        if not self._shown:
            return
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_S, self._estimate_now)

    def _estimate_now(self) -> None:
        if self._form_gone():
            return
        if self.query_one("#task", Select).value == FILE_TASK:
            self.check_fields(
                self.query_one("#signature", Input).value, self.query_one("#metric", Input).value
            )
        else:
            self._message("#fields-msg", "")
        self._show_command(self._data_or_none())
        try:
            config = self.build_config()
        except ValueError as exc:
            self._message("#config-msg", str(exc))
            self.query_one("#estimate", Static).update(Text("Fix the setup to see an estimate.", style="dim"))
            return
        self._message("#config-msg", "")
        self.run_estimate(config)

    def _show_command(self, data: dict[str, Any] | None) -> None:
        """The `dspy-tui run …` line for the form as it is (left as it was while the form is invalid)."""
        if data is not None:
            update_text(
                self.query_one("#command", Static), equivalent_command(data, self._config_text() or None)
            )

    def _data_or_none(self) -> dict[str, Any] | None:
        try:
            return self.form_data()
        except ValueError:
            return None

    def _config_text(self) -> str:
        return self.query_one("#config-path", Input).value.strip()

    # -- building the config ---------------------------------------------------------
    def form_data(self) -> dict[str, Any]:
        """The config as a plain dict: the loaded config's other settings, overlaid with the form."""
        return read_form(self, self.base, self.selected_models())

    def build_config(self) -> Any:
        """A validated SessionConfig, or ValueError with one sentence."""
        return config_from(self.form_data())

    @work(thread=True, exclusive=True, group="fields")
    def check_fields(self, signature: str, metric: str) -> None:
        import_dspy()
        self.app.call_from_thread(self._message, "#fields-msg", fields_problem(signature, metric))

    # -- the estimate (thread worker) --------------------------------------------------
    @work(thread=True, exclusive=True, group="estimate")
    def run_estimate(self, config: Any) -> None:
        from dspy_tui.tui.runner import one_sentence

        import_dspy()
        self.app.call_from_thread(self._message, "#url-msg", self.estimator.url_warning(config))
        try:
            task = self.estimator.task(config)
        except Exception as exc:  # noqa: BLE001 - TaskError and friends: one sentence under the task
            self.app.call_from_thread(self._estimate_failed, "#task-msg", one_sentence(exc))
            return
        try:
            rows = self.estimator.rows(config, task)
        except Exception as exc:  # noqa: BLE001 - e.g. an unknown provider: one sentence under the models
            self.app.call_from_thread(self._estimate_failed, "#models-msg", one_sentence(exc))
            return
        self.app.call_from_thread(self._show_estimate, rows, task_sizes(task), budget_sentence(config, rows))

    def _estimate_failed(self, where: str, message: str) -> None:
        if self._form_gone():
            return
        self.estimates = None
        self._message(where, message)
        self.query_one("#estimate", Static).update(
            Text("No estimate: see the message on the left.", style="dim")
        )

    def _show_estimate(self, rows: list[Any], sizes: tuple[int, int, int], warning: str | None) -> None:
        if self._form_gone():
            return
        self.estimates = rows
        self._message("#task-msg", "")
        self._message("#models-msg", "")
        self._message("#budget-msg", warning or "")
        self.query_one("#estimate", Static).update(estimate_view(rows, sizes, warning))

    # -- start, save, load ------------------------------------------------------------
    def _config_or_say(self) -> Any:
        """The SessionConfig to start or save, or None once its error is said (a toast and the config line)."""
        try:
            return self.build_config()
        except ValueError as exc:
            self._message("#config-msg", str(exc))
            self.notify(str(exc), severity="error")
            return None

    @after_typing
    def action_start(self) -> None:
        config = self._config_or_say()
        if config is not None:
            services(self).start_new(config)

    def action_copy_command(self) -> None:
        command = str(self.query_one("#command", Static).render())
        self.app.copy_to_clipboard(command)
        self.notify(f"Copied: {command}", timeout=4)

    def action_back(self) -> None:
        if self.pristine is None or self._data_or_none() == self.pristine:
            self.app.pop_screen()
            return
        from dspy_tui.tui.screens.modals import confirm_leaving

        confirm_leaving(
            self, "Discard the edits to this setup? (ctrl+s saves it as a config first)", yes="Discard"
        )

    def _config_path(self) -> Path | None:
        text = self.query_one("#config-path", Input).value.strip()
        return Path(text).expanduser() if text else None

    @after_typing
    def action_save(self) -> None:
        config = self._config_or_say()
        if config is None:
            return
        path = self._config_path() or self.paths.config_dir / "sessions" / f"{config.name}.toml"
        self.query_one("#config-path", Input).value = str(path)
        self._save(config, path)

    @work(thread=True, group="config-file")
    def _save(self, config: Any, path: Path) -> None:
        from dspy_tui.engine.config import dump_config

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(dump_config(config), encoding="utf-8")
        except OSError as exc:
            self.app.call_from_thread(
                self.notify, f"Cannot write {path}: {exc.strerror or exc}.", severity="error"
            )
            return
        self.app.call_from_thread(self.notify, f"Saved this setup to {path}.")

    @after_typing
    def action_load(self) -> None:
        path = self._config_path()
        if path is None:
            self.notify("Type the config file's path in Config file first.", severity="warning")
            self.query_one("#config-path", Input).focus()
            return
        self._load(path)

    @work(thread=True, group="config-file")
    def _load(self, path: Path) -> None:
        from dspy_tui.engine.config import ConfigError, load_config

        try:
            config = load_config(path)
        except ConfigError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=10)
            return
        self.app.call_from_thread(self._fill_form, config.model_dump(mode="json", exclude_none=True))

    def _fill_form(self, data: dict[str, Any]) -> None:
        if not self.is_attached:  # a worker finished after the form was closed
            return
        self.base = data
        fill_fields(self, data, self.demos)
        models = [m["id"] for m in data.get("models", [])]
        self.extra_models.extend(m for m in models if m not in self.extra_models)
        self._fill_models(set(models))
        self.notify(f"Loaded {data.get('name', 'the config')}.")
        self.pristine = self._data_or_none()
        self.schedule_estimate()
