"""The bootstrap round tries the trainset examples it is sure to try together, and
ends with what DSPy's one-at-a-time pass gives: the same demos from the same requests."""

from __future__ import annotations

from typing import Any

import dspy
import pytest

from dspy_tui.engine.config import TaskSpec
from dspy_tui.engine.lm import make_lm
from dspy_tui.engine.optimizers import WindowedBootstrap
from dspy_tui.engine.tasks import build_program, load_task


def _compile(optimizer: dspy.BootstrapFewShot, model: str, train_size: int) -> tuple[Any, list[str]]:
    task = load_task(TaskSpec(dataset="demo:sentiment", max_train=train_size, max_dev=4, max_test=4))
    lm = make_lm(model, keys=lambda _: None)
    asked: list[str] = []

    def metric(example: Any, pred: Any, trace: Any = None) -> bool:
        asked.append(example.review)
        return bool(task.metric(example, pred, trace))

    optimizer.metric = metric
    with dspy.context(lm=lm):
        program = optimizer.compile(build_program(task), teacher=build_program(task), trainset=task.train)
    return program, asked


@pytest.mark.parametrize("model", ["offline/small", "offline/base"])
@pytest.mark.parametrize("demos", [1, 4])
def test_windows_send_the_sequential_passs_requests_and_keep_its_demos(model: str, demos: int) -> None:
    settings = {"max_bootstrapped_demos": demos, "max_labeled_demos": 8, "max_rounds": 1}
    sequential, asked_in_order = _compile(dspy.BootstrapFewShot(**settings), model, 24)
    windowed, asked_together = _compile(WindowedBootstrap(num_threads=8, **settings), model, 24)
    assert sorted(asked_together) == sorted(asked_in_order)  # the same examples tried, no more
    assert len(asked_in_order) > demos  # some teacher answers were wrong: more than one window ran
    ours = [[d.toDict() for d in p.demos] for _, p in windowed.named_predictors()]
    theirs = [[d.toDict() for d in p.demos] for _, p in sequential.named_predictors()]
    assert ours == theirs
