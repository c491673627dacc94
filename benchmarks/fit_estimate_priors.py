"""Fit the estimator's round-gain prior from real sessions, and write engine/estimate/priors.py.

How many optimization rounds run depends on how often a round gains `min_delta` over the best
program (a model converges after `patience` rounds without one). That chance is data dependent,
so it is measured here instead of assumed: every optimizer runs every built-in demo task, with
both modules, on the offline models (small, base, large) and several task seeds (each its own
train/dev/test split; the calibration test's split, task seed 0, is left out), at the
calibration size (16 train / 10 dev / 10 test), with `patience` = `rounds` so that every round
runs. Each optimization round's gain over the best program so far is read from the session's
`rounds` table.

Fitted per optimizer: `gain(r) = first * decay ** (r - 1)`, the chance round r gains (diminishing
returns: the first rounds take the easy gains), both by maximum likelihood on a grid; the observed
(rounds, gains) per round number are written next to them. Also measured: the share of SIMBA's
candidates that change the program (a strategy skips, leaving its source program as it was, when
the mini-batch example it is built from has no gap between a good and a bad sample). Run from the repo root:
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
from pathlib import Path
from typing import Any

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


def gains(optimizer: str, dataset: str, module: str, seed: int, rounds: int) -> list[list[float]]:
    """Each model's gain per optimization round in one session (every round runs)."""
    from dspy_tui.engine.config import parse_config
    from dspy_tui.engine.session import Session
    from dspy_tui.storage.paths import resolve_paths
    from dspy_tui.storage.sessions import SessionStore

    config = {
        "name": f"fit {optimizer}",
        "optimizer": optimizer,
        "rounds": rounds,
        "seed": 1,
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
    counts: dict[str, list[list[int]]] = defaultdict(lambda: [[0, 0] for _ in range(args.rounds)])
    simba_tally = [0, 0]
    count_simba_strategies(simba_tally)
    for optimizer in args.optimizers:
        for dataset in TASKS:
            for module in MODULES:
                for seed in args.seeds:
                    runs = gains(optimizer, dataset, module, seed, args.rounds)
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
                            counts[optimizer][r][0] += 1
                            counts[optimizer][r][1] += g >= MIN_DELTA and g > 0
    fitted = {o: fit([(n, k) for n, k in counts[o]]) for o in args.optimizers}
    _write(fitted, {o: [tuple(c) for c in counts[o]] for o in args.optimizers}, simba_tally, args)
    for o in args.optimizers:
        print(f"{o}: first, decay = {fitted[o]}  (rounds, gains) per round: {[tuple(c) for c in counts[o]]}")


def _write(
    fitted: dict[str, tuple[float, float]],
    counts: dict[str, list[tuple[int, ...]]],
    simba: list[int],
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
        f"# {args.rounds} rounds each, every round run. A round 'gains' when the best dev score rises >= {MIN_DELTA}.",
        "",
        "# (first, decay) in gain(r) = first * decay ** (r - 1), per optimizer (maximum likelihood)",
        "GAIN = {",
        *(f'    "{o}": ({a:.2f}, {d:.2f}),' for o, (a, d) in fitted.items()),
        "}",
        f"# SIMBA's candidates that changed the program: {simba[1]} of {sum(simba)}",
        f"SIMBA_CHANGED = {simba[1] / max(1, sum(simba)):.3f}",
        "# (rounds observed, rounds that gained) at round 1, 2, ...",
        "OBSERVED = {",
        *(f'    "{o}": {c},' for o, c in counts.items()),
        "}",
        "",
    ]
    OUT.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
