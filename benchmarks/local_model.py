"""A dspy-tui session on SmolLM2-135M (local/, CPU) against a plain DSPy script on the same server.

One llama.cpp server (the one dspy-tui manages for `local/smollm2-135m`) serves both, in
the same run, one after the other:

* session    = dspy-tui's Session, optimizer `labeled`, 1 round: a baseline pass on dev,
               a pass with labeled demos on dev, the test pass (every call an evaluation)
* plain DSPy = `dspy.LM("openai/smollm2-135m", api_base=<the server>)` (LiteLLM), the
               same three passes over the same examples, as many threads (its output cap
               also sent as `max_tokens`, the field llama.cpp reads)

Both count the tokens the server reported. The server answers one request at a time,
so the ratio shows what each client adds on top of the model's own compute.

Run: `python benchmarks/local_model.py [--dev 10] [--test 10]` (needs `pip install 'dspy-tui[local]'`).
Target: session calls/s and tokens/s / plain DSPy >= 1.0x.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

from _timed_session import fresh_session, timed_run  # benchmarks/ is on sys.path when a script runs

from dspy_tui.engine import local_models
from dspy_tui.engine.config import parse_config
from dspy_tui.engine.local_server import SERVERS
from dspy_tui.engine.runtime import Runtime
from dspy_tui.engine.tasks import build_program, load_task

THREADS = 8
MAX_TOKENS = 64
DEMOS = 4


def task_spec(dev: int, test: int) -> dict[str, Any]:
    return {"dataset": "demo:sentiment", "max_train": 16, "max_dev": dev, "max_test": test}


def run_session(dev: int, test: int) -> tuple[float, int, int]:
    """(wall seconds, HTTP calls, tokens in + out) of one whole session."""
    config = parse_config(
        {
            "name": "local benchmark",
            "task": task_spec(dev, test),
            "optimizer": "labeled",
            "rounds": 1,
            "concurrency": THREADS,
            "cross_model": False,
            "optimizer_settings": {"k": DEMOS},
            "convergence": {"patience": 1, "min_delta": 0.0},
            "models": [{"id": f"local/{local_models.BUNDLED}", "max_tokens": MAX_TOKENS}],
        }
    )
    stats = Runtime.get().stats
    tokens_before = stats.tokens_in + stats.tokens_out
    with tempfile.TemporaryDirectory() as tmp:
        session = fresh_session(config, tmp)
        wall = timed_run(session)
        calls = session.store.call_totals(session.session_id)["calls"]
    return wall, calls, stats.tokens_in + stats.tokens_out - tokens_before


def run_plain_dspy(url: str, dev: int, test: int) -> tuple[float, int, int]:
    """The same three passes from a plain DSPy script; (wall seconds, calls, tokens in + out)."""
    import dspy

    task = load_task(task_spec(dev, test))
    # LiteLLM sends openai/'s cap as max_completion_tokens, which llama.cpp ignores (answers of 3,901
    # tokens were seen here); extra_body adds the max_tokens it reads, so both sides make the same calls.
    lm = dspy.LM(
        f"openai/{local_models.BUNDLED}",
        api_base=url,
        api_key="local",
        cache=False,
        num_retries=0,
        max_tokens=MAX_TOKENS,
        extra_body={"max_tokens": MAX_TOKENS},
    )
    program = build_program(task)
    start = time.perf_counter()
    with dspy.context(lm=lm):
        for demos, examples in (
            ([], task.dev),
            (task.train[:DEMOS], task.dev),
            (task.train[:DEMOS], task.test),
        ):
            program.predictors()[0].demos = list(demos)
            dspy.Evaluate(devset=examples, metric=task.metric, num_threads=THREADS, display_progress=False)(
                program
            )
    wall = time.perf_counter() - start
    usage = [entry.get("usage") or {} for entry in lm.history]
    tokens = sum(int(u.get("prompt_tokens") or 0) + int(u.get("completion_tokens") or 0) for u in usage)
    return wall, len(lm.history), tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=int, default=10)
    ap.add_argument("--test", type=int, default=10)
    args = ap.parse_args()
    if not local_models.extra_installed():
        print(f"local_model: skipped, the local extra is not installed ({local_models.INSTALL_HINT})")
        return
    server = SERVERS.hold(local_models.resolve(local_models.BUNDLED), owner="benchmark")
    try:
        wall, calls, tokens = run_session(args.dev, args.test)
        plain_wall, plain_calls, plain_tokens = run_plain_dspy(server.url, args.dev, args.test)
    finally:
        SERVERS.stop_all()
    ours, plain = calls / wall, plain_calls / plain_wall
    ours_tok, plain_tok = tokens / wall, plain_tokens / plain_wall
    print(
        f"local_model: SmolLM2-135M on llama.cpp ({local_models.cpu_count()} threads, 1 slot), "
        f"{args.dev} dev / {args.test} test, {THREADS} threads"
    )
    print(
        f"local_model: session {calls} calls, {tokens} tokens in {wall:.1f} s; plain DSPy {plain_calls} calls, "
        f"{plain_tokens} tokens in {plain_wall:.1f} s"
    )
    print(
        f"local_model: calls/s session {ours:.2f} vs plain DSPy {plain:.2f}: ratio {ours / plain:.2f}x "
        "(target >= 1.0x)"
    )
    print(
        f"local_model: tokens/s session {ours_tok:.0f} vs plain DSPy {plain_tok:.0f}: ratio "
        f"{ours_tok / plain_tok:.2f}x (target >= 1.0x)"
    )


if __name__ == "__main__":
    main()
