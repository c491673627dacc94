"""A config mistake reads as one plain-English sentence naming the key and what was given, not pydantic's wording."""

from __future__ import annotations

from typing import Any

import pytest

from dspy_tui.engine.config import ConfigError, parse_config

BASE: dict[str, Any] = {"task": {"dataset": "demo:intent"}, "models": [{"id": "offline/small"}]}


@pytest.mark.parametrize(
    ("setting", "sentence"),
    [
        ({"rounds": "abc"}, "this setup: `rounds` must be a whole number (got 'abc')."),
        ({"rounds": 1.5}, "this setup: `rounds` must be a whole number (got 1.5)."),
        ({"rounds": 0}, "this setup: `rounds` must be at least 1 (got 0)."),
        ({"rounds": 10**9}, "this setup: `rounds` must be at most 15 (got 1000000000)."),
        ({"budget_usd": "x"}, "this setup: `budget_usd` must be a number (got 'x')."),
        ({"budget_usd": -1}, "this setup: `budget_usd` must be more than 0 (got -1)."),
        ({"budget_usd": float("inf")}, "this setup: `budget_usd` must be a finite number (got inf)."),
        ({"models": []}, "this setup: `models` needs at least 1 item(s)."),
        ({"bogus": 1}, "this setup: `bogus` is not a known setting."),
        ({"models": [{}]}, "this setup: `models.0.id` is required."),
        (
            {"rounds": "abc", "seed": "x", "name": 3},
            "this setup: `name` must be text (got 3) (and 2 more problems).",
        ),
    ],
)
def test_config_errors_read_as_plain_english(setting: dict[str, Any], sentence: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({**BASE, **setting}, "this setup")
    assert str(caught.value) == sentence
    assert "input should" not in str(caught.value).lower()


def test_a_bad_optimizer_lists_the_choices() -> None:
    with pytest.raises(
        ConfigError, match=r"`optimizer` must be one of 'bootstrap', .* or 'labeled' \(got 'nope'\)\.$"
    ):
        parse_config({**BASE, "optimizer": "nope"})


def test_our_own_validators_sentences_pass_through() -> None:
    with pytest.raises(
        ConfigError, match=r"^config: `models\.0\.id` 'nope' is not of the form provider/model"
    ):
        parse_config({**BASE, "models": [{"id": "nope"}]})
