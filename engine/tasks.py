"""What a session optimizes: a signature, a module kind, a dataset and a metric.

A task comes from a `TaskSpec` (pydantic, the shape the CLI and the TUI fill
in) or a plain dict of the same keys. The dataset is a JSONL, CSV or JSON file
(or one file per split), or a built-in demo task `demo:NAME` whose examples
the project generates itself from phrase templates and a seed. Anything a
user can get wrong in a dataset ends in one `TaskError` sentence that names
the file, the line and the reason.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import importlib.util
import io
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dspy
from pydantic import BaseModel

if TYPE_CHECKING:  # scorers imports this module at run time
    from dspy_tui.engine.scorers import JudgeFn, Metric

class TaskError(ValueError):
    """A task, dataset or metric the user described cannot be used; the message says why."""


from .config import JudgeSpec, ModuleKind, TaskSpec  # noqa: E402 - one definition, shared with the config


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


# --------------------------------------------------------------------------- signatures


def make_signature(
    text: str, instructions: str | None = None, descriptions: dict[str, str] | None = None
) -> type[dspy.Signature]:
    """A signature from "a, b: int -> c" or from "pkg.module:ClassName" (a dspy.Signature subclass)."""
    text = text.strip()
    if "->" not in text and ":" in text:
        sig = import_object(text, "signature")
        if not (isinstance(sig, type) and issubclass(sig, dspy.Signature)):
            raise TaskError(f"signature {text!r} is not a dspy.Signature subclass")
    else:
        try:
            sig = dspy.Signature(text, instructions) if instructions else dspy.Signature(text)
        except Exception as exc:  # DSPy raises ValueError, SyntaxError, TypeError...
            raise TaskError(f"signature {text!r} cannot be read: {exc}") from exc
    if instructions and "->" not in text:
        sig = sig.with_instructions(instructions)
    for side, fields in (("input", sig.input_fields), ("output", sig.output_fields)):
        if not fields:  # DSPy accepts "a ->" and "-> b"; a session would only fail later
            raise TaskError(f"signature {text!r} has no {side} field; write it as 'inputs -> outputs', "
                            "e.g. 'question -> answer'")
    for name, desc in (descriptions or {}).items():
        if name not in sig.fields:
            raise TaskError(f"description given for {name!r}, which is not a field of the signature {text!r}")
        sig = sig.with_updated_fields(name, desc=desc)
    return sig


def import_object(spec: str, what: str) -> Any:
    """Import `pkg.module:name` or `path/to/file.py:name`, with one clear error for each failure."""
    module_name, _, attr = spec.rpartition(":")
    if not module_name or not attr:
        raise TaskError(f"{what} {spec!r} must look like 'package.module:name'")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise TaskError(f"{what} {spec!r}: file {module_name} does not exist")
            loader = importlib.util.spec_from_file_location(path.stem, path)
            if loader is None or loader.loader is None:
                raise TaskError(f"{what} {spec!r}: {module_name} cannot be loaded as Python")
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except TaskError:
        raise
    except Exception as exc:
        raise TaskError(
            f"{what} {spec!r}: importing {module_name} failed ({type(exc).__name__}: {exc})"
        ) from exc
    if not hasattr(module, attr):
        raise TaskError(f"{what} {spec!r}: {module_name} has no attribute {attr!r}")
    return getattr(module, attr)


# --------------------------------------------------------------------------- dataset files


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TaskError(f"{path}: file not found") from None
    except OSError as exc:
        raise TaskError(f"{path}: cannot be read ({exc.strerror})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TaskError(
            f"{path}: line {line}: not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8"
        ) from None
    if not text.strip():
        raise TaskError(f"{path}: the file is empty")
    return text


def _read_jsonl(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TaskError(f"{path}: line {number}: bad JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(value, dict):
            raise TaskError(f"{path}: line {number}: expected a JSON object, got {type(value).__name__}")
        rows.append((number, value))
    return rows


def _read_json(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    """A JSON array of objects; each row keeps the line its object starts on."""
    decoder = json.JSONDecoder()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaskError(f"{path}: line {exc.lineno}: bad JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, list):
        raise TaskError(f"{path}: line 1: expected a JSON array of objects, got {type(value).__name__}")
    rows = []
    pos = text.index("[") + 1
    line, counted = 1, 0  # newlines are counted once each, so a large file loads in linear time
    for item in value:
        while text[pos] in " \t\r\n,":
            pos += 1
        line += text.count("\n", counted, pos)
        counted = pos
        _, pos = decoder.raw_decode(text, pos)
        if not isinstance(item, dict):
            raise TaskError(f"{path}: line {line}: expected a JSON object, got {type(item).__name__}")
        rows.append((line, item))
    return rows


def _read_csv(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    reader = csv.reader(io.StringIO(text, newline=""), dialect=dialect)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise TaskError(f"{path}: line 1: bad CSV ({exc})") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise TaskError(f"{path}: line 1: the header row is empty")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise TaskError(f"{path}: line 1: duplicate column(s) {', '.join(duplicates)}")
    rows = []
    start = reader.line_num
    try:
        for cells in reader:
            line, start = start + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise TaskError(f"{path}: line {line}: {len(cells)} values for {len(header)} columns")
            rows.append((line, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        raise TaskError(f"{path}: line {reader.line_num}: bad CSV ({exc})") from None
    return rows


_READERS = {
    ".jsonl": _read_jsonl,
    ".ndjson": _read_jsonl,
    ".json": _read_json,
    ".csv": _read_csv,
    ".tsv": _read_csv,
}


def load_examples(
    path: str | Path, inputs: Sequence[str], outputs: Sequence[str], columns: dict[str, str] | None = None
) -> list[dspy.Example]:
    """Read one dataset file into Examples with `inputs` set; `columns` renames column -> field."""
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise TaskError(
            f"{path}: unknown file type {path.suffix or '(none)'}; use .jsonl, .json, .csv or .tsv"
        )
    rows = reader(path, _decode(path))
    if not rows:
        raise TaskError(f"{path}: the file has no rows")
    columns = columns or {}
    wanted = [*inputs, *outputs]
    examples = []
    for line, row in rows:
        record = {columns.get(k, k): v for k, v in row.items()}
        for problem, names in (
            ("missing column", [n for n in wanted if n not in record]),
            ("empty (null) value in column", [n for n in wanted if n in record and record[n] is None]),
        ):
            if names:
                raise TaskError(f"{path}: line {line}: {problem} {_column_names(names, columns)}")
        examples.append(dspy.Example(**{name: record[name] for name in wanted}).with_inputs(*inputs))
    return examples


def _column_names(fields: Sequence[str], columns: dict[str, str]) -> str:
    """Name fields the way the file does: the mapped column, and the field it feeds."""
    column_of = {field: column for column, field in columns.items()}
    return ", ".join(
        f"{column_of.get(f, f)!r}" + (f" (for field {f!r})" if f in column_of else "") for f in fields
    )


def split_examples(
    examples: Sequence[dspy.Example], shares: tuple[float, float, float], seed: int
) -> tuple[list[dspy.Example], list[dspy.Example], list[dspy.Example]]:
    """Shuffle with `seed` and cut into train/dev/test; every split with a share gets at least one example."""
    order = list(examples)
    random.Random(seed).shuffle(order)
    sizes = _split_sizes(len(order), shares)
    if sizes is None:
        need = next(n for n in range(1, 100_000) if _split_sizes(n, shares) is not None)
        raise TaskError(
            f"dataset too small for the chosen splits: {len(order)} example(s) cannot fill train/dev/test at "
            f"{'/'.join(f'{s:g}' for s in shares)}; it needs at least {need} examples, or change the splits"
        )
    n_train, n_dev, _ = sizes
    return order[:n_train], order[n_train : n_train + n_dev], order[n_train + n_dev :]


def _split_sizes(n: int, shares: tuple[float, float, float]) -> tuple[int, int, int] | None:
    """Split sizes for `n` examples, or None when train, dev or a test with a share would be empty."""
    n_train, n_dev = round(shares[0] * n), round(shares[1] * n)
    n_test = n - n_train - n_dev
    if n_train < 1 or n_dev < 1 or n_test < 0 or (shares[2] > 0 and n_test < 1):
        return None
    return n_train, n_dev, n_test


# --------------------------------------------------------------------------- demo tasks


@dataclass(frozen=True)
class DemoTaskInfo:
    name: str
    description: str
    size: int
    signature: str
    metric: str


@dataclass(frozen=True)
class _Demo:
    info: DemoTaskInfo
    instructions: str
    descriptions: dict[str, str]
    generate: Callable[[random.Random], tuple[str, str]]  # -> (input text, label)


def _pick(rng: random.Random, items: Sequence[str]) -> str:
    return items[rng.randrange(len(items))]


# Product reviews. Each label has "plain" cues any general model knows and
# "idiom" cues it can only learn from demos or an instruction that states them.
_PRODUCTS = (
    "blender",
    "desk lamp",
    "phone case",
    "backpack",
    "kettle",
    "yoga mat",
    "coffee grinder",
    "rice cooker",
    "bike light",
    "water bottle",
    "keyboard",
    "mouse",
    "toaster",
    "air fryer",
    "umbrella",
    "tent",
    "camera strap",
    "hair dryer",
    "office chair",
    "headphones",
    "power bank",
    "lunch box",
    "wall clock",
    "bath towel",
    "garden hose",
    "shower head",
    "cutting board",
    "laptop stand",
    "travel mug",
    "pillow",
)
_INTROS = (
    "Bought the {p} for my {who}.",
    "Review of the {p}.",
    "Had this {p} for a month now.",
    "Picked up the {p} on sale.",
    "Ordered the {p} after reading reviews.",
    "Our household tried the {p}.",
    "First time buying a {p} online.",
    "Got the {p} as a gift for my {who}.",
)
_WHO = ("sister", "dad", "office", "kitchen", "roommate", "son", "grandmother", "camping trips")
_FILLER = (
    "The color is grey.",
    "It came with a manual.",
    "Took a week to show up.",
    "Used it twice so far.",
    "It replaced an older model.",
    "My partner uses it too.",
    "The box was small.",
    "",
)
_REVIEW_CUES = {
    "positive": (
        (
            "Works great.",
            "I love it.",
            "Excellent build.",
            "Would recommend it to anyone.",
            "Really happy with it.",
        ),
        ("Total game changer.", "Chef's kiss.", "Ten out of ten.", "Worth every penny.", "Zero regrets."),
    ),
    "negative": (
        (
            "Terrible quality.",
            "Broke after two days.",
            "Very disappointed.",
            "Complete waste of money.",
            "Awful design.",
        ),
        (
            "What a lemon.",
            "Back in the box it goes.",
            "Now it just collects dust.",
            "Sent it straight back.",
            "Fell apart on day one.",
        ),
    ),
    "neutral": (
        ("It is okay.", "Average product.", "Fine for the price."),
        (
            "It does what the label says.",
            "Nothing to write home about.",
            "Middle of the road.",
            "About what you would expect.",
            "Comes in two sizes.",
        ),
    ),
}


def _review(rng: random.Random) -> tuple[str, str]:
    label = rng.choices(("positive", "negative", "neutral"), weights=(35, 35, 30))[0]
    plain, idiom = _REVIEW_CUES[label]
    cues: list[str] = []
    for _ in range(2 if rng.random() < 0.55 else 1):
        pool = plain if rng.random() < 0.3 else idiom
        cue = _pick(rng, pool)
        if cue not in cues:
            cues.append(cue)
    intro = _pick(rng, _INTROS).format(p=_pick(rng, _PRODUCTS), who=_pick(rng, _WHO))
    parts = [intro, *cues, _pick(rng, _FILLER)]
    if rng.random() < 0.5:
        parts[1:] = parts[1:][::-1]
    return " ".join(p for p in parts if p), label


# Support tickets routed to a team, with company jargon for every team.
_GREETINGS = ("Hi,", "Hello team,", "Hey there,", "Good morning,", "", "")
_CLOSINGS = (
    "Thanks.",
    "Please help.",
    "Cheers.",
    "Thank you in advance.",
    "",
    "Regards, Sam.",
)
_TICKET_FILLER = (
    "I have been a customer for years.",
    "This is my second message about it.",
    "I am on the family plan.",
    "I tried again this morning.",
    "My colleague sees the same thing.",
    "",
)
_TICKET_CUES = {
    "billing": (
        (
            "I was charged twice this month.",
            "My invoice shows the wrong amount.",
            "The payment did not go through.",
            "I never got a receipt.",
        ),
        (
            "There is a mystery line item on my statement.",
            "The auto top-up took money again.",
            "My Plus renewal amount doubled.",
        ),
    ),
    "shipping": (
        (
            "My package has not arrived.",
            "The tracking page has not changed in days.",
            "The delivery went to the wrong address.",
        ),
        (
            "The courier left a slip but no box.",
            "The parcel locker code never came.",
            "The driver marked it as handed over.",
        ),
    ),
    "account": (
        ("I forgot my password.", "The login page rejects my email.", "My username got locked."),
        (
            "The six digit code never shows up.",
            "The magic link opens a blank page.",
            "My two factor prompt loops forever.",
        ),
    ),
    "technical": (
        (
            "The app crashes on startup.",
            "I get an error when I open settings.",
            "The screen is frozen after the update.",
        ),
        (
            "The sync wheel spins forever.",
            "The widget shows a white screen.",
            "Everything lags since version 4.2.",
        ),
    ),
    "cancellation": (
        ("Please cancel my subscription.", "I want to unsubscribe.", "How do I terminate my plan?"),
        (
            "I do not want the plan to renew.",
            "Please end my membership at month end.",
            "Time to part ways with the service.",
        ),
    ),
}


def _ticket(rng: random.Random) -> tuple[str, str]:
    label = _pick(rng, tuple(_TICKET_CUES))
    plain, jargon = _TICKET_CUES[label]
    cues: list[str] = []
    for _ in range(2 if rng.random() < 0.6 else 1):
        cue = _pick(rng, plain if rng.random() < 0.25 else jargon)
        if cue not in cues:
            cues.append(cue)
    greeting = _pick(rng, _GREETINGS)
    body = " ".join(p for p in [*cues, _pick(rng, _TICKET_FILLER), _pick(rng, _CLOSINGS)] if p)
    if greeting:  # "Hi, my package ..." reads as one sentence
        body = (
            f"{greeting} {body[0].lower()}{body[1:]}" if not body.startswith("I ") else f"{greeting} {body}"
        )
    return body, label


_DEMOS: dict[str, _Demo] = {
    "sentiment": _Demo(
        DemoTaskInfo(
            name="demo:sentiment",
            description="Short product reviews labelled positive, negative or neutral; many use idioms a model "
            "only learns from examples.",
            size=300,
            signature="review -> sentiment",
            metric="exact_match",
        ),
        instructions="Classify the sentiment of a short product review.",
        descriptions={"review": "a short product review", "sentiment": "one of: positive, negative, neutral"},
        generate=_review,
    ),
    "intent": _Demo(
        DemoTaskInfo(
            name="demo:intent",
            description="Customer support tickets routed to billing, shipping, account, technical or cancellation; "
            "half use company jargon.",
            size=300,
            signature="ticket -> intent",
            metric="exact_match",
        ),
        instructions="Route a customer support ticket to the team that should handle it.",
        descriptions={
            "ticket": "a customer support ticket",
            "intent": "one of: billing, shipping, account, technical, cancellation",
        },
        generate=_ticket,
    ),
}


def list_demo_tasks() -> list[DemoTaskInfo]:
    """The built-in tasks, for pickers and `--help`."""
    return [demo.info for demo in _DEMOS.values()]


def demo_examples(name: str, size: int | None = None, seed: int = 0) -> list[dspy.Example]:
    """Generate a demo task's examples: same name, size and seed give the same list."""
    demo = _demo(name)
    size = demo.info.size if size is None else size
    if size < 1:
        raise TaskError(f"{demo.info.name}: size must be at least 1, got {size}")
    inp, out = (s.strip() for s in demo.info.signature.split("->"))
    rng = random.Random(f"{demo.info.name}:{seed}")
    seen: set[str] = set()
    examples: list[dspy.Example] = []
    attempts = 0
    while len(examples) < size:
        attempts += 1
        if attempts > size * 50:
            raise TaskError(f"{demo.info.name}: cannot generate {size} distinct examples; ask for fewer")
        text, label = demo.generate(rng)
        if text in seen:
            continue
        seen.add(text)
        examples.append(dspy.Example(**{inp: text, out: label}).with_inputs(inp))
    return examples


def _demo(name: str) -> _Demo:
    key = name.removeprefix("demo:")
    if key not in _DEMOS:
        known = ", ".join(d.info.name for d in _DEMOS.values())
        raise TaskError(f"unknown demo task {name!r}; the built-in ones are: {known}")
    return _DEMOS[key]


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
            raise TaskError(f"{name} changed since this session started (its content differs); restore it, "
                            "or start a new session with it")
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
    demo = _demo(spec.dataset or "")
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
    make_metric(name, spec.metric_options, signature=signature,
                judge=(lambda *_: 0.0) if name in JUDGE_METRICS else None)
    return name


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))
    return str(exc)
