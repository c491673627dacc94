"""The estimate against real runs: every optimizer offline, every examples/*.toml against the fake provider.

Each run compares, per model and role, the requests the providers received (cache hits and
budget refusals are not requests) and the recorded cost with the estimate made before the run:
calls within [min, max], and calls and cost within 0.7-1.3x expected. The runs are small
(16 train / 10 dev / 10 test examples): ten of them (~40 s) run in `make test`, the four longest
(random search, the 15-round judged MIPRO, ~70 s) in `make test-soak`. Examples keep
their optimizer, rounds, settings, convergence and judge, and their hosted models are pointed
at the loopback fake provider (offline answers over HTTP, billed at 4 characters a token and
priced at each model's list price). `python tests/budget/test_estimate_calibration.py` prints
the calibration table.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tomllib
from pathlib import Path
from typing import Any

import pytest

from dspy_tui.engine.config import parse_config
from dspy_tui.engine.estimate import ModelEstimate, estimate
from dspy_tui.engine.estimate.rounds import round_chances
from dspy_tui.engine.session import Session
from dspy_tui.storage.paths import resolve_paths
from dspy_tui.storage.sessions import SessionStore
from tests.fakes.offline_brain import offline_brain
from tests.fakes.provider_server import FakeProvider

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SMALL = {"dataset": "demo:sentiment", "max_train": 16, "max_dev": 10, "max_test": 10}
OPTIMIZERS = ("labeled", "bootstrap", "random_search", "mipro", "copro", "simba", "gepa")
WIRES = ("openai", "anthropic", "gemini", "groq", "ollama")
UNLIMITED = {"rpm": 10_000_000, "tpm": 10_000_000_000, "concurrency": 64}
# Outside 0.7-1.3x expected for a stated reason (see the estimator notes); [min, max] still holds.
# SIMBA on a deterministic model repeats most candidate scores (measured 0.69-0.84x expected, and
# in range on some runs, its threads deciding): its calls are checked against [min, max] only.
# These examples' models converge after fewer rounds than the estimate expects (no round gains on
# this small split): how many rounds gain is data dependent (the prior is in estimate/rounds.py).
SLOW = {"random_search", "quality_focused.toml", "benchmark_comparison.toml", "advanced_monitoring.toml"}
CONVERGE_EARLY = {"basic_multi_model.toml", "cost_optimized.toml", "quality_focused.toml"}


def offline_config(optimizer: str) -> dict[str, Any]:
    return {
        "name": f"calibrate {optimizer}",
        "optimizer": optimizer,
        "rounds": 2,
        "seed": 1,
        "convergence": {"patience": 5},
        "task": dict(SMALL),
        "models": ["offline/base", "offline/small"],
    }


def example_config(path: Path, url: str) -> dict[str, Any]:
    """The example at the small size, its hosted models on the fake provider, no hooks. A model
    only this machine can run (local/) becomes offline/small: the estimate is about call counts."""
    data = tomllib.loads(path.read_text())
    data.pop("hooks", None)
    data["task"] = {**data["task"], **{k: v for k, v in SMALL.items() if k != "dataset"}}
    models = []
    for m in data["models"]:
        model = dict(m) if isinstance(m, dict) else {"id": m}
        if model["id"].startswith("local/"):
            model = {"id": "offline/small"}
        elif not model["id"].startswith("offline/"):
            model["limits"] = UNLIMITED
        models.append(model)
    data["models"] = models
    data["base_urls"] = {w: f"{url}/openai/v1" if w in ("groq", "ollama") else f"{url}/v1" for w in WIRES}
    data["base_urls"] |= {"anthropic": url, "gemini": url}
    return data


def run_and_compare(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Estimate, run, and pair each estimate row with what the run recorded (and how many
    optimization rounds its model ran)."""
    paths = resolve_paths()
    session = Session(
        parse_config(config), store=SessionStore(paths.db_path), paths=paths, keys=lambda _: "sk-fake"
    )
    session.prepare()
    rows: list[ModelEstimate] = estimate(session.config, session.task)
    with contextlib.redirect_stdout(io.StringIO()):  # DSPy's optimizers print progress
        outcome = session.run()
    assert outcome == "completed"
    actual = {
        (r["model"], r["role"]): r
        for r in session.store.query(
            "SELECT model, role, sum(cache_hit = 0 AND status != 'refused') AS sent,"
            " coalesce(sum(cost_usd), 0) AS cost FROM calls WHERE session_id = ? GROUP BY model, role",
            (session.session_id,),
        )
    }
    rounds = [r["model"] for r in session.store.rounds(session.session_id) if r["phase"] == "optimization"]
    out = []
    for e in rows:
        got = actual.get((e.model, e.role), {"sent": 0, "cost": 0.0})
        cost = e.cost_usd.expected if e.cost_usd else 0.0
        out.append(
            {
                "model": e.model,
                "role": e.role,
                "calls": int(got["sent"]),
                "min": e.calls.min,
                "expected": e.calls.expected,
                "max": e.calls.max,
                "cost": float(got["cost"]),
                "cost_expected": cost,
                "rounds": rounds.count(e.model),
            }
        )
    return out


def check(rows: list[dict[str, Any]], ratio_too: bool = True) -> None:
    for r in rows:
        where = f"{r['model']} ({r['role']})"
        assert r["min"] <= r["calls"] <= r["max"], (
            f"{where}: {r['calls']} calls outside [{r['min']}, {r['max']}]"
        )
        if ratio_too:
            assert 0.7 <= r["calls"] / r["expected"] <= 1.3, (
                f"{where}: {r['calls']} calls vs {r['expected']:.1f}"
            )
            if r["cost_expected"]:
                ratio = r["cost"] / r["cost_expected"]
                assert 0.7 <= ratio <= 1.3, f"{where}: ${r['cost']:.6f} vs ${r['cost_expected']:.6f}"


@pytest.fixture(autouse=True)
def _quiet() -> Any:
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


def _params(names: Any) -> list[Any]:
    """Runs over ~10 s on this 2-core machine go to `make test-soak`, the rest stay in `make test`."""
    return [pytest.param(n, marks=pytest.mark.soak) if n in SLOW else n for n in names]


@pytest.mark.parametrize("optimizer", _params(OPTIMIZERS))
def test_every_optimizer_offline_is_within_the_estimate(optimizer: str) -> None:
    rows = run_and_compare(offline_config(optimizer))
    check(rows, ratio_too=optimizer != "simba")


@pytest.fixture(scope="module")
def provider() -> Any:
    fake = FakeProvider(brain=offline_brain("base")).start()
    yield fake
    fake.stop()


@pytest.mark.parametrize("example", _params(sorted(p.name for p in EXAMPLES.glob("*.toml"))))
def test_every_example_against_the_fake_provider_is_within_the_estimate(example: str, provider: Any) -> None:
    config = example_config(EXAMPLES / example, provider.url)
    rows = run_and_compare(config)
    early = example in CONVERGE_EARLY
    check(rows, ratio_too=not early)
    if early:  # the reason holds: every model ran fewer rounds than the estimate expects
        conv = config.get("convergence", {})
        expected = sum(round_chances(config.get("rounds", 5), conv.get("patience", 2)))
        assert all(r["rounds"] < expected for r in rows if r["role"] == "model"), (expected, rows)


def main() -> None:  # the calibration table: python tests/budget/test_estimate_calibration.py
    import os
    import tempfile

    os.environ.setdefault("DSPY_TUI_HOME", tempfile.mkdtemp())
    logging.disable(logging.WARNING)
    fake = FakeProvider(brain=offline_brain("base")).start()
    runs = [(f"offline {o}", offline_config(o)) for o in OPTIMIZERS]
    runs += [(p.name, example_config(p, fake.url)) for p in sorted(EXAMPLES.glob("*.toml"))]
    print("| run | model (role) | calls | expected [min, max] | ratio | cost | expected | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for name, config in runs:
        for r in run_and_compare(config):
            cost = (
                f"${r['cost']:.5f} | ${r['cost_expected']:.5f} | {r['cost'] / r['cost_expected']:.2f}"
                if r["cost_expected"]
                else "- | - | -"
            )
            print(
                f"| {name} | {r['model']} ({r['role']}) | {r['calls']} | {r['expected']:.1f} "
                f"[{r['min']:.0f}, {r['max']:.0f}] | {r['calls'] / r['expected']:.2f} | {cost} |"
            )
    fake.stop()


if __name__ == "__main__":
    main()


def test_a_resume_sends_what_the_estimate_less_the_recorded_calls_says() -> None:
    """A resume replays the pipeline and its recorded answers come from the session's cache: what
    it still sends is the estimate less what the stopped run recorded."""
    from dspy_tui.engine.estimate import after_resume

    config = offline_config("bootstrap") | {"rounds": 3}
    paths = resolve_paths()
    first = Session(parse_config(config), store=SessionStore(paths.db_path), paths=paths)
    first.prepare()
    rows = estimate(first.config, first.task)
    first.bus.subscribe(lambda e: first.stop() if e.type == "round_completed" and e.round == 2 else None)
    with contextlib.redirect_stdout(io.StringIO()):
        assert first.run() == "stopped"
    store, sid = first.store, first.session_id
    recorded = {role: store.calls_by_model(sid, role) for role in ("model", "judge")}
    left = {e.model: e.calls for e in after_resume(rows, recorded)}
    before = store.call_totals(sid)["calls"]
    resumed = Session(first.config, store=store, paths=paths, session_id=sid)
    resumed.prepare()
    with contextlib.redirect_stdout(io.StringIO()):
        assert resumed.run() == "completed"
    sent = store.call_totals(sid)["calls"] - before
    assert store.call_totals(sid)["cache_hits"] > 0
    expected = sum(r.expected for r in left.values())
    print(f"\nresume sent {sent} calls; estimate less recorded: {expected:.1f} expected")
    assert sum(r.min for r in left.values()) <= sent <= sum(r.max for r in left.values())
    assert 0.5 <= sent / expected <= 1.5, (sent, expected)
