"""The offline model: it reads DSPy prompts, learns in context, and carries real DSPy optimizers."""

from __future__ import annotations

import json
import logging
import math
from typing import Any, Literal

import dspy
import pytest
from dspy.lm15 import Config, Message, Request
from dspy.propose.dataset_summary_generator import create_dataset_summary
from dspy.propose.grounded_proposer import generate_instruction_class
from dspy.teleprompt.copro_optimizer import BasicGenerateInstruction, GenerateInstructionGivenAttempts
from dspy.teleprompt.simba_utils import OfferFeedback
from gepa.strategies.instruction_proposal import InstructionProposalSignature

from dspy_tui.engine.providers import offline
from dspy_tui.engine.scorers import with_feedback
from dspy_tui.engine.tasks import Task, build_program, load_task

SENTIMENT = dspy.Signature(
    "review -> sentiment", "Classify the sentiment of a short product review."
).with_updated_fields("sentiment", desc="one of: positive, negative, neutral")


class OfflineEngine:
    """The smallest dspy.LM engine over the offline model, as the runtime's bridge will be."""

    def __init__(self, variant: str) -> None:
        self.variant = variant

    def complete(self, request: Request) -> Any:
        return offline.complete(request, self.variant)

    def __deepcopy__(self, memo: dict[int, Any]) -> OfflineEngine:
        return self


def offline_lm(variant: str = "base") -> dspy.LM:
    return dspy.LM(f"offline/{variant}", engine=OfflineEngine(variant), cache=False)


def request_for(
    signature: type[dspy.Signature],
    inputs: dict[str, Any],
    demos: list[dict[str, Any]] | None = None,
    adapter: dspy.Adapter | None = None,
    **config: Any,
) -> Request:
    """The request DSPy's adapter would send for this call."""
    formatted = (adapter or dspy.ChatAdapter()).format(signature, demos or [], inputs)
    turns = tuple(
        Message.user(m["content"]) if m["role"] == "user" else Message.assistant(m["content"])
        for m in formatted[1:]
    )
    return Request(
        model="offline/base", system=formatted[0]["content"], messages=turns, config=Config(**config)
    )


def ask(signature: type[dspy.Signature], variant: str = "base", **kwargs: Any) -> dict[str, Any]:
    inputs = {k: kwargs.pop(k) for k in list(kwargs) if k in signature.input_fields}
    response = offline.complete(request_for(signature, inputs, **kwargs), variant)
    return dspy.ChatAdapter().parse(signature, response.text or "")


# ---------------------------------------------------------------- reading prompts, answering


def test_answers_every_output_field_in_chat_adapter_format() -> None:
    response = offline.complete(request_for(SENTIMENT, {"review": "Works great. I love it."}), "large")
    assert response.model == "offline/large"
    assert response.text is not None and response.text.rstrip().endswith("[[ ## completed ## ]]")
    assert dspy.ChatAdapter().parse(SENTIMENT, response.text) == {"sentiment": "positive"}


def test_an_idiom_it_does_not_know_is_learned_from_a_demo() -> None:
    review = {"review": "Bought the kettle for my dad. What a lemon."}
    assert ask(SENTIMENT, **review)["sentiment"] == "neutral"  # nothing it knows points anywhere
    demos = [
        {"review": "Review of the tent. What a lemon. The box was small.", "sentiment": "negative"},
        {"review": "Review of the mouse. Ten out of ten.", "sentiment": "positive"},
        {"review": "It does what the label says.", "sentiment": "neutral"},
    ]
    assert ask(SENTIMENT, demos=demos, **review)["sentiment"] == "negative"


def test_a_rule_stated_in_the_instruction_is_applied() -> None:
    ruled = SENTIMENT.with_instructions('Classify the review. Decisive cues: "what a lemon" -> negative.')
    assert ask(ruled, review="Bought the kettle for my dad. What a lemon.")["sentiment"] == "negative"
    other_label_named = SENTIMENT.with_instructions('If the review says "ten out of ten", answer positive.')
    assert ask(other_label_named, review="Honestly ten out of ten.")["sentiment"] == "positive"


def test_large_handles_negation_small_does_not() -> None:
    review = "It is not great, not great at all."
    assert ask(SENTIMENT, "large", review=review)["sentiment"] == "negative"
    assert ask(SENTIMENT, "base", review=review)["sentiment"] != "negative"


def test_chain_of_thought_gets_reasoning_that_names_the_evidence() -> None:
    cot = dspy.ChainOfThought(SENTIMENT).predict.signature
    answer = ask(cot, "large", review="Terrible quality, very disappointed.")
    assert answer["sentiment"] == "negative"
    assert "terrible" in answer["reasoning"].lower() or "disappointed" in answer["reasoning"].lower()


def test_json_adapter_prompts_get_a_json_object() -> None:
    request = request_for(SENTIMENT, {"review": "Works great."}, adapter=dspy.JSONAdapter())
    text = offline.complete(request, "large").text or ""
    assert json.loads(text) == {"sentiment": "positive"}


def test_literal_and_bool_outputs_stay_in_their_value_set() -> None:
    spam = dspy.Signature(
        {"text": (str, dspy.InputField()), "label": (Literal["spam", "ham"], dspy.OutputField())}
    )
    assert ask(spam, text="Lunch at noon?")["label"] in ("spam", "ham")
    flag = dspy.Signature("text -> is_question: bool")
    assert isinstance(ask(flag, text="Is it raining?")["is_question"], bool)


def test_free_form_answers_copy_a_near_identical_demo() -> None:
    qa = dspy.Signature("question -> answer")
    demos = [{"question": "What is the capital of Freedonia?", "answer": "Fredville"}]
    assert ask(qa, demos=demos, question="What is the capital of Freedonia?")["answer"] == "Fredville"


def test_same_request_same_answer_and_approximate_usage() -> None:
    request = request_for(SENTIMENT, {"review": "Middle of the road."})
    first, second = offline.complete(request, "base"), offline.complete(request, "base")
    assert first.text == second.text and first.id == second.id
    prompt_chars = len(offline.raw_text(request))
    assert first.usage.input_tokens == math.ceil(prompt_chars / 4) > 0
    assert first.usage.output_tokens == math.ceil(len(first.text or "") / 4) > 0


def test_max_tokens_cuts_the_answer() -> None:
    response = offline.complete(request_for(SENTIMENT, {"review": "Works great."}, max_tokens=3), "base")
    assert response.finish_reason == "length"
    assert response.usage.output_tokens == 3 and len(response.text or "") <= 12


def test_noise_is_seeded_rare_and_reproducible() -> None:
    answers = [
        ask(SENTIMENT, "large", review="Works great. I love it.", seed=s)["sentiment"] for s in range(200)
    ]
    slips = sum(a != "positive" for a in answers)
    assert 0 < slips < 25
    again = [
        ask(SENTIMENT, "large", review="Works great. I love it.", seed=s)["sentiment"] for s in range(200)
    ]
    assert again == answers


def test_variants_and_latency() -> None:
    assert set(offline.VARIANTS) == {"small", "base", "large"}
    assert offline.get_variant("offline/large") is offline.VARIANTS["large"]
    with pytest.raises(ValueError, match="offline/small"):
        offline.get_variant("offline/huge")
    request = request_for(SENTIMENT, {"review": "ok"})
    small, large = (
        offline.simulated_latency_s("small", request),
        offline.simulated_latency_s("large", request),
    )
    assert 0 < small < large
    assert offline.simulated_latency_s("small", request) == small


def test_a_prompt_that_is_not_from_dspy_gets_a_plain_reply() -> None:
    response = offline.complete(
        Request(model="offline/base", messages=(Message.user("hello there"),)), "base"
    )
    assert "hello there" in (response.text or "")


# ---------------------------------------------------------------- optimizer meta-prompts


def test_dataset_summary_states_labels_and_idioms(sentiment: Task) -> None:
    lm = offline_lm("base")
    with dspy.context(lm=lm):
        summary = create_dataset_summary(sentiment.train, 10, lm)
    assert all(label in summary for label in ("positive", "negative", "neutral"))
    rules = offline.parse_rules(summary, ["positive", "negative", "neutral"])
    assert ("what a lemon", "negative") in rules
    assert len(rules) >= 6


def test_grounded_proposer_writes_labels_and_cues_into_the_instruction() -> None:
    propose = generate_instruction_class(program_aware=False, use_instruct_history=False)
    with dspy.context(lm=offline_lm("base")):
        out = propose(
            dataset_description="The examples pair `review` with `sentiment`, which takes one of: positive, "
            'negative, neutral. Cue phrases seen: "what a lemon" -> negative (x5); "zero regrets" -> positive (x4).',
            task_demos="Review: Zero regrets.\nSentiment: positive\n\nReview: What a lemon.\nSentiment: negative",
            basic_instruction="Given the fields `review`, produce the fields `sentiment`.",
            tip="Keep the instruction clear and concise.",
        )
    instruction = out.proposed_instruction
    assert "one of: positive, negative, neutral" in instruction
    assert '"what a lemon" -> negative' in instruction and '"zero regrets" -> positive' in instruction
    ruled = SENTIMENT.with_instructions(instruction)
    assert ask(ruled, review="Zero regrets, honestly.")["sentiment"] == "positive"


def test_copro_proposal_has_an_instruction_and_a_prefix() -> None:
    with dspy.context(lm=offline_lm("base")):
        out = dspy.Predict(BasicGenerateInstruction)(
            basic_instruction="Given the fields `review`, produce the fields `sentiment`."
        )
    assert "carefully" in out.proposed_instruction
    assert out.proposed_prefix_for_output_field == "Sentiment:"


def test_copro_next_round_builds_on_the_best_scored_attempt() -> None:
    attempts = [
        "Instruction #1: Classify it.",
        "Prefix #1: Sentiment:",
        "Resulting Score #1: 40.0",
        'Instruction #2: Classify it.\nAnswer with exactly one of: positive, negative.\nDecisive cues: "what a lemon" -> negative.',
        "Prefix #2: Mood:",
        "Resulting Score #2: 60.0",
    ]
    with dspy.context(lm=offline_lm("base")):
        out = dspy.Predict(GenerateInstructionGivenAttempts)(attempted_instructions=attempts)
    assert '"what a lemon" -> negative' in out.proposed_instruction
    assert out.proposed_prefix_for_output_field == "Mood:"


def test_gepa_raw_reflection_prompt_learns_from_feedback() -> None:
    prompt = InstructionProposalSignature.prompt_renderer(
        {
            "current_instruction_doc": "Classify the sentiment of a short product review.",
            "dataset_with_feedback": [
                {
                    "Inputs": {"review": "Back in the box it goes."},
                    "Generated Outputs": {"sentiment": "neutral"},
                    "Feedback": "Incorrect: the expected sentiment was 'negative', but the answer was 'neutral'.",
                },
                {
                    "Inputs": {"review": "Zero regrets."},
                    "Generated Outputs": {"sentiment": "positive"},
                    "Feedback": "Correct: the sentiment is 'positive'.",
                },
            ],
        }
    )
    response = offline.complete(Request(model="offline/base", messages=(Message.user(prompt),)), "base")
    instruction = InstructionProposalSignature.output_extractor(response.text or "")["new_instruction"]
    assert instruction.startswith("Classify the sentiment of a short product review.")
    assert '"back in the box it goes" -> negative' in instruction


def test_simba_advice_is_a_rule_per_module() -> None:
    with dspy.context(lm=offline_lm("base")):
        out = dspy.Predict(OfferFeedback)(
            program_code="class P: ...",
            modules_defn="predict: review -> sentiment",
            program_inputs=json.dumps({"review": "Now it just collects dust."}),
            oracle_metadata=json.dumps({"sentiment": "negative"}),
            worse_program_trajectory="[]",
            worse_program_outputs=json.dumps({"sentiment": "neutral"}),
            worse_reward_value=0.0,
            worse_reward_info="{}",
            better_program_trajectory="[]",
            better_program_outputs=json.dumps({"sentiment": "negative"}),
            better_reward_value=1.0,
            better_reward_info="{}",
            module_names=["predict"],
        )
    advice = out.module_advice["predict"]
    assert "negative" in advice and '"' in advice
    assert offline.parse_rules(advice, ["positive", "negative", "neutral"])


# ---------------------------------------------------------------- real DSPy optimizers end to end


@pytest.fixture(scope="module")
def sentiment() -> Task:
    return load_task({"dataset": "demo:sentiment"})


@pytest.fixture(scope="module")
def intent() -> Task:
    return load_task({"dataset": "demo:intent"})


@pytest.fixture(autouse=True)
def quiet_dspy() -> None:
    logging.getLogger("dspy").setLevel(logging.ERROR)


def dev_score(task: Task, program: dspy.Module, lm: dspy.LM, n: int = 60) -> float:
    with dspy.context(lm=lm):
        evaluate = dspy.Evaluate(
            devset=task.dev[:n], metric=task.metric, num_threads=4, display_progress=False
        )
        return evaluate(program).score / 100


@pytest.mark.parametrize("name", ["demo:sentiment", "demo:intent"])
def test_bootstrap_few_shot_raises_dev_accuracy(name: str) -> None:
    """Demos teach what the model cannot know: a clear gain, averaged over three data seeds."""
    gains: dict[str, list[float]] = {"base": [], "large": []}
    for seed in (0, 1, 2):
        task = load_task({"dataset": name, "seed": seed})
        for variant, seen in gains.items():
            lm = offline_lm(variant)
            baseline = dev_score(task, build_program(task), lm, n=len(task.dev))
            assert 0.25 <= baseline <= 0.65, f"{variant} baseline {baseline:.2f} outside the designed band"
            with dspy.context(lm=lm):
                optimizer = dspy.BootstrapFewShot(
                    metric=task.metric, max_bootstrapped_demos=4, max_labeled_demos=8
                )
                compiled = optimizer.compile(build_program(task), trainset=task.train)
            seen.append(dev_score(task, compiled, lm, n=len(task.dev)) - baseline)
    mean = {variant: sum(g) / len(g) for variant, g in gains.items()}
    assert max(mean.values()) >= 0.15, gains
    assert min(gains["large"]) > 0.05, gains


def test_miprov2_writes_an_instruction_that_helps(sentiment: Task) -> None:
    pytest.importorskip("optuna", reason="MIPROv2 needs the optuna package")
    lm = offline_lm("base")
    baseline = dev_score(sentiment, build_program(sentiment), lm)
    with dspy.context(lm=lm):
        optimizer = dspy.MIPROv2(metric=sentiment.metric, auto="light", num_threads=4, verbose=False)
        compiled = optimizer.compile(
            build_program(sentiment), trainset=sentiment.train, valset=sentiment.dev[60:]
        )
    instruction = compiled.predictors()[0].signature.instructions
    assert "Decisive cues:" in instruction
    assert dev_score(sentiment, compiled, lm) >= baseline + 0.15


def test_copro_completes(intent: Task) -> None:
    lm = offline_lm("base")
    with dspy.context(lm=lm):
        optimizer = dspy.COPRO(metric=intent.metric, breadth=2, depth=2)
        compiled = optimizer.compile(
            build_program(intent),
            trainset=intent.train[:30],
            eval_kwargs={"num_threads": 4, "display_progress": False},
        )
    assert compiled.predictors()[0].signature.instructions.strip()
    assert dev_score(intent, compiled, lm) > 0


def test_gepa_reflects_with_the_offline_model(sentiment: Task) -> None:
    lm = offline_lm("base")
    baseline = dev_score(sentiment, build_program(sentiment), lm)
    with dspy.context(lm=lm):
        optimizer = dspy.GEPA(
            metric=with_feedback(sentiment.metric),
            reflection_lm=lm,
            max_metric_calls=150,
            num_threads=4,
            reflection_minibatch_size=6,
        )
        compiled = optimizer.compile(
            build_program(sentiment), trainset=sentiment.train[:30], valset=sentiment.dev[60:90]
        )
    assert compiled.predictors()[0].signature.instructions != sentiment.signature.instructions
    assert dev_score(sentiment, compiled, lm) >= baseline


def test_gepa_accepts_the_plain_metric_too(sentiment: Task) -> None:
    lm = offline_lm("small")
    with dspy.context(lm=lm):
        optimizer = dspy.GEPA(metric=sentiment.metric, reflection_lm=lm, max_metric_calls=40, num_threads=4)
        compiled = optimizer.compile(
            build_program(sentiment), trainset=sentiment.train[:10], valset=sentiment.dev[:10]
        )
    assert compiled.predictors()


def test_simba_completes_with_chain_of_thought() -> None:
    task = load_task({"dataset": "demo:intent", "module": "chain_of_thought"})
    lm = offline_lm("large")
    with dspy.context(lm=lm):
        optimizer = dspy.SIMBA(metric=task.metric, bsize=8, num_candidates=3, max_steps=2, num_threads=4)
        compiled = optimizer.compile(build_program(task), trainset=task.train[:40])
    assert dev_score(task, compiled, lm, n=30) > 0


def test_gepa_reflection_learns_the_labels_its_feedback_states_as_a_field_dict() -> None:
    """GEPA's DSPy feedback reads "Incorrect: expected {'sentiment': 'negative'}": the label is the value."""
    from dspy_tui.engine.providers.offline.meta import _reflect

    examples = [
        {
            "Inputs": {"review": "Sent it straight back. Awful design."},
            "Generated Outputs": {"sentiment": "neutral"},
            "Feedback": "Incorrect: expected {'sentiment': 'negative'}.",
        },
        {
            "Inputs": {"review": "What a lemon. Fell apart on day one."},
            "Generated Outputs": {"sentiment": "positive"},
            "Feedback": "Incorrect: expected {'sentiment': 'negative'}.",
        },
    ]
    instruction = _reflect(
        "Classify the sentiment of a short product review.", examples, offline.VARIANTS["base"]
    )
    rules = offline.parse_rules(instruction, ["negative", "neutral", "positive"])
    assert rules and {label for _, label in rules} == {"negative"}, instruction
    assert "one of: negative, neutral, positive" in instruction  # the answers it gave are labels too
    assert "-> sentiment" not in instruction  # the old parse took the field name for the label


def test_sampling_temperature_changes_answers_where_the_evidence_is_close() -> None:
    reviews = [f"Review {i}: it is okay but it broke." for i in range(40)]  # one neutral cue, one negative
    greedy = [ask(SENTIMENT, review=r)["sentiment"] for r in reviews]
    hot = [ask(SENTIMENT, review=r, temperature=1.0)["sentiment"] for r in reviews]
    assert greedy == [ask(SENTIMENT, review=r)["sentiment"] for r in reviews]  # still pure
    changed = sum(g != h for g, h in zip(greedy, hot, strict=True))
    assert changed >= 12  # slips alone changed about 5 of 40
    clear = [f"Review {i}: works great, I love it, amazing, excellent." for i in range(40)]
    clear_changed = sum(
        ask(SENTIMENT, review=r)["sentiment"] != ask(SENTIMENT, review=r, temperature=1.0)["sentiment"]
        for r in clear
    )
    assert 2 * clear_changed < changed  # where the evidence is clear, sampling mostly agrees with greedy


def test_copro_proposal_without_examples_states_labels_and_recalled_cues() -> None:
    from dspy_tui.engine.providers.offline.meta import _propose_instruction

    text = _propose_instruction(
        {"basic_instruction": "Classify the sentiment of a short product review."}, offline.VARIANTS["small"]
    )
    assert "one of: positive, negative, neutral" in text
    rules = offline.parse_rules(text, ["positive", "negative", "neutral"])
    known = {w for w, _ in rules if _knows_word(w, "small")}
    assert len(rules) > len(known)  # it recalls cue words it would not apply while reading a review


def _knows_word(word: str, variant: str) -> bool:
    from dspy_tui.engine.providers.offline.text import stable_fraction

    return stable_fraction("lexicon", word) < offline.VARIANTS[variant].lexicon_coverage


def test_offline_models_say_which_task_shapes_they_can_do(tmp_path: Any) -> None:
    from dspy_tui.engine.config import TaskSpec
    from dspy_tui.engine.providers.offline.shapes import fit_warning

    assert fit_warning(load_task(TaskSpec(dataset="demo:sentiment")), ["offline/base"]) is None
    sums = tmp_path / "sums.jsonl"
    sums.write_text(
        "\n".join(
            json.dumps({"question": f"What is {i} + {2 * i}?", "answer": str(3 * i)}) for i in range(40)
        )
    )
    arithmetic = load_task(TaskSpec(dataset=str(sums), signature="question -> answer: int"))
    warning = fit_warning(arithmetic, ["offline/base", "openai/gpt-4o"])
    assert (
        warning is not None and "offline/base" in warning and "gpt-4o" not in warning and "near 0" in warning
    )
    assert fit_warning(arithmetic, ["openai/gpt-4o"]) is None
    names = tmp_path / "names.jsonl"
    names.write_text(
        "\n".join(
            json.dumps({"text": f"Please call Ana{i} back today.", "name": f"Ana{i}"}) for i in range(40)
        )
    )
    assert (
        fit_warning(load_task(TaskSpec(dataset=str(names), signature="text -> name")), ["offline/small"])
        is None
    )


def test_identical_requests_sampled_again_at_temperature_differ() -> None:
    reviews = [f"Review {i}: it is okay but it broke." for i in range(40)]
    requests = [request_for(SENTIMENT, {"review": r}, temperature=1.0) for r in reviews]
    first = [offline.complete(q, "base").text for q in requests]
    assert first == [offline.complete(q, "base", 0).text for q in requests]
    again = [offline.complete(q, "base", 1).text for q in requests]
    assert sum(a != b for a, b in zip(first, again, strict=True)) >= 8
