"""The new-session form: defaults, inline validation, estimate, save and load, user errors on start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Select, Static
from tui_support import answer, fixed_clock, new_session_form, wait_for

from dspy_tui.engine.config import load_config
from dspy_tui.storage.paths import Paths
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens.home import HomeScreen
from dspy_tui.tui.screens.new_session import FILE_TASK, NewSessionScreen


async def open_form(pilot: Pilot[Any], task: str | None = None) -> NewSessionScreen:
    """The form from home once its first estimate is in, with `task` chosen when given."""
    screen = await new_session_form(pilot)
    await wait_for(pilot, lambda: screen.estimates is not None, timeout=60, what="the first estimate")
    if task is not None:
        screen.query_one("#task", Select).value = task
    return screen


async def add_model(pilot: Pilot[Any], screen: NewSessionScreen, model: str) -> None:
    """Type `model` into Add model and press enter, as a user adds one the list lacks."""
    add = screen.query_one("#add-model", Input)
    add.focus()
    add.value = model
    await pilot.press("enter")


def message(screen: NewSessionScreen, selector: str) -> str:
    widget = screen.query_one(selector, Static)
    return str(widget.render()) if widget.display else ""


async def test_defaults_estimate_and_live_updates(paths: Paths) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)
        config = screen.build_config()
        assert config.task.dataset == "demo:sentiment"
        assert config.model_ids() == ["offline/small", "offline/base", "offline/large"]
        assert [e.model for e in screen.estimates or []] == config.model_ids()
        first = screen.estimates
        rounds = screen.query_one("#rounds", Input)
        rounds.value = "2"
        # fewer rounds, fewer calls (an estimate started before the edit may land first: wait past it)
        await wait_for(
            pilot,
            lambda: bool(screen.estimates) and screen.estimates[0].calls.max < first[0].calls.max,
            what="the estimate of 2 rounds",
        )
        rounds.value = "99"
        await wait_for(pilot, lambda: "rounds" in message(screen, "#config-msg"), what="the rounds message")
        rounds.value = "1"
        await wait_for(pilot, lambda: not message(screen, "#config-msg"))


async def test_file_task_is_validated_as_typed(paths: Paths, tmp_path: Path) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot, task=FILE_TASK)
        signature = screen.query_one("#signature", Input)
        signature.value = "question answer"
        await wait_for(
            pilot, lambda: "exactly one '->'" in message(screen, "#fields-msg"), what="DSPy's reason"
        )
        signature.value = "question -> answer"
        screen.query_one("#dataset", Input).value = str(tmp_path / "missing.jsonl")
        await wait_for(
            pilot, lambda: "missing.jsonl" in message(screen, "#task-msg"), what="the dataset message"
        )
        data = tmp_path / "qa.jsonl"
        data.write_text("".join(f'{{"question": "q{i}", "answer": "a{i}"}}\n' for i in range(40)))
        screen.query_one("#dataset", Input).value = str(data)
        await wait_for(
            pilot,
            lambda: not message(screen, "#task-msg") and screen.estimates is not None,
            timeout=30,
            what="the file task to load",
        )


async def test_user_error_on_start_is_one_sentence(paths: Paths, tmp_path: Path) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)
        await add_model(pilot, screen, "openai/gpt-4o-mini")
        assert "openai/gpt-4o-mini" in screen.selected_models()
        await pilot.press("f5")
        await wait_for(
            pilot,
            lambda: any(
                "openai" in n.message.lower() or "key" in n.message.lower() for n in app._notifications
            ),
            timeout=60,
            what="the refusal",
        )
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert errors and all("Traceback" not in m and "\n" not in m for m in errors), errors
        assert isinstance(app.screen, NewSessionScreen)  # nothing lost: the form is still there
        assert app.runner is None


async def test_save_and_load_a_config(paths: Paths, tmp_path: Path) -> None:
    target = tmp_path / "mine.toml"
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)
        screen.query_one("#name", Input).value = "nightly"
        screen.query_one("#rounds", Input).value = "99"
        screen.query_one("#budget", Input).value = "0.5"
        screen.query_one("#config-path", Input).value = str(target)
        await pilot.press("ctrl+s")  # out of range: said in a toast and the config line, not saved
        await wait_for(pilot, lambda: "rounds" in message(screen, "#config-msg"), what="the rounds message")
        assert "rounds" in list(app._notifications)[-1].message and not target.exists()
        screen.query_one("#rounds", Input).value = "3"
        await pilot.press("ctrl+s")
        await wait_for(pilot, target.exists, what="the saved file")
        saved = load_config(target)
        assert (saved.name, saved.rounds, saved.budget_usd) == ("nightly", 3, 0.5)
        screen.query_one("#name", Input).value = "changed"
        screen.query_one("#rounds", Input).value = "7"
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: screen.query_one("#name", Input).value == "nightly", what="the load")
        assert screen.query_one("#rounds", Input).value == "3"
        assert screen.build_config().budget_usd == 0.5


async def test_the_form_reads_signatures_and_metrics_as_the_engine_does(paths: Paths, tmp_path: Path) -> None:
    """Typed signatures the engine accepts are accepted; a bad metric is named before F5 (issue 16.7)."""
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot, task=FILE_TASK)
        signature = screen.query_one("#signature", Input)
        for typed in ("question -> answer: float", "context: list[str], question -> answer"):
            signature.value = "q ->"
            await wait_for(
                pilot, lambda: "no output field" in message(screen, "#fields-msg"), what="the refusal"
            )
            signature.value = typed
            await wait_for(pilot, lambda: not message(screen, "#fields-msg"), what=f"{typed} accepted")
        metric = screen.query_one("#metric", Input)
        metric.value = "exact_mach"
        await wait_for(pilot, lambda: "nknown metric 'exact_mach'" in message(screen, "#fields-msg"))
        metric.value = "nope_module:score"
        await wait_for(pilot, lambda: "No module named 'nope_module'" in message(screen, "#fields-msg"))


async def test_a_custom_metric_survives_loading_a_config(paths: Paths, tmp_path: Path) -> None:
    (tmp_path / "mymetrics.py").write_text("def close(example, pred, trace=None):\n    return 1.0\n")
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(f'{{"question": "q{i}", "answer": "a{i}"}}\n' for i in range(40)))
    config = tmp_path / "custom.toml"
    config.write_text(
        f'name = "custom"\nmodels = ["offline/base"]\n[task]\ndataset = "{data}"\n'
        'signature = "question -> answer: float"\nmetric = "mymetrics.py:close"\n'
    )
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)
        screen.query_one("#config-path", Input).value = str(config)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: screen.query_one("#name", Input).value == "custom", what="the load")
        assert screen.build_config().task.metric == str(tmp_path / "mymetrics.py") + ":close"
        assert screen.query_one("#signature", Input).value == "question -> answer: float"


async def test_missing_keys_budget_and_optimizer_are_said_before_f5(paths: Paths, monkeypatch: Any) -> None:
    for name in ("OPENAI_API_KEY",):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)
        await add_model(pilot, screen, "openai/gpt-4o-mini")
        await wait_for(pilot, lambda: "press k" in message(screen, "#keys-msg"), what="the missing key")
        assert "openai" in message(screen, "#keys-msg")
        screen.query_one("#budget", Input).value = "0.0001"
        await wait_for(
            pilot,
            lambda: "is below the" in message(screen, "#budget-msg"),
            timeout=30,
            what="the budget warning",
        )
        screen.query_one("#optimizer", Select).value = "gepa"
        await wait_for(pilot, lambda: "GEPA" in str(screen.query_one("#optimizer-info", Static).render()))
        assert "dspy-tui run --task demo:sentiment --models" in str(
            screen.query_one("#command", Static).render()
        )
        await add_model(pilot, screen, "no-slash")
        assert "provider/model" in message(screen, "#add-msg")


async def test_escape_asks_before_dropping_edits(paths: Paths) -> None:

    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)
        await pilot.press("escape")  # nothing edited: straight back
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="home")
        screen = await open_form(pilot)
        screen.query_one("#rounds", Input).value = "2"
        screen.query_one("#models").focus()
        await answer(pilot, "escape", "n")
        assert app.screen is screen
        await answer(pilot, "escape", "y")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="home")


def test_every_optimizer_has_a_one_line_summary() -> None:
    from dspy_tui.engine.config import OPTIMIZER_SUMMARIES, OPTIMIZERS

    assert set(OPTIMIZER_SUMMARIES) == set(OPTIMIZERS)
    assert all("\n" not in line and len(line) < 100 for line in OPTIMIZER_SUMMARIES.values())


async def test_typing_in_the_add_line_searches_the_model_list(paths: Paths) -> None:
    from textual.widgets import SelectionList

    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)
        models = screen.query_one("#models", SelectionList)
        everything = models.option_count
        add = screen.query_one("#add-model", Input)
        add.focus()
        await pilot.press(*"gpt-4o-mini")
        await wait_for(pilot, lambda: 0 < models.option_count < everything, what="the list narrowed")
        shown = [models.get_option_at_index(i).value for i in range(models.option_count)]
        assert all("gpt-4o-mini" in m for m in shown), shown
        assert screen.selected_models() == [
            "offline/small",
            "offline/base",
            "offline/large",
        ]  # hidden, still chosen
        add.value = "openai/gpt-4o-mini"
        await pilot.press("enter")
        await wait_for(pilot, lambda: models.option_count == everything, what="the whole list again")
        assert "openai/gpt-4o-mini" in screen.selected_models()
        assert set(screen.selected_models()) >= {"offline/small", "offline/base", "offline/large"}


async def _form_with_deliveries(pilot: Any, monkeypatch: Any) -> tuple[Any, list[Any]]:
    """The open form and every callback a worker or timer can deliver to it, with real arguments."""
    screen = await open_form(pilot)
    shown: list[tuple[Any, ...]] = []
    show = screen._show_estimate

    def recording(*args: Any) -> None:  # what a real estimate delivers, whatever its signature
        shown.append(args)
        show(*args)

    monkeypatch.setattr(screen, "_show_estimate", recording)
    screen.query_one("#rounds", Input).value = "2"
    await wait_for(pilot, lambda: bool(shown), timeout=60, what="an estimate")
    return screen, [
        lambda: show(*shown[-1]),
        lambda: screen._estimate_failed("#task-msg", "the dataset went away"),
        lambda: screen._message("#fields-msg", "A field problem."),
        screen._estimate_now,
        lambda: screen._fill_choices(dict(screen.demos), list(screen.catalog), ["exact_match"]),
    ]


async def _deliver_until_gone(screen: Any, deliveries: list[Any]) -> int:
    """Each delivery at every step of the form's teardown (as call_from_thread or a timer would)."""
    import asyncio

    steps = 0
    while screen.is_attached and steps < 500:
        for deliver in deliveries:
            deliver()
        steps += 1
        await asyncio.sleep(0)
    assert not screen.is_attached, "the form was never taken down"
    return steps


async def test_results_landing_while_the_form_is_taken_down_are_ignored(
    paths: Paths, monkeypatch: Any
) -> None:
    """The `NoMatches '#task-msg'` flake: an estimate (or a field check, or the debounce timer) lands
    on the app loop while the popped form's widgets are being removed one by one; none may raise."""
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen, deliveries = await _form_with_deliveries(pilot, monkeypatch)
        app.pop_screen()
        steps = await _deliver_until_gone(screen, deliveries)
        assert steps > 1, "the teardown took no steps: the test did not reach the race"


async def test_results_landing_while_the_app_shuts_down_are_ignored(paths: Paths, monkeypatch: Any) -> None:
    """The same while the whole app is being closed with the form still on the stack (CI saw
    NoMatches '#estimate' from an estimate delivered as a test's app shut down)."""
    import asyncio

    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen, deliveries = await _form_with_deliveries(pilot, monkeypatch)
        delivering = asyncio.ensure_future(_deliver_until_gone(screen, deliveries))
    assert await delivering > 1, "the shutdown took no steps: the test did not reach the race"


async def test_openai_at_a_local_url_is_said_in_the_form(paths: Paths, monkeypatch: Any) -> None:
    """Issue 10: `openai/` aimed at this machine is priced as OpenAI; the form says so, not only the log."""
    monkeypatch.setenv("DSPY_TUI_OPENAI_BASE_URL", "http://127.0.0.1:8080/v1")
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)
        assert not message(screen, "#url-msg")
        await add_model(pilot, screen, "openai/llama3.2")
        await wait_for(
            pilot,
            lambda: "openai-compatible/llama3.2" in message(screen, "#url-msg"),
            timeout=60,
            what="the local-URL warning",
        )
        assert "http://127.0.0.1:8080/v1" in message(screen, "#url-msg")


async def test_a_local_model_gets_an_expected_time(paths: Paths) -> None:
    """Issue 10: a local model's calls run one at a time on this CPU; the form says how long, from the
    estimator (hosted models have no time: they run in parallel at their providers' limits)."""
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)
        assert "one call at a time" not in str(screen.query_one("#estimate", Static).render())
        await add_model(pilot, screen, "local/smollm2-135m")
        await wait_for(
            pilot,
            lambda: any(e.model == "local/smollm2-135m" for e in screen.estimates or []),
            timeout=60,
            what="the local model's estimate",
        )
        row = next(e for e in screen.estimates or [] if e.model == "local/smollm2-135m")
        assert row.seconds is not None
        await pilot.pause(0.2)
        shown = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert "local/smollm2-135m: about" in shown and "one call at a time" in shown, shown


async def test_an_unticked_box_reads_as_unticked_without_colour(paths: Paths) -> None:
    """Textual drew an X in every box, ticked or not, and told them apart by colour alone: read as
    plain text (a monochrome terminal), every model and the cross-model box looked ticked."""
    from textual.widgets import Checkbox, SelectionList

    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)
        models = screen.query_one("#models", SelectionList)
        await wait_for(pilot, lambda: models.option_count > 3, what="the catalogue")
        models.deselect("offline/base")
        screen.query_one("#cross", Checkbox).value = False
        await pilot.pause(0.2)
        lines = [strip.text for strip in app.screen._compositor.render_strips()]

        def box(label: str) -> str:
            line = next(line for line in lines if f"▌ {label}" in line)
            return line[line.index(f"▌ {label}") - 2 : line.index(f"▌ {label}") + 1]

        assert box("offline/small") == "▐X▌"
        assert box("offline/base") == "▐ ▌", "an unticked model reads as ticked"
        assert box("openai/gpt-4o-mini") == "▐ ▌"
        assert box("Cross-model learning") == "▐ ▌"


async def test_an_estimate_that_changes_no_message_updates_none(paths: Paths, monkeypatch: Any) -> None:
    """Each estimate set every message line and the command again, unchanged: each update laid the
    whole form (~75 widgets) out again, four or five times per estimate."""
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)
        await pilot.pause(0.3)
        updated: list[str | None] = []
        update = Static.update

        def counting(self: Static, *args: Any, **kwargs: Any) -> None:
            updated.append(self.id)
            update(self, *args, **kwargs)

        monkeypatch.setattr(Static, "update", counting)
        screen.estimates = None
        screen.schedule_estimate()  # the same form: the same estimate
        await wait_for(pilot, lambda: screen.estimates is not None, timeout=60, what="the estimate again")
        await pilot.pause(0.1)
        assert updated == ["estimate"], updated


async def test_the_forms_first_frame_holds_the_catalogue_and_the_run_command(paths: Paths) -> None:
    """The catalogue was read once the form was shown and its list came a frame later, laying the
    whole form out again; the run command waited for the estimate's debounce. Both are in the first
    frame now: the catalogue is read while the form is composed."""
    from textual.widgets import SelectionList

    app = DspyTuiApp(paths, clock=fixed_clock)
    first: list[tuple[int, str]] = []  # what the form's first frame showed: models listed, the command
    display = app._display

    def watched(screen: Any, update: Any) -> None:
        display(screen, update)
        if isinstance(screen, NewSessionScreen) and update is not None and not first:
            command = str(screen.query_one("#command", Static).render())
            first.append((screen.query_one("#models", SelectionList).option_count, command))

    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_form(pilot)  # the catalogue's modules loaded, as on any later open
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        app._display = watched  # type: ignore[method-assign]
        screen = await open_form(pilot)
        now = (screen.query_one("#models", SelectionList).option_count, message(screen, "#command"))
    assert now[0] > 3  # the catalogue, not the three defaults alone
    assert now[1].startswith("dspy-tui run --task demo:sentiment")
    assert first == [now]


FIRST_OPEN = """
import asyncio, sys
from pathlib import Path

from textual.widgets import Static

from dspy_tui.storage.paths import Paths
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens.home import HomeScreen
from dspy_tui.tui.screens.new_session import NewSessionScreen


async def main() -> None:
    app = DspyTuiApp(Paths.under(Path(sys.argv[1])))
    async with app.run_test(size=(120, 40)) as pilot:
        while not isinstance(app.screen, HomeScreen):
            await pilot.pause(0.05)
        assert "dspy" not in sys.modules, "home imported DSPy: this process cannot show the race"
        await pilot.press("n")
        for _ in range(1200):
            form = app.screen
            said = [str(s.content) for s in form.query(".msg").results(Static) if str(s.content)]
            if isinstance(form, NewSessionScreen) and (said or (form.catalog and form.estimates is not None)):
                break
            await pilot.pause(0.05)
        print("said:", " | ".join(said) if said else "nothing", "; models:", len(form.catalog))


asyncio.run(main())
"""


def test_the_forms_workers_importing_dspy_at_once_all_succeed(tmp_path: Path) -> None:
    """Opened first in a process, the form's three workers (choices, estimate, field checks) all import
    DSPy at once. DSPy's modules import each other in a cycle, and two threads inside it deadlocked on
    Python's import locks: 4 of 8 fresh processes showed "No estimate" under "module 'dspy' has no
    attribute 'settings'" (or "Cannot list models"). Four fresh processes, each opening the form once."""
    import subprocess
    import sys

    runs = [
        subprocess.Popen(
            [sys.executable, "-c", FIRST_OPEN, str(tmp_path / f"home{i}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outcomes = [run.communicate(timeout=240) for run in runs]
    for out, err in outcomes:
        assert out.startswith("said: nothing ; models: "), (out + err)[-1500:]
        assert int(out.split("models: ")[1]) > 0
