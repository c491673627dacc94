"""The built-in demo tasks: reviews and support tickets generated from phrase templates and a seed."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dspy

from .task_errors import TaskError


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
    demo = find_demo(name)
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


def find_demo(name: str) -> _Demo:
    key = name.removeprefix("demo:")
    if key not in _DEMOS:
        known = ", ".join(d.info.name for d in _DEMOS.values())
        raise TaskError(f"unknown demo task {name!r}; the built-in ones are: {known}")
    return _DEMOS[key]
