"""Tasks: signatures, dataset files and their errors, splits, and the built-in demo tasks."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import dspy
import pytest

from dspy_tui.engine.tasks import (
    Task,
    TaskError,
    TaskSpec,
    build_program,
    demo_examples,
    list_demo_tasks,
    load_examples,
    load_task,
    make_signature,
    split_examples,
)

# ---------------------------------------------------------------- demo tasks


def test_demo_tasks_are_listed_with_what_a_picker_shows() -> None:
    infos = {info.name: info for info in list_demo_tasks()}
    assert {"demo:sentiment", "demo:intent"} <= set(infos)
    for info in infos.values():
        assert (
            info.size >= 200 and "->" in info.signature and info.metric == "exact_match" and info.description
        )


@pytest.mark.parametrize("name", ["demo:sentiment", "demo:intent"])
def test_demo_data_is_generated_deterministically_from_the_seed(name: str) -> None:
    first, again, other = (
        demo_examples(name, seed=3),
        demo_examples(name, seed=3),
        demo_examples(name, seed=4),
    )
    assert len(first) >= 200
    assert [e.toDict() for e in first] == [e.toDict() for e in again]
    assert [e.toDict() for e in first] != [e.toDict() for e in other]
    inputs = first[0].inputs().keys()
    assert len(inputs) == 1 and len({str(e.inputs()) for e in first}) == len(first)  # no duplicates


@pytest.mark.parametrize("name", ["demo:sentiment", "demo:intent"])
def test_demo_labels_are_the_stated_label_set_and_balanced(name: str) -> None:
    task = load_task({"dataset": name})
    stated = task.signature.output_fields[task.output_fields[0]].json_schema_extra["desc"]
    labels = Counter(e[task.output_fields[0]] for e in [*task.train, *task.dev, *task.test])
    assert all(label in stated for label in labels)
    assert min(labels.values()) >= 0.15 * sum(labels.values())


def test_load_demo_task_splits_and_builds_programs() -> None:
    task = load_task(
        TaskSpec.model_validate(
            {
                "dataset": "demo:sentiment",
                "module": "chain_of_thought",
                "size": 250,
                "split": {"train": 0.4, "dev": 0.4, "test": 0.2},
            }
        )
    )
    assert (len(task.train), len(task.dev), len(task.test)) == (100, 100, 50)
    assert (
        task.name == "demo:sentiment"
        and task.input_fields == ["review"]
        and task.output_fields == ["sentiment"]
    )
    assert list(task.train[0].inputs().keys()) == ["review"]
    assert isinstance(build_program(task), dspy.ChainOfThought)
    assert isinstance(build_program(load_task({"dataset": "demo:intent"})), dspy.Predict)


def test_demo_task_errors_are_plain() -> None:
    with pytest.raises(TaskError, match="demo:sentiment, demo:intent"):
        load_task({"dataset": "demo:nope"})
    with pytest.raises(TaskError, match="fixed signature"):
        load_task({"dataset": "demo:intent", "signature": "a -> b"})
    with pytest.raises(TaskError, match="too small for the chosen splits"):
        load_task({"dataset": "demo:intent", "size": 2})


# ---------------------------------------------------------------- signatures


def test_string_signature_with_types_instructions_and_descriptions() -> None:
    sig = make_signature(
        "question, context: list[str] -> answer: float", "Answer it.", {"answer": "a number"}
    )
    assert (
        list(sig.input_fields) == ["question", "context"] and sig.output_fields["answer"].annotation is float
    )
    assert sig.instructions == "Answer it."
    assert sig.output_fields["answer"].json_schema_extra["desc"] == "a number"


def test_signature_class_from_a_module_path(tmp_path: Path) -> None:
    module = tmp_path / "my_sigs.py"
    module.write_text(
        "import dspy\n\nclass Qa(dspy.Signature):\n    '''Answer briefly.'''\n"
        "    question: str = dspy.InputField()\n    answer: str = dspy.OutputField()\n\nNOT_A_SIG = 3\n"
    )
    sig = make_signature(f"{module}:Qa")
    assert sig.instructions == "Answer briefly." and list(sig.output_fields) == ["answer"]
    with pytest.raises(TaskError, match="not a dspy.Signature subclass"):
        make_signature(f"{module}:NOT_A_SIG")
    with pytest.raises(TaskError, match="has no attribute 'Missing'"):
        make_signature(f"{module}:Missing")
    with pytest.raises(TaskError, match="importing no_such_module_xyz failed"):
        make_signature("no_such_module_xyz:Sig")


def test_bad_signature_and_bad_description_are_task_errors() -> None:
    with pytest.raises(TaskError, match="cannot be read"):
        make_signature("question -> answer: NotAType[")
    with pytest.raises(TaskError, match="'answr', which is not a field"):
        make_signature("question -> answer", descriptions={"answr": "x"})


# ---------------------------------------------------------------- dataset files


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_jsonl_csv_and_json_load_the_same_examples(tmp_path: Path) -> None:
    rows = [{"text": f"row {i}", "label": "a" if i % 2 else "b", "extra": i} for i in range(4)]
    jsonl = write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    csv_file = write(
        tmp_path / "d.csv",
        "text,label,extra\n" + "".join(f"{r['text']},{r['label']},{r['extra']}\n" for r in rows),
    )
    json_file = write(tmp_path / "d.json", json.dumps(rows, indent=2))
    loaded = [
        load_examples(p, ["question"], ["answer"], {"text": "question", "label": "answer"})
        for p in (jsonl, csv_file, json_file)
    ]
    for examples in loaded:
        assert [e.toDict() for e in examples] == [{"question": r["text"], "answer": r["label"]} for r in rows]
        assert list(examples[0].inputs().keys()) == ["question"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jsonl", "  \n", "empty.jsonl: the file is empty"),
        ("bad.jsonl", '{"q": "a", "a": "b"}\n{"q": "a", "a": \n', "bad.jsonl: line 2: bad JSON"),
        (
            "list.jsonl",
            '{"q": "a", "a": "b"}\n[1, 2]\n',
            "list.jsonl: line 2: expected a JSON object, got list",
        ),
        ("missing.jsonl", '{"q": "a", "a": "b"}\n{"q": "c"}\n', "missing.jsonl: line 2: missing column 'a'"),
        ("null.jsonl", '{"q": "a", "a": null}\n', "null.jsonl: line 1: empty (null) value in column 'a'"),
        ("latin.csv", b"q,a\nok,fine\ncaf\xe9,bad\n", "latin.csv: line 3: not UTF-8 text"),
        ("ragged.csv", "q,a\n1,2\n3,4,5\n", "ragged.csv: line 3: 3 values for 2 columns"),
        ("header.csv", ",\n1,2\n", "header.csv: line 1: the header row is empty"),
        ("dupe.csv", "q,q,a\n1,2,3\n", "dupe.csv: line 1: duplicate column"),
        ("noheader-rows.csv", "q,a\n", "noheader-rows.csv: the file has no rows"),
        ("obj.json", '{"q": "a"}', "obj.json: line 1: expected a JSON array of objects, got dict"),
        (
            "item.json",
            '[\n  {"q": "a", "a": "b"},\n  "oops"\n]',
            "item.json: line 3: expected a JSON object, got str",
        ),
        ("broken.json", '[\n  {"q": "a",\n', "broken.json: line 3: bad JSON"),
        ("data.txt", "q,a\n", "data.txt: unknown file type .txt"),
    ],
)
def test_every_malformed_file_names_file_line_and_reason(
    tmp_path: Path, name: str, content: str | bytes, message: str
) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(TaskError) as info:
        load_examples(path, ["q"], ["a"])
    assert str(info.value).startswith(str(tmp_path / message.split(":")[0]))
    assert message.split(": ", 1)[1] in str(info.value)


def test_missing_column_names_the_mapped_column(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", '{"text": "x"}\n')
    with pytest.raises(TaskError, match=r"line 1: missing column 'label' \(for field 'answer'\)"):
        load_examples(path, ["question"], ["answer"], {"text": "question", "label": "answer"})


def test_a_file_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="nope.jsonl: file not found"):
        load_examples(tmp_path / "nope.jsonl", ["q"], ["a"])


# ---------------------------------------------------------------- splits and load_task


def test_splits_follow_the_shares_and_the_seed() -> None:
    examples = [dspy.Example(q=str(i), a="x").with_inputs("q") for i in range(10)]
    train, dev, test = split_examples(examples, (0.6, 0.2, 0.2), seed=1)
    assert (len(train), len(dev), len(test)) == (6, 2, 2)
    assert sorted(e.q for e in [*train, *dev, *test]) == sorted(e.q for e in examples)
    assert split_examples(examples, (0.6, 0.2, 0.2), seed=1)[0] == train
    assert split_examples(examples, (0.6, 0.2, 0.2), seed=2)[0] != train


def test_too_small_for_the_splits_is_said_plainly() -> None:
    examples = [dspy.Example(q=str(i), a="x").with_inputs("q") for i in range(3)]
    with pytest.raises(
        TaskError, match=r"dataset too small for the chosen splits: 3 example\(s\).*at least 4 examples"
    ):
        split_examples(examples, (0.6, 0.2, 0.2), seed=0)


def test_load_task_from_one_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "qa.jsonl",
        "".join(json.dumps({"question": f"q{i}", "answer": f"a{i}"}) + "\n" for i in range(20)),
    )
    task = load_task({"signature": "question -> answer", "dataset": str(path), "metric": "f1", "seed": 7})
    assert isinstance(task, Task) and task.name == "qa" and task.metric_name == "f1"
    assert (len(task.train), len(task.dev), len(task.test)) == (10, 5, 5)
    assert task.metric(task.dev[0], dspy.Prediction(answer=task.dev[0].answer)) == 1.0
    capped = load_task({"signature": "question -> answer", "dataset": str(path), "max_dev": 2}, seed=7)
    assert capped.train == task.train and len(capped.dev) == 2


def test_load_task_from_one_file_per_split(tmp_path: Path) -> None:
    for split, n in (("train", 5), ("dev", 3)):
        write(tmp_path / f"{split}.csv", "text,label\n" + "".join(f"t{i},l{i}\n" for i in range(n)))
    task = load_task(
        {
            "signature": "text -> label",
            "dataset": "tickets",
            "train_file": str(tmp_path / "train.csv"),
            "dev_file": str(tmp_path / "dev.csv"),
        }
    )
    assert (len(task.train), len(task.dev), len(task.test)) == (5, 3, 0) and task.name == "tickets"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"dataset": "x.jsonl"}, "needs a signature"),
        ({"signature": "a -> b"}, "needs a dataset"),
        ({"signature": "a -> b", "train_file": "t.jsonl"}, "at least train_file and dev_file"),
        ({"signature": "a -> b", "dataset": "x.jsonl", "size": 10}, "size only applies to demo tasks"),
        (
            {"signature": "a -> b", "dataset": "x.jsonl", "split": {"train": 0.5, "dev": 0.5, "test": 0.5}},
            "split: Value error, train \\+ dev \\+ test must add up to 1, got 1.5",
        ),
        (
            {"signature": "a -> b", "dataset": "x.jsonl", "modul": "predict"},
            "modul: Extra inputs are not permitted",
        ),
        ({"signature": "a -> b", "dataset": "x.jsonl", "module": "react"}, "module: Input should be"),
    ],
)
def test_load_task_errors_are_single_sentences(spec: dict[str, object], message: str) -> None:
    with pytest.raises(TaskError, match=message):
        load_task(spec)


def test_a_bad_metric_fails_at_load_time(tmp_path: Path) -> None:
    path = write(
        tmp_path / "qa.jsonl", "".join(json.dumps({"q": f"{i}", "a": "x"}) + "\n" for i in range(10))
    )
    with pytest.raises(TaskError, match="unknown metric 'exact'"):
        load_task({"signature": "q -> a", "dataset": str(path), "metric": "exact"})
    judged = load_task({"signature": "q -> a", "dataset": str(path), "metric": "llm_judge"})
    with pytest.raises(TaskError, match="needs a judge model"):
        judged.metric  # noqa: B018 - building the metric is what fails


def test_judge_config_makes_an_llm_judge_metric_once_a_judge_is_given(tmp_path: Path) -> None:
    path = write(
        tmp_path / "qa.jsonl", "".join(json.dumps({"q": f"{i}", "a": "x"}) + "\n" for i in range(10))
    )
    spec = {"signature": "q -> a", "dataset": str(path), "judge": {"model": "offline/large"}}
    task = load_task(spec, judge=lambda example, pred, field: 0.5)
    assert (
        task.metric_name == "llm_judge"
        and task.judge_spec is not None
        and task.judge_spec.model == "offline/large"
    )
    assert task.metric(task.dev[0], dspy.Prediction(a="y")) == 0.5


def test_a_session_config_task_section_is_accepted_as_is() -> None:
    """Any pydantic model with TaskSpec's fields works, e.g. the session config's task section."""
    from pydantic import BaseModel

    class Section(BaseModel):
        dataset: str = "demo:intent"
        module: str = "chain_of_thought"
        max_train: int = 20

    task = load_task(Section(), seed=5)
    assert task.module == "chain_of_thought" and len(task.train) == 20
    assert [e.toDict() for e in task.dev] == [
        e.toDict() for e in load_task({"dataset": "demo:intent", "seed": 5}).dev
    ]


def test_signatures_read_in_many_threads_at_once_all_read() -> None:
    """32 sessions preparing at once (the budget soak) failed with "signature 'review -> sentiment' cannot
    be read: AST constructor recursion depth mismatch": CPython 3.11's AST constructor keeps its depth
    per interpreter, and a collection's finalizer that releases the GIL switches threads mid-parse.
    Here finalizers do that on purpose, in threads parsing a long signature at different stack depths
    (without the parse lock: 3 of 3 runs failed)."""
    import gc
    import threading
    import time

    from dspy_tui.engine.task_signatures import make_signature

    class Cycle:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            time.sleep(0)  # releases the GIL inside the collection

    errors: list[str] = []

    def parse(depth: int) -> None:
        if depth:
            return parse(depth - 1)
        for _ in range(400):
            Cycle()
            try:
                make_signature(
                    "review: str, context: list[str], notes: dict[str, list[int]] -> sentiment: str, confidence: float, reasons: list[str]"
                )
            except TaskError as exc:
                errors.append(str(exc))
                return

    thresholds = gc.get_threshold()
    gc.set_threshold(50, 1, 1)
    try:
        threads = [threading.Thread(target=parse, args=(depth,)) for depth in (1, 5, 9, 13)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.set_threshold(*thresholds)
    assert errors == []
