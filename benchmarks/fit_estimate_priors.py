"""Fit the estimator's round-gain prior from real sessions, and write engine/estimate/priors.py.

How many optimization rounds run depends on how often a round gains `min_delta` over the best
program (a model converges after `patience` rounds without one). That chance is data dependent,
so it is measured here instead of assumed: every optimizer runs every built-in demo task, with
both modules, on the offline models (small, base, large) and several task seeds (each its own
train/dev/test split; the calibration test's split, task seed 0, is left out), at the
calibration size (16 train / 10 dev / 10 test), with `patience` = `rounds` so that every round
runs. Each optimization round's gain over the best program so far is read from the session's
`rounds` table.

Fitted per optimizer and module: `gain(r) = first * decay ** (r - 1)`, the chance round r gains (diminishing
returns: the first rounds take the easy gains), both by maximum likelihood on a grid; the observed
(rounds, gains) per round number are written next to them. Each run has its own session seed: a
round's randomness (MIPRO's trials, the labeled demos, the shuffles) comes from the session seed
and the round's number, so with one seed for all runs every run of round r drew the same trials
(MIPRO's round 4 gained in 16 of 36 runs, round 2 in 5). Also measured, counted inside DSPy:
the share of SIMBA's candidates that change the program (a strategy skips, leaving its source
program as it was, when the mini-batch example it is built from has no gap between a good and a
bad sample); the share of teacher traces that pass the metric, per bootstrapping optimizer
(bootstrapping stops after `max_bootstrapped_demos` passing traces); the share of GEPA's
proposals its acceptance criterion takes (each is then scored on the valset). Run from the repo root:
`python benchmarks/fit_estimate_priors.py [--seeds 1 2 3] [--rounds 5]` (~30 min on a loaded
2-core machine); it rewrites engine/estimate/priors.py.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import logging
import math
import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEACHERS = ("bootstrap", "random_search", "mipro")  # the optimizers that bootstrap demos
OPTIMIZERS = ("labeled", "bootstrap", "random_search", "mipro", "copro", "simba", "gepa")
TASKS = ("demo:sentiment", "demo:intent")
MODULES = ("predict", "chain_of_thought")
MODELS = ["offline/small", "offline/base", "offline/large"]
SIZE = {"max_train": 16, "max_dev": 10, "max_test": 10}
MIN_DELTA = 0.005  # the default convergence.min_delta; on 10 dev examples every gain is >= 0.1
OUT = Path(__file__).resolve().parents[1] / "engine" / "estimate" / "priors.py"


def count_simba_strategies(tally: list[int]) -> None:
    """Count SIMBA's strategy outcomes into tally ([skipped, changed]): SIMBA builds its strategies
    from these two names when it is constructed, so they are wrapped in its module."""
    from dspy.teleprompt import simba

    def counted(strategy: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            result = strategy(*args, **kwargs)
            tally[result is not False] += 1
            return result

        return run

    make_demo = simba.append_a_demo
    simba.append_a_rule = counted(simba.append_a_rule)
    simba.append_a_demo = lambda maxlen: counted(make_demo(maxlen))


def count_teachers(tally: dict[str, list[int]], current: list[str]) -> None:
    """Count each teacher trace's outcome into tally[optimizer] ([tried, passed]); every
    bootstrapping optimizer (ours and those inside random search and MIPRO) goes through
    BootstrapFewShot._bootstrap_one_example for each example it tries."""
    import dspy

    attempt = dspy.BootstrapFewShot._bootstrap_one_example

    def counted(self: Any, example: Any, round_idx: int = 0) -> Any:
        success = attempt(self, example, round_idx)
        tally[current[0]][0] += 1
        tally[current[0]][1] += bool(success)
        return success

    dspy.BootstrapFewShot._bootstrap_one_example = counted


def count_proposal_tokens(tally: dict[str, list[float]], current: list[str]) -> None:
    """Tokens of the optimizers' own requests (instructions, rules, reflections: every request whose
    outputs are not the task's) and of the task's, into tally[optimizer] ([proposals, their input,
    their output, task calls, their input]), counted where the offline model bills them."""
    from dspy_tui.engine.providers import offline
    from dspy_tui.engine.providers.offline.prompt import parse_prompt

    complete = offline.complete
    task_outputs = ({"sentiment"}, {"intent"})

    def counted(request: Any, variant: str, sample: int = 0) -> Any:
        reply = complete(request, variant, sample)
        prompt = parse_prompt(request)
        outputs = {o.name for o in prompt.outputs} - {"reasoning"} if prompt is not None else set()
        t = tally[current[0]]
        if outputs in task_outputs:
            t[3] += 1
            t[4] += reply.usage.input_tokens
        else:
            t[0] += 1
            t[1] += reply.usage.input_tokens
            t[2] += reply.usage.output_tokens
        return reply

    offline.complete = counted


def count_gepa_acceptance(tally: list[int]) -> None:
    """Count GEPA's verdicts on its proposals into tally ([proposals, accepted])."""
    from gepa.strategies.acceptance import StrictImprovementAcceptance

    verdict = StrictImprovementAcceptance.should_accept

    def counted(self: Any, proposal: Any, state: Any) -> bool:
        accepted = verdict(self, proposal, state)
        tally[0] += 1
        tally[1] += bool(accepted)
        return accepted

    StrictImprovementAcceptance.should_accept = counted  # type: ignore[method-assign]


def gains(
    optimizer: str, dataset: str, module: str, seed: int, rounds: int, session_seed: int = 1
) -> list[list[float]]:
    """Each model's gain per optimization round in one session (every round runs)."""
    from dspy_tui.engine.config import parse_config
    from dspy_tui.engine.session import Session
    from dspy_tui.storage.paths import resolve_paths
    from dspy_tui.storage.sessions import SessionStore

    config = {
        "name": f"fit {optimizer}",
        "optimizer": optimizer,
        "rounds": rounds,
        "seed": session_seed,
        "convergence": {"patience": rounds},
        "cross_model": False,
        "task": {"dataset": dataset, "module": module, "seed": seed, **SIZE},
        "models": MODELS,
    }
    paths = resolve_paths()
    session = Session(parse_config(config), store=SessionStore(paths.db_path), paths=paths)
    session.prepare()
    with contextlib.redirect_stdout(io.StringIO()):
        assert session.run() == "completed"
    out = []
    for model in MODELS:
        best = [r["best_dev_score"] for r in session.store.rounds(session.session_id, model)]
        out.append([b - a for a, b in zip(best, best[1:], strict=False)])  # best[0]: the baseline
    return out


def fit(per_round: list[tuple[int, int]]) -> tuple[float, float]:
    """(first, decay) maximising the likelihood of (rounds, gains) per round number."""

    def loglik(params: tuple[float, float]) -> float:
        first, decay = params
        total = 0.0
        for r, (n, k) in enumerate(per_round):
            p = min(1.0 - 1e-9, max(1e-9, first * decay**r))
            total += k * math.log(p) + (n - k) * math.log(1 - p)
        return total

    grid = [(a / 100, d / 100) for a in range(101) for d in range(101)]
    return max(grid, key=loglik)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS))
    args = parser.parse_args()
    os.environ["DSPY_TUI_HOME"] = tempfile.mkdtemp()
    logging.disable(logging.WARNING)
    counts: dict[tuple[str, str], list[list[int]]] = defaultdict(lambda: [[0, 0] for _ in range(args.rounds)])
    simba_tally, gepa_tally, current = [0, 0], [0, 0], [""]
    teachers: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    proposals: dict[str, list[float]] = defaultdict(lambda: [0.0] * 5)
    count_proposal_tokens(proposals, current)
    count_simba_strategies(simba_tally)
    count_teachers(teachers, current)
    count_gepa_acceptance(gepa_tally)
    for optimizer in args.optimizers:
        current[0] = optimizer
        for t, dataset in enumerate(TASKS):
            for m, module in enumerate(MODULES):
                for seed in args.seeds:
                    session_seed = 100 * seed + 10 * t + m  # its own round draws for every run
                    runs = gains(optimizer, dataset, module, seed, args.rounds, session_seed)
                    print(
                        optimizer,
                        dataset,
                        module,
                        seed,
                        [[round(g, 2) for g in run] for run in runs],
                        flush=True,
                    )
                    for run in runs:
                        for r, g in enumerate(run):
                            counts[optimizer, module][r][0] += 1
                            counts[optimizer, module][r][1] += g >= MIN_DELTA and g > 0
    fitted = {k: fit([(n, g) for n, g in c]) for k, c in counts.items()}
    measured = Measured(simba_tally, {o: teachers[o] for o in TEACHERS}, gepa_tally, dict(proposals))
    _write(fitted, {k: [tuple(c) for c in v] for k, v in counts.items()}, measured, args)
    for k, c in counts.items():
        print(f"{k}: first, decay = {fitted[k]}  (rounds, gains) per round: {[tuple(r) for r in c]}")


@dataclass
class Measured:
    """Outcomes counted inside DSPy: (all, taken) each."""

    simba: list[int]  # SIMBA strategies, those that changed the program
    teachers: dict[str, list[int]]  # teacher traces tried, passed, per optimizer
    gepa: list[int]  # GEPA proposals, accepted
    proposals: dict[
        str, list[float]
    ]  # per optimizer: its own requests, their input, output; task calls, input


def _share(counted: list[int]) -> float:
    return counted[1] / max(1, counted[0])


def _write(
    fitted: dict[tuple[str, str], tuple[float, float]],
    counts: dict[tuple[str, str], list[tuple[int, ...]]],
    measured: Measured,
    args: Any,
) -> None:
    import dspy

    runs = len(TASKS) * len(MODULES) * len(args.seeds) * len(MODELS)
    lines = [
        '"""Fitted priors of the estimator. GENERATED by benchmarks/fit_estimate_priors.py: do not edit."""',
        "",
        f"# {datetime.date.today()}, dspy {dspy.__version__}: "
        f"python benchmarks/fit_estimate_priors.py --seeds {' '.join(map(str, args.seeds))} "
        f"--rounds {args.rounds}",
        f"# {runs} model runs per optimizer: tasks {', '.join(TASKS)} x modules {', '.join(MODULES)} x",
        f"# task seeds {args.seeds} x {', '.join(MODELS)}; {SIZE['max_train']} train / {SIZE['max_dev']} dev,",
        "# each run its own session seed (100 * task seed + 10 * task + module),",
        f"# {args.rounds} rounds each, every round run. A round 'gains' when the best dev score rises >= {MIN_DELTA}.",
        "",
        "# (first, decay) in gain(r) = first * decay ** (r - 1), per optimizer (maximum likelihood)",
        "# per optimizer and module: the module changes how often later rounds gain (counts below)",
        "GAIN = {",
        *(f'    ("{o}", "{m}"): ({a:.2f}, {d:.2f}),' for (o, m), (a, d) in fitted.items()),
        "}",
        f"# SIMBA's candidates that changed the program: {measured.simba[1]} of {sum(measured.simba)}",
        f"SIMBA_CHANGED = {measured.simba[1] / max(1, sum(measured.simba)):.3f}",
        "# teacher traces that passed the metric, per bootstrapping optimizer: (tried, passed)",
        f"# {', '.join(f'{o} {c[1]} of {c[0]}' for o, c in measured.teachers.items())}",
        "SUCCESS = {",
        *(f'    "{o}": {_share(c):.3f},' for o, c in measured.teachers.items()),
        "}",
        f"# GEPA proposals its acceptance criterion took: {measured.gepa[1]} of {measured.gepa[0]}",
        f"GEPA_ACCEPT = {_share(measured.gepa):.3f}",
        "# The optimizers' own requests (instructions, rules, reflections) against the task's: (input",
        "# tokens beyond a task call's, output tokens) per request, from (requests, their mean input,",
        "# output; task calls, their mean input) as billed by the offline model",
        "PROPOSALS = {",
        *(
            f'    "{o}": ({p[1] / p[0] - p[4] / max(1, p[3]):.0f}, {p[2] / p[0]:.0f}),  # '
            f"{p[0]:.0f} requests, {p[1] / p[0]:.0f} in, {p[2] / p[0]:.0f} out; {p[3]:.0f} task calls, "
            f"{p[4] / max(1, p[3]):.0f} in"
            for o, p in measured.proposals.items()
            if p[0]
        ),
        "}",
        "# (rounds observed, rounds that gained) at round 1, 2, ...",
        "OBSERVED = {",
        *(f'    ("{o}", "{m}"): {c},' for (o, m), c in counts.items()),
        "}",
        "",
    ]
    OUT.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
