"""Every optimizer genuinely optimizes on the offline models: one round raises some model's dev score."""

from __future__ import annotations

import json

import pytest

from dspy_tui.engine.config import OPTIMIZERS, parse_config

from reliability.support import session_in_home

MODELS = ["offline/small", "offline/base", "offline/large"]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_one_round_of_each_optimizer_raises_an_offline_models_dev_score(optimizer: str) -> None:
    config = parse_config(
        {
            "name": optimizer,
            "optimizer": optimizer,
            "rounds": 1,
            "cross_model": False,
            "seed": 0,
            "task": {"dataset": "demo:sentiment", "max_train": 32, "max_dev": 24, "max_test": 4},
            "models": MODELS,
            "optimizer_settings": {
                "num_trials": 3,
                "num_candidates": 3,
                "max_metric_calls": 60,
                "num_candidate_programs": 2,
                "breadth": 3,
                "bsize": 8,
            },
        }
    )
    session = session_in_home(config)
    session.prepare()
    assert session.run() == "completed"
    rounds = session.store.rounds(session.session_id)
    gains = {}
    for model in MODELS:
        baseline = next(r["dev_score"] for r in rounds if r["model"] == model and r["phase"] == "baseline")
        optimized = next(
            r["dev_score"] for r in rounds if r["model"] == model and r["phase"] == "optimization"
        )
        gains[model] = round(optimized - baseline, 3)
    print(f"\n{optimizer} dev gains, demo:sentiment seed 0: {json.dumps(gains)}")
    assert max(gains.values()) > 0, gains
