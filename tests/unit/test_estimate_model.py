"""What the estimate models of a run, each against what the run does: shared labeled candidates,
what a model writes (measured, or recorded before), the judge's shared ratings."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from dspy_tui.engine.config import parse_config
from dspy_tui.engine.estimate import estimate
from dspy_tui.engine.tasks import load_task

from reliability.support import session_in_home

SMALL = {"dataset": "demo:sentiment", "max_train": 16, "max_dev": 10, "max_test": 10}


def _config(optimizer: str = "labeled", **task: Any) -> dict[str, Any]:
    return {
        "name": "estimate model",
        "optimizer": optimizer,
        "rounds": 2,
        "convergence": {"patience": 5},
        "task": SMALL | task,
        "models": ["offline/base", "offline/small"],
    }


def _rows(data: dict[str, Any], recorded: dict[str, float] | None = None) -> list[Any]:
    config = parse_config(data)
    task = load_task(config.task)
    return estimate(config, task, recorded) if recorded else estimate(config, task)


def test_labeled_candidates_are_the_same_program_for_every_model_so_the_transfer_is_a_cache_hit() -> None:
    """LabeledFewShot's round-r demos come from the session's shuffle, not the model: when every
    model runs every round, the leader's program is already in every other model's cache (the
    estimate said ~4 calls each; the runs send 0, cost_optimized's 10 splits too)."""
    labeled = _rows(_config("labeled"))
    assert all(r.calls_by_phase["cross_model"].expected == 0 for r in labeled)
    bootstrap = _rows(_config("bootstrap"))  # its demos are the model's own traces: new to the others
    assert all(r.calls_by_phase["cross_model"].expected > 0 for r in bootstrap)


def _run(data: dict[str, Any]) -> Any:
    session = session_in_home(data)
    session.prepare()
    with contextlib.redirect_stdout(io.StringIO()):
        assert session.run() == "completed"
    return session


def _written(session: Any, model: str) -> float:
    (row,) = session.store.query(
        "SELECT avg(tokens_out) AS o FROM calls WHERE session_id = ? AND model = ? AND phase = 'baseline'",
        (session.session_id, model),
    )
    return float(row["o"])


def _expected_output(rows: list[Any], model: str) -> float:
    """The output tokens per baseline call the estimate expects, from its priced baseline cost."""
    (row,) = [r for r in rows if r.model == model]
    per_call = row.cost_by_phase["baseline"].expected / row.calls_by_phase["baseline"].expected
    return per_call * 1e6 / 100.0  # priced at $0 input, $100 per million output tokens


def test_what_a_model_writes_is_measured_or_recorded_not_the_reasoning_prior() -> None:
    """A chain of thought's length: the offline model is asked on the rendered prompts; a hosted
    model's recorded baseline answers to this task are used once there are any. Before, both were
    the 60-token prior: quality_focused's Sonnet (the large variant, ~35 tokens an answer) cost 0.63x."""
    price = {"input": 0.0, "output": 100.0}
    data = _config("labeled", module="chain_of_thought") | {"rounds": 1}
    data["models"] = [{"id": "offline/base", "price": price}]
    session = _run(data)
    actual = _written(session, "offline/base")
    measured = _expected_output(_rows(data), "offline/base")
    assert 0.9 <= measured / actual <= 1.1, (measured, actual)

    hosted = data | {"models": [{"id": "openai/gpt-4o-mini", "price": price}]}
    prior = _expected_output(_rows(hosted), "openai/gpt-4o-mini")
    recorded = {"openai/gpt-4o-mini": actual}  # as if it had answered like the offline model
    learned = _expected_output(_rows(hosted, recorded), "openai/gpt-4o-mini")
    assert prior > 1.5 * actual and abs(learned - actual) < 1.0
    # storage reads it back for this task and module only
    from dspy_tui.engine.estimate import recorded_outputs

    same = parse_config(data)
    assert recorded_outputs(session.store, same) == {"offline/base": actual}
    other = parse_config(data | {"task": SMALL | {"module": "predict"}})
    assert recorded_outputs(session.store, other) == {}


def test_the_judge_rates_an_answer_two_models_agree_on_once() -> None:
    """A rating is cached per (example, answer), whichever model gave it: two models agree on most
    examples, so their baseline needs fewer ratings than 2 x dev (13 of 20 in an offline run; the
    estimate said 20, and the judge's calls came out 0.74-0.77x over quality_focused's splits)."""
    data = _config("mipro", module="chain_of_thought", metric="llm_judge")
    data["task"]["judge"] = {"model": "offline/large", "rubric": "1 if the label is right, else 0."}
    (judge,) = [r for r in _rows(data) if r.role == "judge"]
    dev = SMALL["max_dev"]
    assert dev < judge.calls_by_phase["baseline"].expected < 2 * dev
    assert judge.calls_by_phase["baseline"].max == 2 * dev
