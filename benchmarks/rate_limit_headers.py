"""A whole `dspy-tui run` process against a fake provider that sends rate-limit headers.

* generous: headers say 1,000,000 requests per minute. A 2-model, 3-round
  bootstrap session's LM calls/s (whole process, start to exit) against a plain
  DSPy script process doing the same work with DSPy's own tools (`engine="lm15"`):
  per model in a thread, `dspy.Evaluate` on dev, three rounds of
  `BootstrapFewShot` on the same shuffled train slices, the cross-model trial of
  the leader's demos, `dspy.Evaluate` on test. Same data, same program, same
  provider, same concurrency, so the same calls (both counts are printed).
  Target >= 1.0x. Each pair runs `--runs` times in turn; medians are printed with
  the load average. For reference it also prints a plain script firing the same
  number of calls all at once (no phases: a bound no optimizer run can reach).
  Our modules' bytecode is written first, so both sides start from compiled code.
* 60 RPM: headers say 60 requests per 60 s window and the server answers 429
  beyond it. The same kind of session must stay under the limit with no 429:
  the most calls sent in any 60 s and the 429s the server gave are printed.

Run: `python benchmarks/rate_limit_headers.py [--rounds 3] [--dev 30] [--runs 3] [--skip-60rpm]`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bytecode import compile_sources  # benchmarks/ is on sys.path when a script runs
from _fake_server import ROOT, start_server

MODELS = ("openai-compatible/model-a", "openai-compatible/model-b")
CONCURRENCY = 8

PLAIN_SESSION = """
import json, random, sys, unicodedata
from concurrent.futures import ThreadPoolExecutor
import dspy
url, data_path, rounds, threads, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
data = json.load(open(data_path))
inputs, label = data["inputs"], data["label"]
split = {k: [dspy.Example(**e).with_inputs(*inputs) for e in data[k]] for k in ("train", "dev", "test")}
lms = [dspy.LM(f"openai/model-{i}", engine="lm15", api_base=url, api_key="k", cache=False, num_retries=3,
               temperature=0.0, max_tokens=256) for i in range(2)]

def norm(text):
    text = unicodedata.normalize("NFKC", str(text)).lower()
    return " ".join("".join(" " if unicodedata.category(c).startswith("P") else c for c in text).split())

def metric(example, pred, trace=None):
    return float(norm(example[label]) == norm(getattr(pred, label, "")))

def score(program, lm, examples):
    with dspy.context(lm=lm):
        evaluate = dspy.Evaluate(devset=examples, metric=metric, num_threads=threads, display_progress=False)
        return evaluate(program).score

def optimize(lm):
    program = dspy.Predict(data["signature"])
    best = score(program, lm, split["dev"])
    for r in range(1, rounds + 1):
        train = list(split["train"])
        random.Random(seed * 1009 + r).shuffle(train)
        bootstrap = dspy.BootstrapFewShot(metric=metric, max_bootstrapped_demos=4, max_labeled_demos=8, max_rounds=1)
        with dspy.context(lm=lm):
            candidate = bootstrap.compile(dspy.Predict(data["signature"]), teacher=program.deepcopy(), trainset=train[:32])
        s = score(candidate, lm, split["dev"])
        if s > best:
            program, best = candidate, s
    return program, best

with ThreadPoolExecutor(len(lms)) as pool:
    results = list(pool.map(optimize, lms))
leader = max(range(len(lms)), key=lambda i: results[i][1])

def finish(i):
    program, best = results[i]
    if i != leader:
        candidate = program.deepcopy()
        candidate.load_state(results[leader][0].dump_state())
        if score(candidate, lms[i], split["dev"]) > best:
            program = candidate
    score(program, lms[i], split["test"])

with ThreadPoolExecutor(len(lms)) as pool:
    list(pool.map(finish, range(len(lms))))
print(sum(len(lm.history) for lm in lms))
"""

ALL_AT_ONCE = """
import sys, time
from concurrent.futures import ThreadPoolExecutor
import dspy
url, calls, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lms = [dspy.LM(f"openai/model-{i}", engine="lm15", api_base=url, api_key="k", cache=False, num_retries=3)
       for i in range(2)]
predict = dspy.Predict("text -> label")
def one(i):
    with dspy.context(lm=lms[i % 2]):
        return predict(text=f"plain review number {i}: fine").label
with ThreadPoolExecutor(threads) as pool:
    list(pool.map(one, range(calls)))
"""


SEED = 0


def write_task(path: Path, dev: int) -> Path:
    """The session's own split of the demo task, as JSON for the plain script (which must not import us)."""
    from dspy_tui.engine.config import TaskSpec
    from dspy_tui.engine.tasks import load_task

    task = load_task(TaskSpec(dataset="demo:sentiment", max_train=24, max_dev=dev, max_test=dev))
    inputs = list(task.signature.input_fields)
    (label,) = list(task.signature.output_fields)
    path.write_text(
        json.dumps(
            {
                "signature": f"{', '.join(inputs)} -> {label}",
                "inputs": inputs,
                "label": label,
                **{k: [e.toDict() for e in getattr(task, k)] for k in ("train", "dev", "test")},
            }
        )
    )
    return path


def write_config(path: Path, url: str, rounds: int, dev: int) -> Path:
    models = "\n".join(f'[[models]]\nid = "{m}"\nmax_tokens = 256' for m in MODELS)
    path.write_text(f'''name = "headers"
optimizer = "bootstrap"
rounds = {rounds}
seed = {SEED}
concurrency = {CONCURRENCY}
cross_model = true
[convergence]
patience = {rounds}
min_delta = 0.0
[base_urls]
openai-compatible = "{url}/v1"
[task]
dataset = "demo:sentiment"
max_train = 24
max_dev = {dev}
max_test = {dev}
{models}
''')
    return path


def timed(
    args: list[str], env: dict[str, str] | None = None
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """A whole process, start to exit: its wall time, its CPU seconds (user + system) and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env or {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{args[:2]} exited {done.returncode}: {done.stderr[-1500:]}")
    return wall, cpu, done


def run_session(url: str, home: Path, rounds: int, dev: int) -> tuple[float, float, sqlite3.Connection]:
    config = write_config(home / "headers.toml", url, rounds, dev)
    env = {**os.environ, "DSPY_TUI_HOME": str(home)}
    wall, cpu, done = timed(["-m", "dspy_tui", "run", str(config), "--headless", "--json"], env)
    last = [json.loads(line)["type"] for line in done.stdout.splitlines() if line.startswith("{")][-1:]
    if last != ["session_completed"]:
        raise SystemExit(f"the session did not complete: {done.stderr[-1500:]}")
    return wall, cpu, sqlite3.connect(home / "dspy-tui.db")


def sent(db: sqlite3.Connection) -> list[tuple[float, str, str | None]]:
    return db.execute(
        "SELECT ts, status, error_kind FROM calls WHERE cache_hit = 0 AND status != 'refused' ORDER BY ts"
    ).fetchall()


def generous(rounds: int, dev: int, runs: int) -> None:
    compile_sources()
    server, url = start_server(window_limit=1_000_000)
    ratios, bounds, walls, plain_walls, cpus, plain_cpus = [], [], [], [], [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = write_task(Path(tmp) / "task.json", dev)
            for i in range(runs):
                home = Path(tmp) / f"home{i}"
                home.mkdir()
                wall, cpu, db = run_session(url, home, rounds, dev)
                calls = len(sent(db))
                cached = db.execute("SELECT count(*) FROM calls WHERE cache_hit = 1").fetchone()[0]
                plain_wall, plain_cpu, out = timed(
                    ["-c", PLAIN_SESSION, f"{url}/v1", str(data), str(rounds), str(CONCURRENCY), str(SEED)]
                )
                plain_calls = int(out.stdout.split()[-1])
                cpus.append(cpu)
                plain_cpus.append(plain_cpu)
                once_wall, _, _ = timed(
                    ["-c", ALL_AT_ONCE, f"{url}/v1", str(calls), str(CONCURRENCY * len(MODELS))]
                )
                ratios.append(plain_wall / wall)  # the same work: its LM calls per second, ours over theirs
                bounds.append(once_wall / wall)
                walls.append(wall)
                plain_walls.append(plain_wall)
                print(
                    f"  run {i + 1}: {plain_calls} LM calls: dspy-tui run {wall:.2f} s ({calls} sent, {cached} "
                    f"answered by its call cache, CPU {cpu:.2f} s), plain DSPy script doing the same work "
                    f"{plain_wall:.2f} s (all sent, CPU {plain_cpu:.2f} s): {ratios[-1]:.2f}x; {calls} calls all "
                    f"at once {once_wall:.2f} s: {bounds[-1]:.2f}x",
                    flush=True,
                )
    finally:
        server.kill()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"rate_limit_headers: generous headers: dspy-tui run {statistics.median(walls):.2f} s vs plain DSPy "
        f"script doing the same work {statistics.median(plain_walls):.2f} s (medians of {runs}): LM calls/s "
        f"{statistics.median(ratios):.2f}x (target >= 1.0x); CPU seconds {statistics.median(cpus):.2f} vs "
        f"{statistics.median(plain_cpus):.2f}; all-at-once bound {statistics.median(bounds):.2f}x; load average {load}"
    )


def sixty_rpm(dev: int) -> None:
    server, url = start_server(window_limit=60, window_s=60.0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wall, _, db = run_session(url, Path(tmp), 1, dev)
            rows = sent(db)
    finally:
        server.kill()
    stamps = [ts for ts, _, _ in rows]
    busiest = max((sum(1 for t in stamps if s <= t < s + 60) for s in stamps), default=0)
    refused = sum(1 for _, status, kind in rows if status == "error" and kind == "rate_limit")
    print(
        f"rate_limit_headers: 60 RPM headers: {len(rows)} calls in {wall:.1f} s; most in any 60 s: {busiest} "
        f"(limit 60); 429s: {refused} (target 0)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dev", type=int, default=30)
    ap.add_argument("--runs", type=int, default=3, help="session/script pairs, run in turn; medians printed")
    ap.add_argument("--skip-60rpm", action="store_true", help="the 60 RPM case takes a few minutes")
    args = ap.parse_args()
    generous(args.rounds, args.dev, args.runs)
    if not args.skip_60rpm:
        sixty_rpm(min(args.dev, 12))


if __name__ == "__main__":
    main()
