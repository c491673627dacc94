"""Metrics: what counts as the same answer, options, user functions, the judge hook, GEPA feedback."""

from __future__ import annotations

import inspect
from pathlib import Path

import dspy
import pytest

from dspy_tui.engine.scorers import make_metric, normalize, parse_number, with_feedback
from dspy_tui.engine.tasks import TaskError

QA = dspy.Signature("question -> answer, confidence")


def score(name: str, gold: object, got: object, **options: object) -> float:
    metric = make_metric(name, options, signature=QA)
    return metric(
        dspy.Example(question="q", answer=gold).with_inputs("question"), dspy.Prediction(answer=got)
    )


def test_normalize_ignores_case_whitespace_and_punctuation() -> None:
    assert normalize("  Hello,   WORLD!! ") == "hello world"
    assert normalize("ﬁne—really?") == "fine really"


@pytest.mark.parametrize(
    ("gold", "got", "expected"),
    [("Positive", "positive.", 1.0), ("New  York", "new york", 1.0), ("cat", "cats", 0.0), ("", "", 1.0)],
)
def test_exact_match(gold: str, got: str, expected: float) -> None:
    assert score("exact_match", gold, got) == expected


def test_f1_counts_shared_tokens() -> None:
    assert score("f1", "the quick brown fox", "the quick brown fox") == 1.0
    assert score("f1", "the quick brown fox", "a quick fox") == pytest.approx(
        2 * (2 / 3) * (2 / 4) / (2 / 3 + 2 / 4)
    )
    assert score("f1", "alpha", "beta") == 0.0


def test_contains_is_word_bounded() -> None:
    assert score("contains", "Paris", "It is Paris, France.") == 1.0
    assert score("contains", "Paris", "Parisian food") == 0.0


def test_numeric_reads_numbers_out_of_text_with_tolerance() -> None:
    assert (
        parse_number("about 1,234.5 km") == 1234.5
        and parse_number("-3e2") == -300.0
        and parse_number("none") is None
    )
    assert score("numeric", "3000", "The answer is 3,000 m.") == 1.0
    assert score("numeric", 10, "10.4") == 0.0
    assert score("numeric", 10, "10.4", tolerance=0.5) == 1.0
    assert score("numeric", 1000, "1040", relative_tolerance=0.05) == 1.0
    assert score("numeric", 10, "ten") == 0.0
    with pytest.raises(TaskError, match="tolerance must be a number >= 0"):
        make_metric("numeric", {"tolerance": -1})


def test_json_equal_compares_values_not_text() -> None:
    assert score("json_equal", '{"a": 1, "b": [1, 2]}', '```json\n{"b": [1, 2], "a": 1}\n```') == 1.0
    assert score("json_equal", '{"a": 1}', {"a": 1}) == 1.0
    assert score("json_equal", '{"a": 1}', '{"a": 2}') == 0.0
    assert score("json_equal", '{"a": 1}', "not json") == 0.0


def test_regex_pattern_with_and_without_the_gold_value() -> None:
    assert score("regex", "x", "Order #1234 shipped", pattern=r"#\d{4}\b") == 1.0
    assert score("regex", "x", "order shipped", pattern=r"#\d{4}\b") == 0.0
    assert score("regex", "a+b", "the answer is A+B", pattern=r"answer is {gold}$", ignore_case=True) == 1.0
    with pytest.raises(TaskError, match="needs a 'pattern' option"):
        make_metric("regex", {})
    with pytest.raises(TaskError, match="not a valid regular expression"):
        make_metric("regex", {"pattern": "(unclosed"})


def test_the_first_output_field_is_scored_unless_named() -> None:
    example = dspy.Example(question="q", answer="yes", confidence="high").with_inputs("question")
    pred = dspy.Prediction(answer="yes", confidence="low")
    assert make_metric("exact_match", signature=QA)(example, pred) == 1.0
    assert make_metric("exact_match", {"field": "confidence"}, signature=QA)(example, pred) == 0.0
    assert make_metric("exact_match")(example, pred) == 1.0  # no signature: the example's first label
    with pytest.raises(TaskError, match="'confidnce' is not an output field"):
        make_metric("exact_match", {"field": "confidnce"}, signature=QA)


def test_a_prediction_without_the_field_scores_zero() -> None:
    example = dspy.Example(question="q", answer="yes").with_inputs("question")
    assert make_metric("exact_match", signature=QA)(example, dspy.Prediction(other="yes")) == 0.0


def test_unknown_metric_and_option_are_task_errors() -> None:
    with pytest.raises(TaskError, match="unknown metric 'bleu'"):
        make_metric("bleu")
    with pytest.raises(TaskError, match=r"unknown option\(s\) tolerance \(allowed: field\)"):
        make_metric("exact_match", {"tolerance": 1})


def test_user_metric_from_a_module_path(tmp_path: Path) -> None:
    module = tmp_path / "my_metrics.py"
    module.write_text(
        "import dspy\n"
        "def starts_same(example, pred, trace=None):\n"
        "    return example.answer[0] == pred.answer[0]\n"
        "def with_score(example, pred, trace=None):\n"
        "    return dspy.Prediction(score=0.25, feedback='meh')\n"
        "VALUE = 3\n"
    )
    example = dspy.Example(question="q", answer="apple").with_inputs("question")
    assert make_metric(f"{module}:starts_same")(example, dspy.Prediction(answer="avocado")) == 1.0
    assert make_metric(f"{module}:with_score")(example, dspy.Prediction(answer="x")) == 0.25
    with pytest.raises(TaskError, match="is not a function"):
        make_metric(f"{module}:VALUE")
    with pytest.raises(TaskError, match="has no attribute 'nope'"):
        make_metric(f"{module}:nope")
    with pytest.raises(TaskError, match="file .*missing.py does not exist"):
        make_metric(f"{tmp_path}/missing.py:f")
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    with pytest.raises(TaskError, match="importing .*broken.py failed \\(SyntaxError"):
        make_metric(f"{broken}:f")
    with pytest.raises(TaskError, match="importing not_a_real_package_q.metrics failed"):
        make_metric("not_a_real_package_q.metrics:f")


def test_llm_judge_needs_a_judge_and_uses_it() -> None:
    with pytest.raises(TaskError, match="needs a judge model"):
        make_metric("llm_judge", {"criteria": "is it polite?"})
    seen: list[str] = []

    def judge(example: dspy.Example, pred: dspy.Prediction, field: str) -> float:
        seen.append(field)
        return 0.75

    metric = make_metric("llm_judge", {"criteria": "is it polite?"}, judge=judge, signature=QA)
    assert (
        metric(dspy.Example(question="q", answer="a").with_inputs("question"), dspy.Prediction(answer="b"))
        == 0.75
    )
    assert seen == ["answer"]


def test_metrics_take_the_arguments_every_optimizer_passes() -> None:
    metric = make_metric("exact_match", signature=QA)
    inspect.signature(metric).bind(None, None)
    inspect.signature(metric).bind(None, None, None)
    inspect.signature(metric).bind(
        None, None, None, None, None
    )  # GEPA's (gold, pred, trace, pred_name, pred_trace)
    assert "exact_match" in repr(metric)


def test_with_feedback_says_what_was_expected() -> None:
    scored = with_feedback(make_metric("exact_match", signature=QA))
    example = dspy.Example(question="q", answer="negative").with_inputs("question")
    wrong = scored(example, dspy.Prediction(answer="neutral"), None, "predict", None)
    assert (
        wrong.score == 0.0
        and "expected answer was 'negative'" in wrong.feedback
        and "'neutral'" in wrong.feedback
    )
    right = scored(example, dspy.Prediction(answer="Negative"))
    assert right.score == 1.0 and right.feedback.startswith("Correct")


def test_a_module_function_metric_resolves_next_to_its_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dspy_tui.engine.config import load_config
    from dspy_tui.engine.tasks import load_task

    project = tmp_path / "project"
    (project / "checks").mkdir(parents=True)
    (project / "my_metric.py").write_text(
        "def first_letter(example, pred, trace=None):\n    return example.sentiment[0] == pred.sentiment[0]\n"
    )
    (project / "checks" / "strict.py").write_text(
        "def same(example, pred, trace=None):\n    return example.sentiment == pred.sentiment\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # neither the cwd nor sys.path holds the metric modules
    example = dspy.Example(review="r", sentiment="positive").with_inputs("review")
    for spec, expected in (
        ("my_metric:first_letter", 1.0),
        ("checks.strict:same", 0.0),
        ("my_metric.py:first_letter", 1.0),
    ):
        config = project / "s.toml"
        config.write_text(
            f'[task]\ndataset = "demo:sentiment"\nmetric = "{spec}"\n[[models]]\nid = "offline/base"\n'
        )
        task = load_task(load_config(config).task)
        assert task.metric(example, dspy.Prediction(sentiment="pos")) == expected, spec
    config.write_text('[task]\ndataset = "demo:sentiment"\nmetric = "f1"\n[[models]]\nid = "offline/base"\n')
    assert load_config(config).task.metric == "f1"
