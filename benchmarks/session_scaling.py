"""A whole session's wall time against the ideal, and its LM calls/s against a plain DSPy script.

Four models, 200 dev examples, 5 rounds, against a local fake provider (its
own process) that answers after 50 ms (an echo by default; `--brain base`
answers like the offline model, at a CPU cost on this 2-core machine), with
a concurrency cap of 16 requests in flight for the provider.

* ideal      = HTTP calls x latency / concurrency cap (no overhead at all)
* session    = `dspy-tui`'s Session, optimizer `labeled` (every call is a dev
               or test evaluation, so the cap, not the optimizer, sets the pace)
* plain DSPy = a script making the same number of evaluation passes through
               DSPy's native engine (`engine="lm15"`), 4 models x 4 threads = 16 in flight

Heterogeneous case: one model answering in 50 ms, one in 500 ms (two more
fake provider processes) and one pointed at a closed port, cross-model
learning off (with it on, a fast model waits for the slow one's
optimization: the one point where models meet). The fast model's time to its
test score is compared with the same model in a session alone, and with its
ideal (its HTTP calls x 50 ms / cap).

Run: `python benchmarks/session_scaling.py [--dev 200] [--rounds 5] [--latency 0.05] [--hetero-dev 60]`.
Targets: session / ideal <= 1.3; session calls/s / plain DSPy calls/s >= 1.0;
heterogeneous: fast model mixed / alone <= 1.3 (best of `--repeat` runs each).
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time

from _fake_server import start_server  # benchmarks/ is on sys.path when a script runs
from _timed_session import fresh_session, timed_run

from dspy_tui.engine import events as ev
from dspy_tui.engine.config import parse_config
from dspy_tui.engine.session import Session
from dspy_tui.engine.tasks import build_program, load_task

MODELS = 4
CAP = 16


def task_spec(dev: int) -> dict[str, object]:
    return {
        "dataset": "demo:sentiment",
        "size": 2 * dev + 100,
        "max_train": 60,
        "max_dev": dev,
        "max_test": 50,
        "split": {"train": 0.3, "dev": 0.5, "test": 0.2},
    }


def run_models(
    models: list[dict[str, object]],
    dev: int,
    rounds: int,
    *,
    cross_model: bool = True,
    base_urls: dict[str, str] | None = None,
) -> tuple[Session, float, list[ev.Event]]:
    """One whole session of these `[[models]]`; (the session, wall seconds, its events)."""
    config = parse_config(
        {
            "name": "scaling",
            "task": task_spec(dev),
            "optimizer": "labeled",
            "rounds": rounds,
            "concurrency": CAP,
            "convergence": {"patience": rounds, "min_delta": 0.0},
            "cross_model": cross_model,
            "base_urls": base_urls or {},
            "models": models,
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        session = fresh_session(config, tmp)
        seen: list[ev.Event] = []
        session.bus.subscribe(seen.append)
        wall = timed_run(session)
    return session, wall, seen


def run_session(url: str, dev: int, rounds: int) -> tuple[float, int, int]:
    """(wall seconds, HTTP calls sent, cache hits) of one whole session."""
    models: list[dict[str, object]] = [
        {"id": f"openai-compatible/model-{i}", "limits": {"concurrency": CAP, "rpm": 10**9}}
        for i in range(MODELS)
    ]
    session, wall, _ = run_models(models, dev, rounds, base_urls={"openai-compatible": f"{url}/v1"})
    totals = session.store.call_totals(session.session_id)
    return wall, totals["calls"], totals["cache_hits"]


def _model_done_s(seen: list[ev.Event], model: str) -> float:
    """Seconds from the session's start to this model's test score."""
    start = next(e.ts for e in seen if isinstance(e, ev.SessionStarted))
    done = next(
        e.ts
        for e in seen
        if isinstance(e, ev.BenchmarkProgress) and e.model == model and e.test_score is not None
    )
    return done - start


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def run_heterogeneous(fast_url: str, slow_url: str, dev: int, rounds: int, repeat: int) -> None:
    """The fast model alone, then next to a slow and a dead one, `repeat` times each in turn (the
    best of each counts: a shared machine only ever adds time); prints both against its ideal."""
    limits = {"concurrency": CAP, "rpm": 10**9}
    fast = {"id": "openai-compatible/fast", "base_url": f"{fast_url}/v1", "limits": limits}
    slow = {"id": "openai-compatible/slow", "base_url": f"{slow_url}/v1", "limits": limits}
    dead = {"id": "openai-compatible/dead", "base_url": _closed_port(), "limits": limits}
    alone_s, mixed_s = [], []
    for _ in range(repeat):
        alone, _, alone_seen = run_models([fast], dev, rounds, cross_model=False)
        mixed, wall, mixed_seen = run_models([fast, slow, dead], dev, rounds, cross_model=False)
        alone_s.append(_model_done_s(alone_seen, "openai-compatible/fast"))
        mixed_s.append(_model_done_s(mixed_seen, "openai-compatible/fast"))
    t_alone, t_mixed = min(alone_s), min(mixed_s)
    fast_calls = alone.store.call_totals(alone.session_id)["calls"]
    ideal = fast_calls * 0.05 / CAP
    dead_run = mixed.runs["openai-compatible/dead"]
    print(
        f"session_scaling heterogeneous: fast (50 ms), slow (500 ms), dead (closed port); {dev} dev, "
        f"{rounds} rounds, cross-model off; the whole session took {wall:.1f} s; best of {repeat}: "
        f"alone {', '.join(f'{t:.2f}' for t in alone_s)} s, mixed {', '.join(f'{t:.2f}' for t in mixed_s)} s"
    )
    print(
        f"session_scaling heterogeneous: fast model done in {t_mixed:.2f} s mixed vs {t_alone:.2f} s alone: "
        f"{t_mixed / t_alone:.2f}x (target <= 1.3x); its ideal {ideal:.2f} s ({fast_calls} calls x 50 ms / {CAP}): "
        f"alone {t_alone / ideal:.2f}x, mixed {t_mixed / ideal:.2f}x"
    )
    print(f"session_scaling heterogeneous: dead model {dead_run.status}: {dead_run.error}")


def run_plain_dspy(url: str, dev: int, passes: int) -> tuple[float, int]:
    """The same evaluation passes as a plain DSPy script with the native engine; (wall, calls)."""
    import dspy  # after dspy_tui.engine, which keeps DSPy off the network (see engine/__init__.py)

    task = load_task(task_spec(dev))
    calls = 0
    lock = threading.Lock()

    def one_model(i: int) -> None:
        nonlocal calls
        lm = dspy.LM(
            f"openai/model-{i}", engine="lm15", api_base=f"{url}/v1", api_key="k", cache=False, num_retries=0
        )
        program = build_program(task)
        evaluate = dspy.Evaluate(
            devset=task.dev, metric=task.metric, num_threads=CAP // MODELS, display_progress=False
        )
        for p in range(passes):
            demos = task.train[p * 8 : (p + 1) * 8]
            program.predictors()[0].demos = demos  # a new demo set each pass, like a round
            with dspy.context(lm=lm):
                evaluate(program)
            with lock:
                calls += len(task.dev)

    threads = [threading.Thread(target=one_model, args=(i,)) for i in range(MODELS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument(
        "--brain", help="answer as this offline variant (costs server CPU); default: echo answers"
    )
    ap.add_argument("--hetero-dev", type=int, default=60, help="dev examples of the heterogeneous case")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each heterogeneous session (best counts)")
    ap.add_argument("--only", choices=["homogeneous", "heterogeneous"], help="run one case only")
    args = ap.parse_args()
    if args.only != "homogeneous":
        fast, fast_url = start_server(0.05, args.brain)
        slow, slow_url = start_server(0.5, args.brain)
        try:
            run_heterogeneous(fast_url, slow_url, args.hetero_dev, min(args.rounds, 3), args.repeat)
        finally:
            fast.kill()
            slow.kill()
    if args.only == "heterogeneous":
        return
    server, url = start_server(args.latency, args.brain)
    try:
        wall, calls, hits = run_session(url, args.dev, args.rounds)
        ideal = calls * args.latency / CAP
        plain_wall, plain_calls = run_plain_dspy(url, args.dev, max(1, calls // (MODELS * args.dev)))
    finally:
        server.kill()
    ours_rate, plain_rate = calls / wall, plain_calls / plain_wall
    print(
        f"session_scaling: {MODELS} models, {args.dev} dev, {args.rounds} rounds, {args.latency * 1000:.0f} ms "
        f"latency, cap {CAP}: {calls} HTTP calls (+{hits} cache hits) in {wall:.1f} s"
    )
    print(f"session_scaling: ideal {ideal:.1f} s; session/ideal = {wall / ideal:.2f}x (target <= 1.3x)")
    print(
        f"session_scaling: session {ours_rate:.0f} calls/s vs plain DSPy lm15 script {plain_rate:.0f} calls/s "
        f"({plain_calls} calls in {plain_wall:.1f} s): ratio {ours_rate / plain_rate:.2f}x (target >= 1.0x)"
    )


if __name__ == "__main__":
    main()
