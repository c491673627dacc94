"""`make bench`: run every benchmark in this folder and print one summary table.

Each benchmark prints lines of the form `name: ...`; the lines that compare
against a peer or a target (they contain "ratio", "x (target" or "vs") are
collected into the summary. Pass `--quick` for smaller sizes. The benchmarks are the scripts that
README.md's table names, in its order: a tool of this folder that is not one (fit_estimate_priors.py
takes ~30 min and rewrites engine/estimate/priors.py) is never run by `make bench`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK_ARGS = {
    "engine_throughput.py": ["--calls", "500", "--rounds", "1"],
    "session_scaling.py": ["--dev", "100", "--rounds", "3"],
    "event_append.py": ["--events", "20000"],
    "startup.py": ["--runs", "3"],
    "history_scale.py": ["--sessions", "200", "--calls", "100000"],
    "local_model.py": ["--dev", "6", "--test", "6"],
    "screen_latency.py": ["--runs", "5"],
    "rate_limit_headers.py": ["--rounds", "1", "--dev", "12", "--skip-60rpm"],
    "gc_long_session.py": ["--rounds", "5"],
}


def benchmarks() -> list[Path]:
    """The scripts README.md's table lists (its first column, `name.py`)."""
    names = re.findall(r"^\| `(\w+\.py)` \|", (HERE / "README.md").read_text(), flags=re.MULTILINE)
    missing = [name for name in names if not (HERE / name).is_file()]
    if not names or missing:
        raise SystemExit(f"benchmarks/README.md's table names no script or a missing one: {missing}")
    return [HERE / name for name in names]


def main() -> int:
    quick = "--quick" in sys.argv
    summary: list[str] = []
    failed: list[str] = []
    for script in benchmarks():
        args = QUICK_ARGS.get(script.name, []) if quick else []
        print(f"== {script.name} {' '.join(args)}", flush=True)
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, str(script), *args], capture_output=True, text=True, cwd=HERE.parent
        )
        print(out.stdout, end="")
        if out.returncode != 0:
            failed.append(script.name)
            print(out.stderr[-2000:], file=sys.stderr)
        summary += [
            line for line in out.stdout.splitlines() if any(k in line for k in ("ratio", "x (target", " vs "))
        ]
        print(f"   ({time.perf_counter() - start:.0f} s)\n")
    print("== summary (each figure with the peer it is measured against, in the same run)")
    for line in summary:
        print("  " + line)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
