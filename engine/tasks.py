"""What a session optimizes: a signature, a module kind, a dataset and a metric.

A task comes from a `TaskSpec` (pydantic, the shape the CLI and the TUI fill
in) or a plain dict of the same keys. The dataset is a JSONL, CSV or JSON file
(or one file per split), or a built-in demo task `demo:NAME` whose examples
the project generates itself from phrase templates and a seed. Anything a
user can get wrong in a dataset ends in one `TaskError` sentence that names
the file, the line and the reason.

The parts live apart: signatures (task_signatures.py), dataset files
(task_files.py) and the demo data (demo_data.py); this module puts them together.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dspy
from pydantic import BaseModel

if TYPE_CHECKING:  # scorers imports this module at run time
    from dspy_tui.engine.scorers import JudgeFn, Metric

from .config import JudgeSpec, ModuleKind, TaskSpec
from .demo_data import DemoTaskInfo, demo_examples, find_demo, list_demo_tasks
from .task_errors import TaskError
from .task_files import load_examples, split_examples
from .task_signatures import import_object, make_signature

__all__ = [
    "DemoTaskInfo",
    "Task",
    "TaskError",
    "build_program",
    "demo_examples",
    "import_object",
    "list_demo_tasks",
    "load_examples",
    "load_task",
    "make_signature",
    "split_examples",
]


@dataclass
class Task:
    """A loaded task, ready for optimizers."""

    name: str
    signature: type[dspy.Signature]
    module: ModuleKind
    train: list[dspy.Example]
    dev: list[dspy.Example]
    test: list[dspy.Example]
    metric_name: str
    metric_options: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    judge_spec: JudgeSpec | None = None  # what the runtime builds `judge` from
    judge: JudgeFn | None = None  # the llm_judge scorer, once the runtime has one
    file_hashes: dict[str, str] = field(default_factory=dict)  # dataset file -> sha256, as loaded

    @property
    def input_fields(self) -> list[str]:
        return list(self.signature.input_fields)

    @property
    def output_fields(self) -> list[str]:
        return list(self.signature.output_fields)

    @property
    def metric(self) -> Metric:
        """The scoring function DSPy optimizers call, `metric(example, pred, trace=None)`."""
        from dspy_tui.engine.scorers import make_metric

        return make_metric(self.metric_name, self.metric_options, judge=self.judge, signature=self.signature)


def build_program(task: Task) -> dspy.Module:
    """The unoptimized program: Predict or ChainOfThought over the task's signature."""
    if task.module == "chain_of_thought":
        return dspy.ChainOfThought(task.signature)
    return dspy.Predict(task.signature)


# --------------------------------------------------------------------------- load_task


def load_task(
    spec: TaskSpec | BaseModel | dict[str, Any], *, seed: int | None = None, judge: JudgeFn | None = None
) -> Task:
    """Turn what the user described into a Task, or raise one clear TaskError.

    `spec` is a TaskSpec, any pydantic model with the same fields (the
    session config's task section) or a dict; `seed` overrides its seed;
    `judge` is the scorer an `llm_judge` metric calls.
    """
    if not isinstance(spec, TaskSpec):
        data = spec.model_dump() if isinstance(spec, BaseModel) else spec
        try:
            spec = TaskSpec.model_validate(data)
        except Exception as exc:
            raise TaskError(f"task description is invalid: {_first_error(exc)}") from exc
    if seed is not None:
        spec = spec.model_copy(update={"seed": seed})
    if spec.dataset and spec.dataset.startswith("demo:") and not spec.train_file:
        task = _load_demo(spec)
    else:
        task = _load_files(spec)
    task.train, task.dev, task.test = (
        task.train[: spec.max_train],
        task.dev[: spec.max_dev],
        task.test[: spec.max_test],
    )
    task.judge_spec, task.judge = spec.judge, judge
    task.file_hashes = _check_unchanged(spec)
    if ":" in task.metric_name:  # a user's function: tried before anything is spent
        from dspy_tui.engine.scorers import rehearse

        extra = ("reasoning",) if task.module == "chain_of_thought" else ()
        rehearse(task.metric, task.dev or task.train, task.output_fields, extra)
    return task


def _check_unchanged(spec: TaskSpec) -> dict[str, str]:
    """The sha256 of each dataset file; TaskError when one differs from what the session started with."""
    files = [f for f in (spec.train_file, spec.dev_file, spec.test_file) if f]
    if not files and spec.dataset and not spec.dataset.startswith("demo:"):
        files = [spec.dataset]
    hashes = {f: hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files}
    for name, digest in spec.file_hashes.items():
        if hashes.get(name, digest) != digest:
            raise TaskError(
                f"{name} changed since this session started (its content differs); restore it, "
                "or start a new session with it"
            )
    return hashes


def _load_files(spec: TaskSpec) -> Task:
    if not spec.signature:
        raise TaskError("a task needs a signature, e.g. 'question -> answer'")
    if spec.size is not None:
        raise TaskError("size only applies to demo tasks; a dataset file is used whole")
    signature = make_signature(spec.signature, spec.instructions, spec.descriptions)
    inputs, outputs = list(signature.input_fields), list(signature.output_fields)
    if spec.train_file or spec.dev_file:
        if not (spec.train_file and spec.dev_file):
            raise TaskError("with one file per split, give at least train_file and dev_file")
        train = load_examples(spec.train_file, inputs, outputs, spec.fields)
        dev = load_examples(spec.dev_file, inputs, outputs, spec.fields)
        test = load_examples(spec.test_file, inputs, outputs, spec.fields) if spec.test_file else []
        name = Path(spec.dataset or spec.train_file).stem
    elif spec.dataset:
        examples = load_examples(spec.dataset, inputs, outputs, spec.fields)
        train, dev, test = split_examples(examples, _shares(spec), spec.seed)
        name = Path(spec.dataset).stem
    else:
        raise TaskError("a task needs a dataset: 'demo:NAME', a file, or train_file and dev_file")
    metric = _metric_name(spec, "exact_match", signature)
    return Task(
        name=name,
        signature=signature,
        module=spec.module,
        train=train,
        dev=dev,
        test=test,
        metric_name=metric,
        metric_options=dict(spec.metric_options),
    )


def _load_demo(spec: TaskSpec) -> Task:
    demo = find_demo(spec.dataset or "")
    if spec.signature and spec.signature.replace(" ", "") != demo.info.signature.replace(" ", ""):
        raise TaskError(
            f"{demo.info.name} has the fixed signature {demo.info.signature!r}; leave signature empty"
        )
    signature = make_signature(
        demo.info.signature,
        spec.instructions or demo.instructions,
        {**demo.descriptions, **spec.descriptions},
    )
    examples = demo_examples(demo.info.name, spec.size, spec.seed)
    train, dev, test = split_examples(examples, _shares(spec), spec.seed)
    return Task(
        name=demo.info.name,
        signature=signature,
        module=spec.module,
        train=train,
        dev=dev,
        test=test,
        metric_name=_metric_name(spec, demo.info.metric, signature),
        metric_options=dict(spec.metric_options),
        description=demo.info.description,
    )


def _shares(spec: TaskSpec) -> tuple[float, float, float]:
    return spec.split.train, spec.split.dev, spec.split.test


def _metric_name(spec: TaskSpec, default: str, signature: type[dspy.Signature]) -> str:
    """The metric to use; built once here so a bad name or option fails at load time, not mid-session."""
    from dspy_tui.engine.scorers import JUDGE_METRICS, make_metric

    name = spec.metric or ("llm_judge" if spec.judge else default)
    # a judged metric gets its judge later; a stand-in checks its options now
    make_metric(
        name,
        spec.metric_options,
        signature=signature,
        judge=(lambda *_: 0.0) if name in JUDGE_METRICS else None,
    )
    return name


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))
    return str(exc)
