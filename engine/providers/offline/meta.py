"""Answers to the meta-prompts of DSPy's optimizers (MIPROv2, COPRO, GEPA, SIMBA)."""

from __future__ import annotations

import ast
import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from .cues import (
    examples_from_prefixed,
    examples_from_reprs,
    field_names_from_instruction,
    mine_cues,
    ngrams,
    rules_text,
)
from .instructions import base_instruction, careful, compose_instruction, merge_cues, rules_as_cues
from .judge import judge_score
from .labels import labels_in
from .lexicon import recalled_cues, topic_labels
from .prompt import Prompt, dedent
from .text import norm, words
from .variants import Variant


def meta_answer(prompt: Prompt, spec: Variant) -> dict[str, Any] | None:
    """Answer the prompts DSPy's optimizers send, recognised by their output fields."""
    outs = {f.name for f in prompt.outputs}
    cur = prompt.current
    if outs - {"reasoning"} == {"score"} and (score := judge_score(cur)) is not None:
        return {"score": f"{score:.3f}"}
    if "observations" in outs and "examples" in cur:
        return {"observations": _observe(cur["examples"], cur.get("prior_observations", ""), spec)}
    if "summary" in outs and "observations" in cur:
        return {"summary": _summarise(cur["observations"], spec)}
    if "program_description" in outs:
        return {
            "program_description": _describe_program(
                cur.get("program_code", ""), cur.get("program_example", "")
            )
        }
    if "module_description" in outs:
        return {
            "module_description": f"The module {cur.get('module', 'shown')} performs the whole task in one step: "
            f"{cur.get('program_description', '')}".strip()
        }
    if "proposed_instruction" in outs:
        if "attempted_instructions" in cur:
            instruction, prefix = _improve_attempts(cur["attempted_instructions"], spec)
        else:
            instruction = _propose_instruction(cur, spec)
            prefix = _prefix_for(instruction, cur)
        values = {"proposed_instruction": instruction}
        if "proposed_prefix_for_output_field" in outs:
            values["proposed_prefix_for_output_field"] = prefix
        return values
    if "new_instruction" in outs and "examples_with_feedback" in cur:
        return {
            "new_instruction": _reflect(cur.get("current_instruction", ""), _feedback_examples(cur), spec)
        }
    if "shortened_instruction" in outs:
        return {"shortened_instruction": _shorten(cur.get("instruction", ""), cur.get("length_limit", ""))}
    if "module_advice" in outs:
        discussion, advice = _advise(cur, spec)
        return {"discussion": discussion, "module_advice": advice}
    return None


def _observe(examples_text: str, prior: str, spec: Variant) -> str:
    ex = examples_from_reprs(examples_text)
    if not ex.pairs:
        return "COMPLETE" if prior else "The examples are short free-form texts."
    counts = Counter(label for _, label in ex.pairs)
    cues = mine_cues(ex.pairs, per_label=3 * spec.cues_per_label, min_count=3, single_clauses=True)
    rules = rules_text(cues, with_counts=True)
    if prior:  # repeat sightings too: the summary trusts phrases seen in several batches
        if not rules:
            return "COMPLETE"
        return f" More cue phrases seen: {rules}."
    lengths = [len(words(text)) for text, _ in ex.pairs]
    tally = ", ".join(f"{label} {n}" for label, n in counts.most_common())
    text = (
        f"The examples pair {' and '.join(f'`{n}`' for n in ex.input_names)} with `{ex.output_name}`, "
        f"which takes one of: {', '.join(counts)}. Label counts: {tally}. "
        f"Inputs are short texts of about {round(sum(lengths) / len(lengths))} words. "
        f"The task looks like classifying each text by its `{ex.output_name}`."
    )
    return text + (f" Cue phrases seen: {rules}." if rules else "")


def _summarise(observations: str, spec: Variant) -> str:
    labels = labels_in(observations)
    seen = rules_as_cues(observations, labels)
    repeated = any(n > 1 for grams in seen.values() for _, n in grams)
    cues = merge_cues(seen, per_label=spec.cues_per_label * 2, min_total=2 if repeated else 1)
    first = re.split(r"(?<=\.)\s", observations.strip(), maxsplit=1)[0]
    out = first if first.endswith(".") else first + "."
    if labels and "one of" not in out:
        out += f" The label is one of: {', '.join(labels)}."
    rules = rules_text({k: v for k, v in cues.items() if v}, with_counts=True)
    return out + (f" Cue phrases seen: {rules}." if rules else "")


def _describe_program(code: str, example: str) -> str:
    names = re.findall(r"^([A-Z][\w ]{0,40}):", example, re.M)
    if names:
        return (
            f"The program reads {names[0].lower()} and produces {names[-1].lower()} with a single language-model "
            "call that follows an instruction and a few examples."
        )
    return "The program maps its input fields to its output fields with a single language-model call."


def _propose_instruction(cur: dict[str, str], spec: Variant) -> str:
    """GroundedProposer (MIPROv2) and COPRO's first-round instruction proposals."""
    basic = cur.get("basic_instruction", "")
    inputs, outputs = field_names_from_instruction(basic)
    described = cur.get("dataset_description", "") or ""
    demos = examples_from_prefixed(cur.get("task_demos", ""), outputs)
    paired = re.search(r"pair (.*?) with `(\w+)`", described)
    if paired and not outputs:
        inputs, outputs = re.findall(r"`(\w+)`", paired.group(1)), [paired.group(2)]
    output = outputs[0] if outputs else demos.output_name
    labels = list(dict.fromkeys([*labels_in(basic), *labels_in(described), *demos.labels()]))
    summary_cues = rules_as_cues(described, labels)
    demo_cues = mine_cues(demos.pairs, per_label=spec.cues_per_label) if len(demos.pairs) >= 6 else {}
    history = rules_as_cues(_best_previous(cur.get("previous_instructions", "")), labels)
    tip = cur.get("tip", "")
    per_label = max(1, spec.cues_per_label // 2) if "concise" in tip.lower() else spec.cues_per_label
    cues = merge_cues(_consistent(summary_cues, demos.pairs), demo_cues, history, per_label=per_label)
    if not any(cues.values()) and not demos.pairs:  # nothing shown to learn from (COPRO): what it knows
        labels = labels or topic_labels(basic)
        cues = recalled_cues(labels, spec, per_label)
    return compose_instruction(
        base_instruction(basic),
        inputs or demos.input_names,
        output,
        labels,
        {k: v for k, v in cues.items() if v},
        tip=tip,
    )


def _consistent(
    cues: dict[str, list[tuple[str, int]]], pairs: Sequence[tuple[str, str]]
) -> dict[str, list[tuple[str, int]]]:
    """Cues no shown example contradicts (the phrase appearing under another label)."""
    texts = [(norm(text), label.lower()) for text, label in pairs]
    return {
        label: [
            (gram, n)
            for gram, n in grams
            if not any(f" {gram} " in t and lab != label.lower() for t, lab in texts)
        ]
        for label, grams in cues.items()
    }


def _best_previous(history: str) -> str:
    scored = re.findall(r"(.*?) \| Score: ([\d.]+)", history, re.S)
    return max(scored, key=lambda s: float(s[1]))[0] if scored else ""


_LIST_ITEM = re.compile(r"^\[\d+\] (?:«««\n(.*?)\n»»»|«(.*?)»)$", re.S | re.M)


def _list_items(text: str) -> list[str]:
    """Items of a list input as DSPy renders it: `[1] «short»` or `[2] «««` indented lines `»»»`."""
    items = [dedent(long or short) for long, short in _LIST_ITEM.findall(text)]
    return items or [line for line in text.splitlines() if line.strip()]


def _improve_attempts(attempts: str, spec: Variant) -> tuple[str, str]:
    """COPRO depth > 1: keep the best-scoring instruction and prefix; merge the cues of the better half."""
    tried: dict[str, dict[str, str]] = defaultdict(dict)
    for item in _list_items(attempts):
        m = re.match(r"(Instruction|Prefix|Resulting Score) #(\d+): ?(.*)", item, re.S)
        if m:
            tried[m.group(2)][m.group(1)] = m.group(3).strip()
    scored = [
        t for t in tried.values() if "Instruction" in t and _float(t.get("Resulting Score")) is not None
    ]
    if not scored:
        return "Read the input carefully and answer precisely.", "Answer:"
    ranked = sorted(scored, key=lambda t: -(_float(t["Resulting Score"]) or 0.0))
    best = ranked[0]["Instruction"]
    labels = labels_in(best)
    better = ranked[: max(1, len(ranked) // 2)]
    cues = merge_cues(
        *(rules_as_cues(t["Instruction"], labels) for t in better), per_label=spec.cues_per_label
    )
    inputs, outputs = field_names_from_instruction(best)
    base = base_instruction(best)
    prefix = ranked[0].get("Prefix") or "Answer:"
    if careful(best) and not any(cues.values()):
        return base + "\nBe precise: give only the answer.", prefix
    instruction = compose_instruction(
        base, inputs, outputs[0] if outputs else "", labels, {k: v for k, v in cues.items() if v}
    )
    return instruction, prefix


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _prefix_for(instruction: str, cur: dict[str, str]) -> str:
    _, outputs = field_names_from_instruction(instruction + " " + cur.get("basic_instruction", ""))
    name = outputs[0] if outputs else "answer"
    return name.replace("_", " ").capitalize() + ":"


def _feedback_examples(cur: dict[str, str]) -> list[dict[str, Any]]:
    try:
        data = json.loads(cur["examples_with_feedback"])
    except ValueError:
        return []
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


_EXPECTED = re.compile(
    r"(?:expected|correct|gold|should (?:have been|be))[^'\"\n]*?['\"]([^'\"\n]+)['\"]", re.I
)
_EXPECTED_FIELDS = re.compile(r"(?:expected|gold|should (?:have been|be))\W*(\{[^{}\n]*\})", re.I)


def _expected_label(feedback: str, output: str) -> str | None:
    """The right answer a feedback text states: `expected {'label': 'negative'}` or `expected 'negative'`."""
    m = _EXPECTED_FIELDS.search(feedback)
    if m:
        try:
            fields = ast.literal_eval(m.group(1))
        except (ValueError, SyntaxError):
            fields = None
        if isinstance(fields, dict) and fields:
            return str(fields.get(output, next(iter(fields.values()))))
    quoted = _EXPECTED.search(feedback)
    return quoted.group(1) if quoted else None


def _reflect(current: str, examples: Sequence[dict[str, Any]], spec: Variant) -> str:
    """GEPA: learn (input, right label) pairs from the feedback; keep the rules they do not contradict."""
    pairs: list[tuple[str, str]] = []
    missed: list[tuple[str, str]] = []
    answered: list[str] = []  # labels the assistant gave: valid labels too, even when wrong here
    input_names: list[str] = []
    output = ""
    for ex in examples:
        inputs = ex.get("Inputs") or {}
        outs = ex.get("Generated Outputs") or {}
        feedback = str(ex.get("Feedback", ""))
        if isinstance(inputs, dict):
            input_names = input_names or [str(k) for k in inputs]
            text = " ".join(str(v) for v in inputs.values())
        else:
            text = str(inputs)
        produced = {k: v for k, v in outs.items() if k != "reasoning"} if isinstance(outs, dict) else {}
        output = output or next(iter(produced), "")
        answered += [str(v) for v in produced.values() if 0 < len(str(v).split()) <= 3]
        expected = _expected_label(feedback, output)
        if expected is not None:
            pairs.append((text, expected))
            if str(next(iter(produced.values()), "")).strip().lower() != expected.strip().lower():
                missed.append(pairs[-1])
        elif (
            produced
            and re.search(r"\bcorrect\b|score of 1(?:\.0)?\b", feedback, re.I)
            and "incorrect" not in feedback.lower()
        ):
            pairs.append((text, str(next(iter(produced.values())))))
    labels = list(dict.fromkeys([*labels_in(current), *(label for _, label in pairs), *answered]))
    kept = _consistent(rules_as_cues(current, labels), pairs)
    mined = _consistent(mine_cues(missed or pairs, per_label=spec.cues_per_label, single_clauses=True), pairs)
    cues = merge_cues(kept, mined, per_label=2 * spec.cues_per_label)
    inputs, outputs = field_names_from_instruction(current)
    return compose_instruction(
        base_instruction(current),
        inputs or input_names,
        outputs[0] if outputs else output,
        labels,
        {k: v for k, v in cues.items() if v},
    )


def _shorten(instruction: str, limit_text: str) -> str:
    m = re.search(r"(\d+)", limit_text)
    limit = int(m.group(1)) if m else len(instruction)
    lines = instruction.splitlines()
    while len("\n".join(lines)) > limit and len(lines) > 1:
        lines.pop()
    return "\n".join(lines)[:limit]


def _decisive_phrase(text: str, target: str, spec: Variant) -> str:
    """The phrase of `text` most likely to decide `target`: one holding a cue word the model recalls for it,
    else the latest one (a review's verdict comes last, its preamble first), longer before shorter."""
    grams = ngrams(text, longest=3)
    if not grams:
        return ""
    cues = {w for w, _ in recalled_cues([target], spec, per_label=64).get(target, [])}
    flat = " " + " ".join(words(text)) + " "
    return max(grams, key=lambda g: (bool(cues & set(g.split())), flat.rfind(f" {g} "), len(g.split()), g))


def _advise(cur: dict[str, str], spec: Variant) -> tuple[str, dict[str, str]]:
    """SIMBA: contrast the worse and better trajectories; advise a rule about this input."""

    def load(key: str) -> Any:
        try:
            return json.loads(cur.get(key, "") or "null")
        except ValueError:
            return cur.get(key)

    inputs = load("program_inputs") or {}
    gold = load("oracle_metadata") or {}
    modules = load("module_names") or ["module"]
    worse = load("worse_program_outputs") or {}
    text = " ".join(str(v) for v in inputs.values()) if isinstance(inputs, dict) else str(inputs)
    target = next((str(v) for k, v in gold.items() if k != "reasoning"), "") if isinstance(gold, dict) else ""
    wrong = (
        next((str(v) for k, v in worse.items() if k != "reasoning"), "") if isinstance(worse, dict) else ""
    )
    cue = _decisive_phrase(text, target, spec)
    if target and cue:
        rule = f'If the input contains "{cue}", then it should answer {target}'
        rule += f", not {wrong}." if wrong and wrong != target else "."
    else:
        rule = "If the input is ambiguous, then it should re-read it carefully before answering."
    discussion = (
        f"The worse trajectory answered {wrong or 'something else'} where {target or 'another answer'} "
        "was expected; the better one followed the cue in the input."
    )
    names = [str(n) for n in modules] if isinstance(modules, list) else [str(modules)]
    return discussion, {name: rule for name in names}


def answer_raw(text: str, spec: Variant) -> str:
    """GEPA's own ```-block reflection prompt, or a plain reply to anything else."""
    blocks = re.findall(r"```\n?(.*?)```", text, re.S)
    if "new instruction" in text.lower() and blocks:
        current = blocks[0].strip()
        examples = []
        for chunk in re.split(r"^# Example \d+\s*$", blocks[1] if len(blocks) > 1 else "", flags=re.M)[1:]:
            parts = dict(re.findall(r"^## ([^\n]+)\n(.*?)(?=^## |\Z)", chunk, re.S | re.M))
            inputs = dict(
                re.findall(r"^### ([^\n]+)\n(.*?)(?=^### |\Z)", parts.get("Inputs", ""), re.S | re.M)
            )
            outs = dict(
                re.findall(
                    r"^### ([^\n]+)\n(.*?)(?=^### |\Z)", parts.get("Generated Outputs", ""), re.S | re.M
                )
            )
            examples.append(
                {
                    "Inputs": {k: v.strip() for k, v in inputs.items()},
                    "Generated Outputs": {k: v.strip() for k, v in outs.items()},
                    "Feedback": parts.get("Feedback", "").strip(),
                }
            )
        return "```\n" + _reflect(current, examples, spec) + "\n```"
    first = " ".join(text.split()[:40])
    return f"(offline/{spec.name}) I read: {first}"
