"""The `dspy-tui` command.

With no arguments it opens the Textual app; subcommands work headless. Every
error a user can cause ends in one sentence on stderr and exit code 2.
Textual and DSPy are imported only by the commands that need them, so the
quick commands (and the app's first paint) stay fast.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from dspy_tui import __version__
from dspy_tui.engine.strict_json import strict_json
from dspy_tui.engine.usd import format_usd
from dspy_tui.storage import keys
from dspy_tui.storage.paths import resolve_paths

if TYPE_CHECKING:
    from dspy_tui.engine.service import SessionService

EXIT_OK, EXIT_ERROR, EXIT_USER, EXIT_BUDGET = 0, 1, 2, 3


class UserError(Exception):
    """A mistake the user can fix; printed as one sentence, exit 2."""


def _user_error_types() -> tuple[type[BaseException], ...]:
    """Errors a user can cause; imported late so quick commands and the app start fast."""
    from dspy_tui.engine.service import ResumeRefused
    from dspy_tui.storage.db import StorageError
    from dspy_tui.storage.sessions import SessionBusy, UnknownSession

    return (
        UserError,
        ResumeRefused,
        StorageError,
        UnknownSession,
        SessionBusy,
        keys.KeyStoreError,
        FileNotFoundError,
    )


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Inside: a ValueError is the user's (a bad config, dataset, model, key or price), told in one sentence."""
    try:
        yield
    except ValueError as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(text) from None


def _service() -> SessionService:
    from dspy_tui.engine.service import SessionService

    return SessionService(resolve_paths(), keys=keys.get_key)


def _print_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))


def _money(usd: float | None, missing: str = "-") -> str:
    """Dollars as every text table prints them (`$0.0058`, `$12.34`): never a float's repr."""
    if usd is None:
        return missing
    return format_usd(usd)


def _session_cost(usd: float | None, config: Mapping[str, Any], lead: str = "cost ") -> str:
    """A session's cost, "no cost (offline/simulated models)" or with its unpriced models named as such."""
    from dspy_tui.engine.pricing import cost_words
    from dspy_tui.engine.service import price_labels

    return cost_words(f"{lead}{_money(usd)}", price_labels(config).values())


def _by_phase(costs: Mapping[str, float]) -> str:
    """ "baseline $0.0012, optimization $0.0100, benchmark $0.0030": where a model's cost went."""
    return ", ".join(f"{phase} {_money(usd)}" for phase, usd in costs.items() if usd)


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _print_rows(args: argparse.Namespace, rows: list[dict[str, Any]], columns: Sequence[str]) -> int:
    """A listing command's output: the rows as JSON with --json, else these columns as a table."""
    if args.json:
        print(strict_json(rows))
    else:
        _print_table(rows, columns)
    return EXIT_OK


def _fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else ""


# -- keys -------------------------------------------------------------------
def cmd_keys_list(args: argparse.Namespace) -> int:
    statuses = keys.list_keys()
    if args.json:
        print(
            strict_json([{"provider": s.provider, "source": s.source, "masked": s.masked} for s in statuses])
        )
        return EXIT_OK
    if not keys.keyring_available():
        print(keys.NoKeyring().args[0], file=sys.stderr)
    _print_table(
        [{"provider": s.provider, "source": s.source, "key": s.masked} for s in statuses],
        ["provider", "source", "key"],
    )
    return EXIT_OK


def cmd_keys_set(args: argparse.Namespace) -> int:
    if args.provider not in keys.KEY_ENV:
        raise UserError(
            f"Unknown provider {args.provider!r}; providers with keys are: {', '.join(keys.KEY_ENV)}."
        )
    if sys.stdin.isatty():
        value = getpass.getpass(f"{args.provider} API key (hidden): ")
    else:
        value = sys.stdin.readline()
    keys.set_key(args.provider, value)
    print(f"Stored the {args.provider} key in the OS keyring ({keys.resolve(args.provider).masked}).")
    return EXIT_OK


def cmd_keys_delete(args: argparse.Namespace) -> int:
    if keys.delete_key(args.provider):
        print(f"Deleted the {args.provider} key from the OS keyring.")
    else:
        print(f"There was no {args.provider} key in the OS keyring.")
    return EXIT_OK


# -- sessions ---------------------------------------------------------------
def cmd_sessions_list(args: argparse.Namespace) -> int:
    service = _service()
    rows, _ = service.list_sessions()
    if args.json:
        print(strict_json([asdict(r) for r in rows]))
        return EXIT_OK
    if not rows:
        print("No sessions yet. Start one with `dspy-tui` (press n) or `dspy-tui run --task demo:sentiment`.")
        return EXIT_OK
    table = [
        {
            **asdict(r),
            "started": _fmt_time(r.created_at),
            "best_test": "" if r.best_test_score is None else _score(r.best_test_score),
            "cost": _session_cost(r.cost_usd, service.session(r.id).config, lead=""),
        }
        for r in rows
    ]
    _print_table(table, ["id", "name", "started", "status", "models", "best_test", "cost"])
    return EXIT_OK


def cmd_sessions_show(args: argparse.Namespace) -> int:
    data = _service().summary(args.id)
    if args.json:
        print(strict_json(data))
        return EXIT_OK
    print(f"{data['name']} ({data['id']}): {data['status']}, started {_fmt_time(data['created_at'])}")
    print(
        f"task {data['task']}, seed {data['seed']}, {_session_cost(data['cost_usd'], data['config'])}, "
        f"{data['calls']} calls sent, {data['cache_hits']} answered from the cache"
    )
    table = [
        {
            "model": m["model"],
            "status": m["status"],
            "baseline": _score(m["baseline_score"]),
            "best_dev": _score(m["best_dev_score"]),
            "test": _score(m["test_score"]),
            "cost": _money(m["cost_usd"], (m["cost_note"] or "-").split(":")[0].removesuffix(" model")),
            "price": m["price"],
            "by_phase": _by_phase(m["cost_by_phase"]) if m["cost_usd"] is not None else "",
        }
        for m in data["models"]
    ]
    _print_table(table, ["model", "status", "baseline", "best_dev", "test", "cost", "price", "by_phase"])
    for judge, phases in data["judge_cost_by_phase"].items():
        print(f"judge {judge}: {_money(sum(phases.values()))} (not in any model's cost)")
    from dspy_tui.engine.metrics import metric_rows

    for m in data["models"]:
        if m["metrics"]["values"]:
            print(f"\n{m['model']} (metrics: docs/metrics.md)")
            for label, text in metric_rows(m["metrics"]):
                print(f"  {label:<62} {text}")
    return EXIT_OK


def cmd_sessions_delete(args: argparse.Namespace) -> int:
    _service().delete(args.id)
    print(f"Deleted session {args.id}.")
    return EXIT_OK


# -- sessions that run -------------------------------------------------------


def _flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config settings given as flags (--rounds, --optimizer, --budget, --seed, --seeds)."""
    given = {
        "rounds": args.rounds,
        "optimizer": args.optimizer,
        "budget_usd": args.budget,
        "seed": args.seed,
        "seeds": _seeds(args.seeds),
    }
    return {key: value for key, value in given.items() if value is not None}


def _config_from_args(args: argparse.Namespace) -> Any:
    from dspy_tui.engine.config import load_config, parse_config

    if args.config and args.task:
        raise UserError("Give either a CONFIG file or --task/--models, not both.")
    if args.config:
        config = load_config(args.config)
        overrides = _flag_overrides(args)
        return (
            parse_config({**config.model_dump(mode="json"), **overrides}, args.config)
            if overrides
            else config
        )
    if not args.task:
        raise UserError("Give a CONFIG file or --task demo:NAME (see `dspy-tui tasks`).")
    data: dict[str, Any] = {
        "name": args.name or args.task,
        "task": {"dataset": args.task},
        "models": [
            m.strip()
            for m in (args.models or "offline/small,offline/base,offline/large").split(",")
            if m.strip()
        ],
    }
    return parse_config({**data, **_flag_overrides(args)}, "command line")


def _warn_fit(session: Any) -> None:
    """Said once, before the run: the offline models cannot fit this task's shape; `openai/` aimed at
    a local server."""
    from dspy_tui.engine.estimate import budget_warning, estimate, recorded_outputs
    from dspy_tui.engine.lm import local_url_warning

    config = session.config
    warnings = [
        budget_warning(config, estimate(config, session.task, recorded_outputs(session.store, config)))
    ]
    if any(m.startswith("offline/") for m in session.config.model_ids()):  # its package: 0.02 s to import
        from dspy_tui.engine.providers.offline.shapes import fit_warning

        warnings.insert(0, fit_warning(session.task, session.config.model_ids()))
    warnings += [local_url_warning(m, run.lm.engine.endpoint.base_url) for m, run in session.runs.items()]
    for warning in filter(None, warnings):
        print(f"dspy-tui: {warning}", file=sys.stderr)


def _seeds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seeds takes comma-separated integers such as 0,1,2, not {text!r}.") from None


@contextlib.contextmanager
def _start_up_gc() -> Iterator[Callable[[], None]]:
    """The cyclic collector for a command that runs sessions or the app: off while it starts; what the
    start-up made is frozen when the session or app starts (`started()`) and unfrozen when the command ends.

    Preparing a session imports DSPy, pydantic, aiohttp and our modules: a few hundred thousand objects
    that live as long as the process, which the collector would otherwise scan again and again (about
    0.25 s CPU of a 2.5 s headless run, benchmarks/rate_limit_headers.py); the app's import of Textual
    was collected some 90 times before its first frame (13 ms CPU, benchmarks/startup.py). Frozen objects are still
    freed when nothing refers to them; only cycles among them wait for the unfreeze. A process that
    froze its own objects before (the TUI's live screen does) keeps them frozen, and a collector that
    was off stays off: the command leaves the collector as it found it."""
    was_enabled, frozen = gc.isenabled(), gc.get_freeze_count() > 0
    ours = False
    gc.disable()

    def started() -> None:
        nonlocal frozen, ours
        if not frozen:
            gc.freeze()
            frozen = ours = True
        gc.enable()

    try:
        yield started
    finally:
        if ours:
            gc.unfreeze()
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


def cmd_run(args: argparse.Namespace) -> int:
    from dspy_tui.engine.repeats import seed_configs

    with _start_up_gc() as started:
        service = _service()
        with user_errors():
            configs = seed_configs(_config_from_args(args))
            if len(configs) > 1:
                return _run_seeds(service, configs, json_lines=args.json, started=started)
            session = service.create(configs[0])
        _warn_fit(session)
        started()
        return _drive(service, session, headless=args.headless, json_lines=args.json)


def _run_seeds(
    service: SessionService, configs: list[Any], *, json_lines: bool, started: Callable[[], None]
) -> int:
    """A repeated run: one headless session per seed, then the summary across seeds (engine/repeats.py)."""
    from dspy_tui.cli.headless import EXIT_MODEL_PROBLEM, run_headless
    from dspy_tui.engine.repeats import render_text, summarise
    from dspy_tui.storage.files import write_output

    ids: list[str] = []
    worst = EXIT_OK
    for config in configs:
        if not json_lines:
            print(f"seed {config.seed}: {config.name}", flush=True)
        session = service.create(config)
        _warn_fit(session)
        started()
        ids.append(session.session_id)
        code = run_headless(service, session, json_lines=json_lines)
        worst = max(worst, code) if code in (EXIT_OK, EXIT_MODEL_PROBLEM) else code
        if code not in (EXIT_OK, EXIT_MODEL_PROBLEM):  # stopped, out of budget or failed: no further seeds
            break
    summary = summarise([service.session(sid) for sid in ids])
    out = resolve_paths().exports_dir / f"repeats-{configs[0].repeat_group}.json"
    write_output(out, json.dumps(summary, indent=2, sort_keys=True) + "\n", database=resolve_paths().db_path)
    if not json_lines:
        print(render_text(summary))
        print(f"  summary (json): {out}")
    return SessionEnded(worst)


def cmd_resume(args: argparse.Namespace) -> int:
    with _start_up_gc() as started:
        service = _service()
        with user_errors():
            session = service.resume(
                args.id,
                completed_hint=(
                    f"`dspy-tui report {args.id}` shows its results, and `dspy-tui run` "
                    "with the same config (or f5 Re-run on its Detail screen in dspy-tui) runs it again as a new session"
                ),
                budget_usd=args.budget,
            )
        _warn_fit(session)
        if not args.json:
            print(f"dspy-tui: {_resume_estimate(session)}", file=sys.stderr)
        started()
        return _drive(service, session, headless=args.headless, json_lines=args.json)


def _resume_estimate(session: Any) -> str:
    from dspy_tui.engine.estimate import after_resume, estimate, recorded_outputs, resume_sentence

    recorded = {role: session.store.calls_by_model(session.session_id, role) for role in ("model", "judge")}
    written = recorded_outputs(session.store, session.config)
    return resume_sentence(after_resume(estimate(session.config, session.task, written), recorded))


def _drive(service: SessionService, session: Any, *, headless: bool, json_lines: bool) -> int:
    from dspy_tui.cli.headless import OUTCOME_EXIT, run_headless

    if not headless and not json_lines and sys.stdout.isatty():
        from dspy_tui.tui.app import DspyTuiApp

        app = DspyTuiApp(live_session=session)
        app.run()
        outcome = app.runner.outcome if app.runner is not None else None
        return OUTCOME_EXIT.get(outcome or "stopped", EXIT_ERROR)
    return SessionEnded(run_headless(service, session, json_lines=json_lines))


def cmd_report(args: argparse.Namespace) -> int:
    service = _service()
    if args.output:
        with user_errors():
            service.write_report(args.id, args.format, Path(args.output), force=args.force)
        print(f"Wrote the {args.format} report of session {args.id} to {args.output}.")
        return EXIT_OK
    with user_errors():
        content = service.render_report(args.id, args.format)
    sys.stdout.write(content if content.endswith("\n") else content + "\n")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    with user_errors():
        path = _service().export_program(args.id, args.model, Path(args.output), force=args.force)
    print(f"Wrote {args.model}'s optimized program to {path} (load it with `program.load(path)`).")
    return EXIT_OK


def cmd_estimate(args: argparse.Namespace) -> int:
    from dspy_tui.engine.config import load_config
    from dspy_tui.engine.estimate import as_json, budget_warning, estimate
    from dspy_tui.engine.tasks import load_task

    with user_errors():
        config = load_config(args.config)
        written = _service().recorded_outputs(config)
        estimated = estimate(config, load_task(config.task), written)
        rows = as_json(estimated)
    if args.json:
        print(strict_json(rows))
        return EXIT_OK

    def money(r: dict[str, float] | None, k: str) -> str:
        return "unpriced" if r is None else _money(r[k])

    def span(r: dict[str, float]) -> str:
        return "/".join(str(round(r[k])) for k in ("min", "expected", "max"))

    table = []
    for r in rows:
        who = r["model"] + (" (judge)" if r["role"] == "judge" else "")
        costs = r["cost_by_phase"] or {}
        for phase, calls in r["calls_by_phase"].items():
            table.append(
                {"model": who, "phase": phase, "calls min/exp/max": span(calls)}
                | {"cost expected": money(costs.get(phase) if r["cost_by_phase"] else None, "expected")}
            )
        table.append(
            {
                "model": who,
                "phase": "total",
                "price": r["price"],
                "calls min/exp/max": span(r["calls"]),
                "cost min": money(r["cost_usd"], "min"),
                "cost expected": money(r["cost_usd"], "expected"),
                "cost max": money(r["cost_usd"], "max"),
                "time (local)": f"~{r['seconds']['expected'] / 60:.0f} min" if r["seconds"] else "",
            }
        )
    columns = ["model", "phase", "price", "calls min/exp/max", "cost min", "cost expected", "cost max"]
    _print_table(table, columns + (["time (local)"] if any(r["seconds"] for r in rows) else []))
    if warning := budget_warning(config, estimated):
        print(f"dspy-tui: {warning}", file=sys.stderr)
    return EXIT_OK


def cmd_tasks(args: argparse.Namespace) -> int:
    from dspy_tui.engine.tasks import list_demo_tasks

    rows = [
        {
            "name": t.name,
            "description": t.description,
            "size": t.size,
            "signature": t.signature,
            "metric": t.metric,
        }
        for t in list_demo_tasks()
    ]
    return _print_rows(args, rows, ["name", "size", "signature", "metric", "description"])


def cmd_models(args: argparse.Namespace) -> int:
    from dspy_tui.engine.catalog import known_models

    return _print_rows(args, known_models(), ["model", "provider", "kind", "price", "source", "key"])


# -- doctor -----------------------------------------------------------------
def cmd_doctor(args: argparse.Namespace) -> int:
    import platform
    from importlib.metadata import version

    from dspy_tui.engine import local_models
    from dspy_tui.storage.db import journal_mode, open_database, schema_version

    paths = resolve_paths()
    db = open_database(paths.db_path)
    info = {
        "dspy-tui": __version__,
        "python": platform.python_version(),
        "dspy": version("dspy"),
        "textual": version("textual"),
        "data dir": str(paths.data_dir),
        "config dir": str(paths.config_dir),
        "database": str(paths.db_path),
        "schema version": schema_version(db),
        "journal mode": journal_mode(db),
        "keyring backend": keys.keyring_backend_name(),
    }
    for status in keys.list_keys():
        info[f"key {status.provider}"] = f"{status.source} {status.masked}".strip()
    info.update(local_models.doctor_info())
    if args.json:
        print(strict_json(info))
        return EXIT_OK
    width = max(map(len, info))
    for k, v in info.items():
        print(f"{k.ljust(width)}  {v}")
    if not keys.keyring_available():
        print(keys.NoKeyring().args[0])
    return EXIT_OK


# -- the app ----------------------------------------------------------------
def cmd_app(args: argparse.Namespace) -> int:
    with _start_up_gc() as started:
        from dspy_tui.tui.app import DspyTuiApp

        app = DspyTuiApp()
        started()
        app.run()
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dspy-tui",
        description="Run and watch DSPy prompt optimization for several LLMs at once. "
        "With no command, opens the terminal app.",
    )
    parser.add_argument("--version", action="version", version=f"dspy-tui {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to the log file")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p_keys = sub.add_parser("keys", help="list, set or delete provider API keys (kept in the OS keyring)")
    keys_sub = p_keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    _command(keys_sub, "list", cmd_keys_list, "each provider's key source, masked", json="print JSON")
    p = _command(keys_sub, "set", cmd_keys_set, "store a key (hidden prompt, or stdin when not a terminal)")
    p.add_argument("provider", help=f"one of: {', '.join(keys.KEY_ENV)}")
    p = _command(keys_sub, "delete", cmd_keys_delete, "remove a stored key from the keyring")
    p.add_argument("provider", help=f"one of: {', '.join(keys.KEY_ENV)}")

    p_sessions = sub.add_parser("sessions", help="list, show or delete stored sessions")
    s_sub = p_sessions.add_subparsers(dest="sessions_command", metavar="ACTION", required=True)
    _command(s_sub, "list", cmd_sessions_list, "all sessions, newest first", json="print a JSON array")
    p = _command(
        s_sub, "show", cmd_sessions_show, "one session with its models and totals", json="print a JSON object"
    )
    p.add_argument("id")
    p = _command(s_sub, "delete", cmd_sessions_delete, "delete a session and everything recorded for it")
    p.add_argument("id")

    p = sub.add_parser("run", help="run a session from a CONFIG file or from --task/--models")
    p.add_argument("config", nargs="?", help="a session config (TOML); see examples/")
    p.add_argument("--task", help="a built-in task, e.g. demo:sentiment (instead of CONFIG)")
    p.add_argument("--models", help="comma-separated provider/model list (default: three offline models)")
    p.add_argument("--optimizer", help="bootstrap, random_search, mipro, copro, simba, gepa or labeled")
    p.add_argument("--rounds", type=int, help="optimization rounds per model (1-15)")
    p.add_argument("--budget", type=float, help="hard budget in USD for the whole session")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument(
        "--seeds", help="comma-separated seeds, e.g. 0,1,2: one headless run per seed, then mean ± CI"
    )
    p.add_argument("--name", help="session name")
    p.add_argument("--headless", action="store_true", help="no TUI: progress bars on the terminal")
    p.add_argument("--json", action="store_true", help="no TUI: one JSON object per event per line")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "resume", help="continue an interrupted or stopped session; paid calls come from the cache"
    )
    p.add_argument("id")
    p.add_argument(
        "--budget",
        type=float,
        help="a new hard budget in USD for the whole session (more than it has spent), "
        "to continue a session its budget stopped",
    )
    p.add_argument("--headless", action="store_true", help="no TUI: progress bars on the terminal")
    p.add_argument("--json", action="store_true", help="no TUI: one JSON object per event per line")
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("report", help="a session's report: scores with confidence intervals, cost, latency")
    p.add_argument("id")
    p.add_argument("--format", choices=["md", "json", "html"], default="md")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.add_argument("--force", action="store_true", help="replace the output file if it exists")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("export", help="a model's optimized program as DSPy JSON (program.load(FILE))")
    p.add_argument("id")
    p.add_argument("--model", required=True, help="provider/model as shown by `sessions show`")
    p.add_argument("-o", "--output", required=True, help="the JSON file to write")
    p.add_argument("--force", action="store_true", help="replace the output file if it exists")
    p.set_defaults(func=cmd_export)

    p = _command(
        sub,
        "estimate",
        cmd_estimate,
        "expected calls and cost per model and phase, before spending anything",
        json="print JSON",
    )
    p.add_argument("config")
    for name, func, what in (
        ("tasks", cmd_tasks, "the built-in demo tasks"),
        ("models", cmd_models, "known models: provider, priced or not, key present or not"),
        ("doctor", cmd_doctor, "versions, data paths, keyring backend, keys, schema version"),
    ):
        _command(sub, name, func, what, json="print JSON")
    return parser


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    func: Callable[[argparse.Namespace], int],
    help: str,
    *,
    json: str | None = None,
) -> argparse.ArgumentParser:
    """A command (or a command's action) that runs `func`; `json` says what its --json prints."""
    p = sub.add_parser(name, help=help)
    p.set_defaults(func=func)
    if json is not None:
        p.add_argument("--json", action="store_true", help=json)
    return p


class SessionEnded(int):
    """The exit code of a command that ran its sessions headless to their end (stored and closed),
    so `entry` may `leave` without the interpreter's teardown; it compares as the plain code."""


def entry() -> NoReturn:
    """The `dspy-tui` command. After a headless session it leaves at once (`leave`); otherwise a normal exit."""
    code = main()
    if isinstance(code, SessionEnded):
        leave(code)
    sys.exit(code)


def leave(code: int) -> NoReturn:
    """Exit without the interpreter's teardown once a session has ended and everything is stored.

    The session's end closed its recorder and wrote its status and report; the exit handlers
    still run (the runtime's HTTP sessions, local servers, logging's flush). What is skipped is
    collecting thousands of modules' objects (0.5 s on a quiet machine, 3 s on a loaded one, a
    whole second of a short run) and joining threads: a thread stuck in the user's code (a metric
    that sleeps) must not hold a stopped session's process.
    """
    atexit._run_exitfuncs()  # noqa: SLF001 - the registered handlers, in order, as a normal exit runs them
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing more can be said
            stream.flush()
    os._exit(code)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (`sys.argv` without `argv`). None at all opens the app, and is read without
    building the parser: its sixteen commands took 3.5 ms of every app start (benchmarks/startup.py)."""
    given = list(sys.argv[1:] if argv is None else argv)
    return build_parser().parse_args(given) if given else argparse.Namespace(command=None, verbose=False)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from dspy_tui.storage.logs import setup_logging

    try:
        setup_logging(resolve_paths().log_dir, verbose=args.verbose)
        func: Callable[[argparse.Namespace], int] = getattr(args, "func", cmd_app)
        return func(args)
    except Exception as exc:
        import sqlite3

        if isinstance(exc, sqlite3.DatabaseError):  # the database file broke under a command
            from dspy_tui.storage.db import database_error

            exc = database_error(resolve_paths().db_path, exc)
        if isinstance(exc, FileNotFoundError):
            message = f"File not found: {exc.filename}."
        elif isinstance(exc, _user_error_types()):
            message = exc.args[0] if exc.args else str(exc)
        elif isinstance(exc, PermissionError):
            message = f"permission denied: {exc.filename}."
        elif isinstance(exc, OSError):  # a path the user gave (output file, DSPY_TUI_HOME) is a directory...
            message = f"{exc.strerror or exc}" + (f": {exc.filename}." if exc.filename else ".")
        else:
            raise
        print(f"dspy-tui: {message}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("dspy-tui: interrupted.", file=sys.stderr)
        return 130
