"""Every screen at 120x40 and 80x24 with hard data: no two cells or labels touch (issue 16.1, 16.2).

Long model ids, five models, hosted prices and latencies over a second: the texts that ran together
on the old tables (`3,592ms3,602ms`, `completed2026-12-01`, `offline/basenot kept`, `$0sim`). The
screens are read back as plain text, line by line, from what the app really drew.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from screen_walk import (
    SCREENS,
    SIZES,
    WIDE,
    insert_wide_history,
    reach,
    slow_events,
    wide_app,
    wide_live_session,
)
from textual.geometry import Region
from textual.widgets import Input
from textual.widgets._footer import FooterKey
from tui_support import ScriptedSession, fixed_clock, home_lists, make_config, new_session_form, wait_for

from dspy_tui.storage.paths import Paths
from dspy_tui.storage.sessions import SessionStore
from dspy_tui.tui.app import DspyTuiApp
from dspy_tui.tui.screens.compare import CompareScreen
from dspy_tui.tui.screens.detail import DetailScreen
from dspy_tui.tui.screens.live import LiveScreen
from dspy_tui.tui.screens.modals import ReportScreen
from dspy_tui.tui.screens.new_session import NewSessionScreen
from dspy_tui.tui.widgets.key_footer import KeyFooter

GLUED = [
    (r"\d(ms|s|k|%)\d", "a number with its unit runs into the next number"),
    (r"[a-z]\d{4}-\d\d", "a word runs into a date"),
    (
        r"\b(completed|running|failed|stopped|interrupted|converged|done|pending)(?=[A-Za-z0-9$(])",
        "a status word runs into the next word",
    ),
    (r"\$[\d.,]+sim", "a cost runs into its 'sim' label"),
    (r"[a-z0-9]not kept", "a name runs into 'not kept'"),
    (r"\d\$\d", "two costs run together"),
    (r"[0-9]-?\d\.\d{3}\d", "two scores run together"),
]
DUMP = os.environ.get("DSPY_TUI_LAYOUT_DUMP")  # a directory: write each screen's text there to look at


def screen_lines(app: DspyTuiApp) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def region_text(app: DspyTuiApp, selector: str) -> str:
    """What the screen shows in the region of the widget `selector` finds."""
    region = app.screen.query_one(selector).region
    lines = screen_lines(app)[region.y : region.bottom]
    return "\n".join(line[region.x : region.right] for line in lines)


def footer_fits(app: DspyTuiApp, name: str, size: tuple[int, int]) -> None:
    """Every key the footer shows is whole on screen, none under the palette's key, and `?` Help is one."""
    footers = app.screen.query(KeyFooter)
    if not footers:  # a dialog: its keys are on its buttons
        return
    keys = list(footers.first().query(FooterKey))
    palette = [k for k in keys if k.has_class("-command-palette")]
    edge = palette[0].region.x if palette else size[0]
    line = screen_lines(app)[-1]
    cut = [
        f"{k.key_display} {k.description}"
        for k in keys
        if k not in palette
        and not (0 < k.region.right <= edge and f"{k.key_display} {k.description}" in line)
    ]
    assert cut == [], f"{name} at {size[0]}x{size[1]}: footer keys cut or hidden: {cut} in {line!r}"
    # `f1` where a text field takes `?` (the settings form)
    assert re.search(r"(\?|f1) Help", line), f"{name} at {size[0]}x{size[1]}: no ? Help in {line!r}"


def check(app: DspyTuiApp, name: str, size: tuple[int, int]) -> str:
    footer_fits(app, name, size)
    lines = screen_lines(app)
    text = "\n".join(lines)
    if DUMP:
        Path(DUMP, f"{name}-{size[0]}x{size[1]}.txt").write_text(text)
    for pattern, what in GLUED:
        for line in lines:
            match = re.search(pattern, line)
            assert match is None, (
                f"{name} at {size[0]}x{size[1]}: {what}: {match.group(0)!r} in {line.strip()!r}"
            )
    return text


def pane_lines(app: DspyTuiApp, selector: str) -> list[str]:
    """The lines of a pane's content region, as drawn (what scrolled out of view is not there)."""
    widget = app.screen.query_one(selector)
    region = widget.content_region.intersection(app.screen.find_widget(widget).clip)
    return [line[region.x : region.right] for line in screen_lines(app)[region.y : region.bottom]]


def cost_pane_shows_every_model(app: DspyTuiApp, size: tuple[int, int]) -> None:
    """Every model has a line in the Cost pane, in view; at 120 its id is whole on one line, never
    broken mid-word (`anthropic/claud` / `e-3-5-haiku-202`), at 80 cut with an ellipsis at most."""
    lines = pane_lines(app, "#cost")
    for model in WIDE:
        if size[0] >= 120:
            assert any(model in line for line in lines), f"{model} is not whole on one line: {lines}"
        else:
            head = model[:8]
            assert any(line.strip().startswith(head) for line in lines), f"{model} is not in view: {lines}"


def calls_line_fits(app: DspyTuiApp, size: tuple[int, int]) -> None:
    """The per-model call counts end in a count or the hint, never in a dangling `·`, and are not cut."""
    line = app.screen.query_one("#calls-line")
    drawn = [text.rstrip() for text in pane_lines(app, "#calls-line")]
    shown = " ".join(drawn)
    assert drawn and not any(text.endswith("·") for text in drawn), f"a dangling separator: {drawn}"
    assert shown.rstrip().endswith(("call", "calls", ")", "each call")), f"the counts are cut: {drawn}"
    assert line.virtual_size.height <= line.size.height, f"lines hidden below the pane: {drawn}"


@pytest.fixture
def wide_history(store: SessionStore) -> list[str]:
    return insert_wide_history(store)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_history_screens_never_run_text_together(
    paths: Paths, wide_history: list[str], size: tuple[int, int]
) -> None:
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        await home_lists(pilot, 2)
        shown = check(app, "home", size)
        for column in ("Name", "Started", "Status", "Best test", "Cost"):
            assert column in shown, f"home at {size}: {column} is off-screen"
        assert "09:18:20" in shown and "09:18:25" in shown, "times to the second"
        if size[0] >= 120:
            assert "wide0aaaaaaa" in shown and "wide1bbbbbbb" in shown, "the ids"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None)
        await pilot.pause(0.2)
        shown = check(app, "detail", size)
        if size[0] >= 120:
            for model in WIDE:
                assert model in shown, f"{model} is cut in the detail results"
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReportScreen), what="the report")
        await pilot.pause(0.3)
        shown = check(app, "report", size)
        if size[0] >= 120:
            assert "offline/base" in shown and "…" not in shown, "report tables are cut"
        await pilot.press("escape", "escape")
        await home_lists(pilot, 2)
        await pilot.press("space", "space", "c")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, CompareScreen) and app.screen.verdicts is not None,
            timeout=30,
        )
        await pilot.pause(0.2)
        shown = check(app, "compare", size)
        if size[0] >= 120:
            for model in WIDE:
                assert model in shown, f"{model} is cut in compare"
        await pilot.press("escape", "n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        await wait_for(pilot, lambda: app.screen.estimates is not None, timeout=60, what="the estimate")
        await pilot.pause(0.2)
        check(app, "new_session", size)


@pytest.mark.parametrize("finished", [False, True], ids=["mid_run", "finished"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_live_screen_never_runs_text_together(
    paths: Paths, store: SessionStore, size: tuple[int, int], finished: bool
) -> None:
    session = wide_live_session(store, paths, finished=finished)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        await wait_for(
            pilot, lambda: isinstance(app.screen, LiveScreen) and session.published == len(session.events)
        )
        if finished:
            await wait_for(pilot, lambda: app.screen.results_shown, what="the final benchmark")
        await pilot.pause(0.6)
        shown = check(app, "live-finished" if finished else "live", size)
        if not finished:
            calls_line_fits(app, size)
        offline_row = next(line for line in shown.splitlines() if "offline/base " in line and "│" in line)
        assert "$0 sim" in offline_row, (
            f"the offline cost reads as in the detail: {offline_row}"
        )  # issue 16.6
        if size[0] >= 120:
            for model in WIDE:
                assert model in shown, f"{model} is cut on the live screen"
        if not finished:
            cost_pane_shows_every_model(app, size)
            models = pane_lines(app, "#models")
            shown_ids = [
                next(word for word in line.split(" ") if word) for line in models[1:] if line.strip()
            ]
            assert len(shown_ids) == len(WIDE) and all(
                len(shown) >= min(18, len(model)) for shown, model in zip(shown_ids, WIDE, strict=True)
            ), f"the Model column gave way to Status at {size}: {models}"
            # the status whole: at 80 columns in its short words, never `rate-limited, ret…` (issue 16)
            status = "rate-limited, retrying in" if size[0] >= 120 else "429, retry"
            assert any(status in line for line in models), models
            assert not any(line.rstrip(" │").endswith("…") for line in models), f"a status is cut: {models}"
            if size[0] < 120:  # prices from the config: `config` beside each cost cut the ids to 10 cells
                screen = app.screen
                assert isinstance(screen, LiveScreen)
                screen.cost.show(
                    screen.runner.state, {**screen.runner.price_labels, **dict.fromkeys(WIDE[:4], "config")}
                )
                await pilot.pause(0.1)
                costs = [line.strip() for line in pane_lines(app, "#cost-models")]
                assert all(len(line.split("…")[0]) >= 16 for line in costs[:4]), costs
                assert costs[4].endswith("$0 sim"), costs
            session.stop()


async def test_round_chart_axes_markers_and_no_legend_over_the_lines(
    paths: Paths, store: SessionStore
) -> None:
    """Issue 16.3: markers at rounds, no in-plot legend, all-zero costs from 0, whole-number token labels."""
    offline = ["offline/small", "offline/base", "offline/large"]
    session = ScriptedSession(
        store, paths, slow_events(offline, False), hold=True, config=make_config(offline, budget=None)
    )
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(
            pilot, lambda: isinstance(app.screen, LiveScreen) and session.published == len(session.events)
        )
        await pilot.pause(0.6)

        def chart() -> str:
            region = app.screen.query_one("#chart").region
            lines = screen_lines(app)[region.y : region.bottom]
            return "\n".join(line[region.x : region.right] for line in lines)

        drawn = chart()
        assert "●" in drawn, "a marker at each round"
        assert not any(m in drawn for m in offline), "no legend drawn over the lines"
        await pilot.press("m")  # cost: every offline call is $0
        await pilot.pause(0.2)
        assert "-1.00" not in chart() and "-0.5" not in chart()
        await pilot.press("m", "m")  # tokens
        await pilot.pause(0.2)
        assert re.search(r"\d\.0┤", chart()) is None, chart()
        assert re.search(r"243,1\d\d", chart()) or re.search(r"\d{3},\d{3}┤", chart()), chart()
        session.stop()


@pytest.mark.parametrize("name", ["live", "live_finished", "detail"])
async def test_the_round_chart_keeps_four_plot_rows_at_80x24_beside_five_models(
    paths: Paths, store: SessionStore, name: str
) -> None:
    """At 80x24 five models' table left the chart 2 plot rows (live running: 3) between its box's top
    line and its x axis: the events give way at 24 rows and the plot has no box inside its pane."""
    app = wide_app(name, paths, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await reach(pilot, name)
        region = app.screen.query_one("#chart").region
        chart = [line[region.x : region.right] for line in screen_lines(app)[region.y : region.bottom]]
        axis = next(i for i, line in enumerate(chart) if "└" in line)
        plot_rows = [line for line in chart[:axis] if "┌" not in line]
        assert len(plot_rows) >= 4, "\n".join(chart)
        assert any("┤" in line for line in plot_rows)
        session = app.runner.session if app.runner else None
        if isinstance(session, ScriptedSession):
            session.stop()


async def test_report_tables_fit_80_columns_and_name_what_they_leave_out(
    paths: Paths, store: SessionStore
) -> None:
    """The report viewer's wide tables scrolled sideways at 80 columns (Results: 12 columns, half of
    them off-screen with no sign of it): each table now fits the width, wrapped or without its
    rightmost columns, and a column it leaves out is named under it."""
    from rich.console import Console

    app = wide_app("report", paths, store)
    async with app.run_test(size=(80, 24)) as pilot:
        await reach(pilot, "report")
        screen = app.screen
        assert isinstance(screen, ReportScreen)
        lines = ["", *screen.markdown.splitlines()]
        headers = [  # each pipe table's first line
            [cell.strip() for cell in line.strip().strip("|").split("|")]
            for before, line in zip(lines, lines[1:], strict=False)
            if line.lstrip().startswith("|") and not before.lstrip().startswith("|")
        ]
        tables = list(screen.query(".report-table"))
        assert len(tables) == len(headers) >= 3
        console = Console(width=200)
        for widget, header in zip(tables, headers, strict=True):
            assert widget.max_scroll_x == 0 and widget.region.right <= 80, f"{header[:3]}… scrolls sideways"
            width = widget.content_size.width
            lines = console.render_lines(widget.render(), console.options.update_width(width), pad=False)
            drawn = [("".join(s.text for s in line)).rstrip() for line in lines]
            assert max(len(line) for line in drawn) <= width, "\n".join(drawn)
            words = " ".join(drawn).split()
            for label in header:
                assert all(w in " ".join(words) for w in label.split()), (
                    f"{label!r} is neither shown nor named"
                )


async def test_compare_charts_keep_their_key_outside_the_plot(paths: Paths, wide_history: list[str]) -> None:
    """Each compare chart's key is under the plot, never drawn over its dots and lines, each entry whole
    on a line; the rounds chart marks each session's points with that session's marker."""
    from dspy_tui.tui.widgets.chart_legend import ChartLegend

    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await home_lists(pilot, 2)
        await pilot.press("space", "space", "c")  # five models: the most a plotext legend was drawn for
        await wait_for(
            pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.verdicts is not None
        )
        screen = app.screen
        assert isinstance(screen, CompareScreen)

        for chart in ("scatter", "rounds", "trend"):
            screen.query_one("#charts").active = chart
            await pilot.pause(0.3)
            plot = region_text(app, f"#{chart}-chart")
            drawn = [m for m in WIDE if m[:14] in plot]  # a model id, whole or cut
            assert drawn == [], f"the {chart} chart draws a legend over its plot: {drawn}\n{plot}"
            if chart == "rounds":
                assert "◆" in plot, f"the second session's rounds with its own marker\n{plot}"
            key = region_text(app, "#chart-legend")
            for model in WIDE:
                assert model in key, f"{model} missing from the key under the {chart} chart"
            cut = [line for line in key.splitlines() if line.rstrip().endswith(("━", "●", "◆"))]
            assert not cut, f"a mark on one line, what it means on the next:\n{key}"
        assert isinstance(screen.legend, ChartLegend)
        assert "same name (wide0aaaaaaa)" in key and "same name (wide1bbbbbbb)" in key, "sessions of one name"


@pytest.mark.parametrize("size", [(80, 24), (80, 34)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_compare_key_is_whole_and_takes_one_line_of_a_short_screen(
    paths: Paths, wide_history: list[str], size: tuple[int, int]
) -> None:
    """At 80 columns the key of five long model ids and two sessions took four lines, its height three:
    the second session's marker lost its name, and at 80x24 the score chart kept two plot rows. The
    key shows every session's marker, and their names and the models or that the table holds them (its
    Session and Model columns); on a short screen in one line, the chart keeping four rows."""
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        await home_lists(pilot, 2)
        await pilot.press("space", "space", "c")
        await wait_for(
            pilot, lambda: isinstance(app.screen, CompareScreen) and bool(app.screen.legend.models)
        )
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        key = " ".join(region_text(app, "#chart-legend").split())
        sessions, models = screen.legend.sessions, list(screen.legend.models)
        assert all(marker in key for marker, _ in sessions), key
        named = all(f"{marker} {name}" in key for marker, name in sessions)
        assert named or "as in the table's Session and Model columns" in key, key
        assert all(m in key for m in models) or "colours as in the table" in key, key
        if screen.has_class("-short"):
            assert screen.legend.region.height == 1, key
            plot = region_text(app, "#scatter-chart").splitlines()
            top = next(i for i, line in enumerate(plot) if "┌" in line)
            bottom = next(i for i, line in enumerate(plot) if "└" in line)
            assert bottom - top - 1 >= 4, "\n".join(plot)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_estimate_shows_whole_model_ids(paths: Paths, size: tuple[int, int]) -> None:
    """Long ids in the form's estimate are whole, never cut (`anthropic/claude-3…` hid which Claude)
    nor broken mid-word onto the next line (`gemini/gemini-2.0-f` / `lash`): an id too long for its
    column has a line of its own above its figures."""
    app = DspyTuiApp(paths, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        await home_lists(pilot, 0)
        screen = await new_session_form(pilot)
        add = screen.query_one("#add-model", Input)
        for model in WIDE[:4]:
            add.value = model
            await add.action_submit()
        await wait_for(
            pilot,
            lambda: {e.model for e in screen.estimates or []} >= set(WIDE[:4]),
            timeout=60,
            what="the estimate of the long ids",
        )
        await pilot.pause(0.2)
        estimate = screen.query_one("#estimate")  # at 80x24 its pane scrolls: all its lines, in view or not
        lines = [strip.text for strip in estimate.render_lines(Region(0, 0, *estimate.size))]
        for model in WIDE[:4]:
            assert any(model in line for line in lines), f"{model} is not whole on one line: {lines}"
        ids_never_broken(lines)


def fits_the_screen(app: DspyTuiApp, table: str, size: tuple[int, int]) -> None:
    """Nothing scrolled off: the header row of `table` and every model's row in view, the panes' bottom
    borders drawn and the footer on the last line (at 80x24 both screens scrolled by a line)."""
    screen = app.screen
    assert screen.max_scroll_y == 0 and screen.scroll_y == 0, f"the screen scrolls at {size}"
    lines = pane_lines(app, table)
    assert lines and lines[0].split()[0] == "Model", f"the header row is not in view: {lines}"
    shown = " ".join(lines)
    assert all(model[:12] in shown for model in WIDE), f"a model is not in view: {lines}"
    drawn = screen_lines(app)
    assert drawn[-2].startswith("╰"), f"the events pane is cut: {drawn[-2]!r}"


def ids_never_broken(lines: list[str]) -> None:
    """No line starts with the end of a model id: a long id is cut with `…` or set apart, not wrapped."""
    for line in lines:
        first = line.strip(" │").split(" ")[0]
        broken = [m for m in WIDE if first and first in m and not m.startswith(first.rstrip("…"))]
        assert broken == [], f"an id broken mid-word: {line!r} in {lines}"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_finished_live_screen_and_detail_fit_the_terminal(
    paths: Paths, store: SessionStore, wide_history: list[str], size: tuple[int, int]
) -> None:
    session = wide_live_session(store, paths, finished=True)
    app = DspyTuiApp(paths, live_session=session, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.results_shown)
        await pilot.pause(0.3)
        check(app, "live-finished-fit", size)
        fits_the_screen(app, "#bench-table", size)
        await pilot.press("escape")
        await home_lists(pilot, 3)
        await pilot.press("down", "enter")  # a wide history session
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None)
        await pilot.pause(0.3)
        check(app, "detail-fit", size)
        fits_the_screen(app, "#results", size)
        ids_never_broken(pane_lines(app, "#transfers"))


def readme_tui() -> str:
    """README's TUI section in lower case on one line (a key and its word may be wrapped apart)."""
    text = (Path(__file__).parents[2] / "README.md").read_text()
    return " ".join(text[text.index("## The TUI") : text.index("## Development")].lower().split())


def footer_keys_missing_from_readme(app: DspyTuiApp) -> list[str]:
    """The keys this screen's footer shows that README's TUI section does not list as `key` Description."""
    from textual.keys import format_key

    bindings = app.screen.active_bindings
    readme = readme_tui()
    missing = []
    for shown in app.screen.query(FooterKey):
        binding = bindings[shown.key].binding
        if not any(
            f"`{key}` {binding.description}".lower() in readme
            for k in binding.key.split(",")
            for key in {k.strip(), format_key(k.strip())}
        ):
            missing.append(f"{shown.key_display} {binding.description}")
    return missing


@pytest.mark.parametrize("name", SCREENS)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_screen_keeps_its_texts_apart_and_readme_lists_its_footer(
    paths: Paths, store: SessionStore, size: tuple[int, int], name: str
) -> None:
    """Every screen and dialog (the walk in screen_walk.py) over five long ids, hosted prices and
    latencies over a second: no two cells or labels touch, the footer's keys are whole, and each key a
    footer shows is in README's TUI section (a footer at 80 columns shows other keys than at 120)."""
    app = wide_app(name, paths, store)
    async with app.run_test(size=size) as pilot:
        await reach(pilot, name)
        check(app, name, size)
        assert footer_keys_missing_from_readme(app) == [], f"{name} at {size}: keys missing from README"
        session = app.runner.session if app.runner else None
        if isinstance(session, ScriptedSession):
            session.stop()
