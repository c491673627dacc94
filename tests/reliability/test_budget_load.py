"""Budget under load: many priced sessions at once, each with its own budget, none may overspend.

Sessions run in-process (32 at a time in the soak) against one fake provider
and one database, each with its own model name so the provider's bill can be
split per session. Budgets are drawn log-uniformly between $0.001 and $1 and
prices are scaled so that sessions run out anywhere from the first call to
never. A few more run as real `dspy-tui run --headless` processes, which must
exit 3. For every session: what the provider billed, what was recorded and
what the budget counted are all <= the budget; a budget stop leaves status
`stopped`, every model saved, a `session_stopped` (reason budget) event stored
and the calls of the session all recorded.
"""

from __future__ import annotations

import json
import math
import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dspy_tui.engine.session import Session

from fakes.offline_brain import offline_brain
from fakes.provider_server import FakeProvider
from reliability.support import GROQ_KEY, billed_usd, cli, cli_env, cli_popen, session_in_home

TOKENS_PER_CALL = 450  # a rough average of input + 3x output tokens of these prompts, for sizing prices


@dataclass
class Outcome:
    budget: float
    outcome: str
    status: str
    recorded: float  # sum of the session's calls rows
    counted: float  # what the session's Budget counted (unknown costs at their reservation)
    billed: float  # what the provider billed for this session's model
    calls: int


def _config(i: int, budget: float, calls_affordable: float) -> dict[str, Any]:
    per_call = budget / calls_affordable
    price_in = per_call / TOKENS_PER_CALL * 1_000_000
    return {
        "name": f"budget {i}",
        "optimizer": "bootstrap",
        "rounds": 2,
        "seed": i,
        "concurrency": 4,
        "budget_usd": budget,
        "cross_model": False,
        "task": {"dataset": "demo:sentiment", "max_train": 16, "max_dev": 10, "max_test": 10},
        "models": [
            {
                "id": f"groq/budget-load-{i}",
                "max_tokens": 64,
                "price": {"input": price_in, "output": 3 * price_in},
                "limits": {"rpm": 10_000_000, "tpm": 10_000_000_000, "concurrency": 128},
            }
        ],
    }


def _run_one(config: dict[str, Any], provider: FakeProvider) -> tuple[Session, str]:
    session = session_in_home(config, key=GROQ_KEY)
    session.prepare()
    return session, session.run()


def _check(
    session: Session, outcome: str, budget: float, provider: FakeProvider, price: dict[str, float]
) -> Outcome:
    store, sid = session.store, session.session_id
    model = session.config.models[0].id
    stored = store.get_session(sid)
    totals = store.call_totals(sid)
    billed = billed_usd([r for r in provider.answered() if r.model == model.split("/", 1)[1]], price=price)
    assert outcome in ("budget", "completed"), (outcome, stored.error)
    assert stored.status == ("stopped" if outcome == "budget" else "completed")
    if outcome == "budget":
        events = store.events(sid, types=["session_stopped", "budget_exhausted"])
        assert any(e["type"] == "session_stopped" and e["reason"] == "budget" for e in events), events
        assert any(e["type"] == "budget_exhausted" for e in events)
        assert all(m.status in ("stopped", "done", "converged") for m in stored.models), stored.models
        if store.checkpoints(sid, model):  # something was reached: it is reported and exportable
            assert store.report(sid, "json") is not None
    # every paid answer was recorded once: recorded == billed
    assert totals["cost_usd"] == pytest.approx(billed, rel=1e-9, abs=1e-15)
    return Outcome(
        budget, outcome, stored.status, totals["cost_usd"], session.budget.spent, billed, totals["calls"]
    )


def budget_load(sessions: int, concurrency: int, seed: int) -> list[Outcome]:
    rng = random.Random(seed)
    plans = []
    for i in range(sessions):
        budget = round(math.exp(rng.uniform(math.log(0.001), math.log(1.0))), 6)
        plans.append((i, budget, math.exp(rng.uniform(math.log(0.7), math.log(400)))))  # calls it can pay for
    provider = FakeProvider(latency_s=0.01, brain=offline_brain("base")).start()
    try:

        def one(plan: tuple[int, float, float]) -> Outcome:
            i, budget, affordable = plan
            config = {**_config(i, budget, affordable), "base_urls": {"groq": f"{provider.url}/openai/v1"}}
            session, outcome = _run_one(config, provider)
            return _check(session, outcome, budget, provider, config["models"][0]["price"])

        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="budget-session") as pool:
            return list(pool.map(one, plans))
    finally:
        provider.stop()


def cli_budget_stops(tmp_path: Path, count: int) -> list[tuple[float, float, int]]:
    """Real processes at once, each a priced session with a small budget: exit 3, spent <= budget."""
    provider = FakeProvider(latency_s=0.01, brain=offline_brain("base")).start()
    try:
        procs = []
        for i in range(count):
            budget = 0.0005 * (i + 1)
            config = tmp_path / f"cli{i}.toml"
            config.write_text(
                f'name = "cli budget {i}"\nrounds = 3\nseed = {i}\nconcurrency = 8\nbudget_usd = {budget}\n'
                '[task]\ndataset = "demo:sentiment"\nmax_train = 40\nmax_dev = 30\nmax_test = 30\n'
                '[[models]]\nid = "groq/llama-3.3-70b-versatile"\nmax_tokens = 256\n'
                "limits = { rpm = 1000000, tpm = 1000000000, concurrency = 16 }\n"
            )
            env = cli_env(tmp_path / f"cli-home-{i}", provider)
            procs.append((budget, env, cli_popen("run", str(config), "--headless", env=env)))
        results = []
        for budget, env, proc in procs:
            _, stderr = proc.communicate(timeout=300)
            assert proc.returncode == 3, stderr[-2000:]
            assert "stopped by its budget" in stderr and "left" in stderr and "Traceback" not in stderr
            shown = json.loads(cli("sessions", "list", "--json", env=env).stdout)[0]
            assert shown["status"] == "stopped"
            spent = json.loads(cli("sessions", "show", shown["id"], "--json", env=env).stdout)["cost_usd"]
            assert spent <= budget
            results.append((budget, spent, proc.returncode))
        assert billed_usd(provider.answered()) == pytest.approx(sum(s for _, s, _ in results), rel=1e-9)
        return results
    finally:
        provider.stop()


def _print(outcomes: list[Outcome], cli_runs: list[tuple[float, float, int]]) -> None:
    worst = max(max(o.billed, o.recorded, o.counted) / o.budget for o in outcomes)
    worst_cli = max(spent / budget for budget, spent, _ in cli_runs)
    stopped = sum(1 for o in outcomes if o.outcome == "budget")
    print(
        f"\nbudget under load: {len(outcomes)} sessions, spent <= budget in "
        f"{sum(1 for o in outcomes if max(o.billed, o.recorded, o.counted) <= o.budget)}/{len(outcomes)}; "
        f"{stopped} stopped by their budget, {len(outcomes) - stopped} completed within it; worst spent/budget "
        f"{worst:.4f}; via CLI {len(cli_runs)} runs exit 3, worst {worst_cli:.4f}; "
        f"{sum(o.calls for o in outcomes)} paid calls"
    )


def _assert_within(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        assert o.billed <= o.budget and o.recorded <= o.budget and o.counted <= o.budget, o


def test_ten_sessions_at_once_never_overspend(tmp_path: Path) -> None:
    outcomes = budget_load(10, concurrency=10, seed=int(os.environ.get("BUDGET_SEED", "3")))
    cli_runs = cli_budget_stops(tmp_path, 1)
    _print(outcomes, cli_runs)
    _assert_within(outcomes)
    assert any(o.outcome == "budget" for o in outcomes)


@pytest.mark.soak
def test_a_hundred_sessions_thirty_two_at_once_never_overspend(tmp_path: Path) -> None:
    outcomes = budget_load(100, concurrency=32, seed=int(os.environ.get("BUDGET_SEED", "2024")))
    cli_runs = cli_budget_stops(tmp_path, 4)
    _print(outcomes, cli_runs)
    _assert_within(outcomes)


def test_parallel_evaluations_never_trip_over_each_others_progress_bars() -> None:
    """Found by the load above: DSPy's Evaluate clears tqdm's registry of bars whenever it starts,
    and a model whose thread was just creating a bar failed with `KeyError: <weakref ... 'tqdm'>`."""
    import threading

    import tqdm

    from dspy_tui.engine import quiet_dspy

    quiet_dspy()
    failures: list[str] = []
    done = threading.Event()

    def make_bars() -> None:
        try:
            for _ in range(5_000):
                tqdm.tqdm(total=3, disable=True).close()
        except Exception as exc:  # noqa: BLE001 - the failure is what we count
            failures.append(repr(exc))

    def clear_bars() -> None:  # what dspy.Evaluate and ParallelExecutor do on entry
        while not done.is_set():
            tqdm.tqdm._instances.clear()

    clearer = threading.Thread(target=clear_bars)
    clearer.start()
    makers = [threading.Thread(target=make_bars) for _ in range(4)]
    for t in makers:
        t.start()
    for t in makers:
        t.join()
    done.set()
    clearer.join()
    assert failures == []
