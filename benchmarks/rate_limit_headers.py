"""A whole `dspy-tui run` process against a fake provider that sends rate-limit headers.

* generous: headers say 1,000,000 requests per minute. A 2-model, 3-round
  bootstrap session's LM calls/s (whole process, start to exit) against a plain
  DSPy script process (`engine="lm15"`) making the same number of calls at the
  same concurrency (models x concurrency threads) all at once. Target >= 1.0x.
  The plain script has no phases: BootstrapFewShot's sequential trainset pass
  and the session's start-up and report are on our side of the ratio only.
* 60 RPM: headers say 60 requests per 60 s window and the server answers 429
  beyond it. The same kind of session must stay under the limit with no 429:
  the most calls sent in any 60 s and the 429s the server gave are printed.

Run: `python benchmarks/rate_limit_headers.py [--rounds 3] [--dev 30] [--skip-60rpm]`.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _fake_server import ROOT, start_server  # benchmarks/ is on sys.path when a script runs

MODELS = ("openai-compatible/model-a", "openai-compatible/model-b")
CONCURRENCY = 8

PLAIN = """
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


def write_config(path: Path, url: str, rounds: int, dev: int) -> Path:
    models = "\n".join(f'[[models]]\nid = "{m}"\nmax_tokens = 256' for m in MODELS)
    path.write_text(f'''name = "headers"
optimizer = "bootstrap"
rounds = {rounds}
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


def run_session(url: str, home: Path, rounds: int, dev: int) -> tuple[float, sqlite3.Connection]:
    config = write_config(home / "headers.toml", url, rounds, dev)
    env = {**os.environ, "DSPY_TUI_HOME": str(home)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dspy_tui", "run", str(config), "--headless", "--json"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - start
    last = [json.loads(line)["type"] for line in done.stdout.splitlines() if line.startswith("{")][-1:]
    if done.returncode != 0 or last != ["session_completed"]:
        raise SystemExit(f"the session did not complete (exit {done.returncode}): {done.stderr[-1500:]}")
    return wall, sqlite3.connect(home / "dspy-tui.db")


def sent(db: sqlite3.Connection) -> list[tuple[float, str, str | None]]:
    return db.execute(
        "SELECT ts, status, error_kind FROM calls WHERE cache_hit = 0 AND status != 'refused' ORDER BY ts"
    ).fetchall()


def generous(rounds: int, dev: int) -> None:
    server, url = start_server(window_limit=1_000_000)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wall, db = run_session(url, Path(tmp), rounds, dev)
            calls = len(sent(db))
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", PLAIN, f"{url}/v1", str(calls), str(CONCURRENCY * len(MODELS))],
            check=True,
            cwd=ROOT,
            env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        )
        plain_wall = time.perf_counter() - start
    finally:
        server.kill()
    ours, plain = calls / wall, calls / plain_wall
    print(
        f"rate_limit_headers: generous headers: dspy-tui run {calls} calls in {wall:.1f} s ({ours:.1f} calls/s) vs "
        f"plain DSPy lm15 script {plain_wall:.1f} s ({plain:.1f} calls/s): {ours / plain:.2f}x (target >= 1.0x)"
    )


def sixty_rpm(dev: int) -> None:
    server, url = start_server(window_limit=60, window_s=60.0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wall, db = run_session(url, Path(tmp), 1, dev)
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
    ap.add_argument("--skip-60rpm", action="store_true", help="the 60 RPM case takes a few minutes")
    args = ap.parse_args()
    generous(args.rounds, args.dev)
    if not args.skip_60rpm:
        sixty_rpm(min(args.dev, 12))


if __name__ == "__main__":
    main()
