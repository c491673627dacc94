"""Prices and the per-provider token rules that turn usage into dollars."""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path

import pytest
from dspy.lm15 import Usage

from dspy_tui.engine.pricing import (
    PRICES,
    PRICES_AS_OF,
    Price,
    cost_of,
    model_prices,
    price_for,
    resolve_price,
    worst_case_cost,
)


def test_the_table_is_dated_and_sane() -> None:
    assert re.fullmatch(r"\d{4}-\d{2}", PRICES_AS_OF)
    for provider, models in PRICES.items():
        for model, price in models.items():
            assert price.input > 0 and price.output > 0, (provider, model)
            assert price.cached_input is None or price.cached_input <= price.input, (provider, model)
            assert price.label == f"list {PRICES_AS_OF}"


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-4o"),
        ("openai", "gpt-4o-mini"),
        ("openai", "gpt-4.1"),
        ("openai", "gpt-4.1-mini"),
        ("openai", "gpt-4.1-nano"),
        ("openai", "o3-mini"),
        ("anthropic", "claude-sonnet-4-5"),
        ("anthropic", "claude-haiku-4-5"),
        ("anthropic", "claude-opus-4-1"),
        ("gemini", "gemini-2.5-pro"),
        ("gemini", "gemini-2.5-flash"),
        ("gemini", "gemini-2.0-flash"),
        ("groq", "llama-3.3-70b-versatile"),
        ("groq", "llama-3.1-8b-instant"),
        ("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
        ("fireworks", "accounts/fireworks/models/llama-v3p3-70b-instruct"),
    ],
)
def test_current_models_are_priced(provider: str, model: str) -> None:
    price = price_for(provider, model)
    assert price is not None and price.kind == "list"


def test_dated_snapshots_cost_what_the_model_costs_but_other_names_are_unpriced() -> None:
    assert price_for("openai", "gpt-4o-2024-08-06") == price_for("openai", "gpt-4o")
    assert price_for("anthropic", "claude-sonnet-4-5-20250929") == price_for("anthropic", "claude-sonnet-4-5")
    assert price_for("openai", "gpt-4o-mini") != price_for("openai", "gpt-4o")
    assert price_for("openai", "gpt-4o-turbo-deluxe") is None  # no guessing from a prefix
    assert price_for("openai", "my-finetune") is None
    assert price_for("openrouter", "meta-llama/llama-3.3-70b") is None


def test_local_hosts_and_offline_are_free_and_say_why() -> None:
    for host in ("ollama", "vllm", "lmstudio"):
        price = price_for(host, "anything:8b")
        assert price is not None and price.free and price.label == "local"
    offline = price_for("offline", "base")
    assert offline is not None and offline.free and offline.label == "offline/simulated"
    assert cost_of(offline, Usage()) == 0.0  # free is known even without usage


def test_overrides_win_and_keep_the_provider_token_rule() -> None:
    price = price_for(
        "anthropic", "claude-haiku-4-5", {"anthropic/claude-haiku-4-5": {"input": 2, "output": 4}}
    )
    assert price is not None and (price.input, price.output, price.kind, price.rule) == (
        2,
        4,
        "config",
        "anthropic",
    )
    custom = price_for("openai", "my-finetune", {"my-finetune": Price(1.0, 2.0, 0.5)})
    assert custom is not None and custom.cached_input == 0.5 and custom.kind == "config"
    gemini = price_for("gemini", "gemini-9", {"gemini/gemini-9": {"input": 1, "output": 1}})
    assert gemini is not None and gemini.rule == "gemini"


def test_openai_bills_the_cached_share_of_input_at_the_cached_rate() -> None:
    price = price_for("openai", "gpt-4o")  # 2.50 in, 10.00 out, 1.25 cached
    assert price is not None
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000, cache_read_tokens=400_000)
    assert cost_of(price, usage) == pytest.approx(0.6 * 2.50 + 0.4 * 1.25 + 0.1 * 10.00)
    reasoning = Usage(input_tokens=1000, output_tokens=5000, reasoning_tokens=4000)  # already inside output
    assert cost_of(price, reasoning) == pytest.approx((1000 * 2.50 + 5000 * 10.00) / 1e6)


def test_anthropic_cache_counters_are_disjoint_and_writes_cost_more() -> None:
    price = price_for("anthropic", "claude-sonnet-4-5")  # 3 in, 15 out, 0.30 cache read
    assert price is not None
    usage = Usage(input_tokens=1000, output_tokens=2000, cache_read_tokens=10_000, cache_write_tokens=4000)
    expected = 1000 * 3.0 + 10_000 * 0.30 + 4000 * 3.0 * 1.25 + 2000 * 15.0
    assert cost_of(price, usage) == pytest.approx(expected / 1e6)


def test_gemini_bills_thoughts_as_output_and_cached_input_at_the_cached_rate() -> None:
    price = price_for("gemini", "gemini-2.5-flash")  # 0.30 in, 2.50 out, 0.03 cached
    assert price is not None
    usage = Usage(input_tokens=10_000, output_tokens=500, cache_read_tokens=2000, reasoning_tokens=1500)
    expected = 8000 * 0.30 + 2000 * 0.03 + (500 + 1500) * 2.50
    assert cost_of(price, usage) == pytest.approx(expected / 1e6)


def test_gemini_pro_long_prompts_use_the_long_context_rates() -> None:
    price = price_for("gemini", "gemini-2.5-pro")
    assert price is not None
    short = cost_of(price, Usage(input_tokens=200_000, output_tokens=1000))
    long = cost_of(price, Usage(input_tokens=200_001, output_tokens=1000))
    assert short == pytest.approx((200_000 * 1.25 + 1000 * 10.0) / 1e6)
    assert long == pytest.approx((200_001 * 2.50 + 1000 * 15.0) / 1e6)


def test_unknown_usage_or_price_is_none_never_zero() -> None:
    price = price_for("openai", "gpt-4o-mini")
    assert cost_of(price, Usage()) is None
    assert cost_of(price, Usage(input_tokens=10)) is None
    assert cost_of(price, None) is None
    assert cost_of(None, Usage(input_tokens=1, output_tokens=1)) is None
    assert worst_case_cost(None, 100, 100) is None


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-4o"),
        ("anthropic", "claude-opus-4-1"),
        ("gemini", "gemini-2.5-pro"),
        ("groq", "llama-3.1-8b-instant"),
    ],
)
def test_the_worst_case_bounds_every_bill_within_the_estimate(provider: str, model: str) -> None:
    price = price_for(provider, model)
    assert price is not None
    rng = random.Random(7)
    for _ in range(500):
        est_in, max_out = rng.randint(1, 300_000), rng.randint(1, 8000)
        cached = rng.randint(0, est_in)
        if price.rule == "anthropic":  # disjoint counters add up to the prompt
            written = rng.randint(0, est_in - cached)
            usage = Usage(
                input_tokens=est_in - cached - written,
                output_tokens=rng.randint(0, max_out),
                cache_read_tokens=cached,
                cache_write_tokens=written,
            )
        elif price.rule == "gemini":  # thoughts come out of the same output allowance
            thoughts = rng.randint(0, max_out)
            usage = Usage(
                input_tokens=est_in,
                output_tokens=rng.randint(0, max_out - thoughts),
                cache_read_tokens=cached,
                reasoning_tokens=thoughts,
            )
        else:
            usage = Usage(
                input_tokens=est_in, output_tokens=rng.randint(0, max_out), cache_read_tokens=cached
            )
        worst = worst_case_cost(price, est_in, max_out)
        actual = cost_of(price, usage)
        assert worst is not None and actual is not None
        assert actual <= worst + 1e-12


def test_models_our_table_lacks_fall_back_to_litellms_bundled_list_offline() -> None:
    from dspy_tui.engine.pricing import price_for

    sonnet = price_for("anthropic", "claude-sonnet-4-6")
    assert sonnet is not None and sonnet.label.startswith("litellm 1.") and sonnet.rule == "anthropic"
    assert (sonnet.input, sonnet.output, sonnet.cached_input) == (3.0, 15.0, 0.3)
    flash = price_for("gemini", "gemini-3-flash-preview")
    assert flash is not None and flash.label.startswith("litellm 1.") and flash.rule == "gemini"
    ours = price_for("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo")
    assert ours is not None and ours.label == f"list {PRICES_AS_OF}"  # our table wins where it lists a model
    assert price_for("openai", "gpt-9-imaginary") is None  # unpriced stays unpriced


def test_a_configured_price_resolves_the_same_whatever_form_it_comes_in() -> None:
    from dspy_tui.engine.config import PriceConfig

    given = {"input": 1.0, "output": 2.0, "cached_input": None}
    as_dict = resolve_price("anthropic/my-tune", given)
    assert as_dict == resolve_price("anthropic/my-tune", PriceConfig(input=1.0, output=2.0))
    assert as_dict == resolve_price("Anthropic/my-tune", Price(1.0, 2.0))
    assert as_dict is not None and (as_dict.kind, as_dict.rule) == ("config", "anthropic")
    assert resolve_price("openai/gpt-4o-mini") == price_for("openai", "gpt-4o-mini")
    assert resolve_price("openai/my-finetune") is None
    with pytest.raises(ValueError, match="known provider"):
        resolve_price("nowhere/model")
    assert model_prices({"models": ["nowhere/model", {"id": "anthropic/my-tune", "price": given}]}) == {
        "nowhere/model": None,
        "anthropic/my-tune": as_dict,
    }


def test_product_code_resolves_a_models_price_only_through_resolve_price() -> None:
    """One resolver (#14): no module outside pricing.py looks prices up in the table itself."""
    root = Path(__file__).resolve().parents[2]
    callers = []
    for path in sorted(p for d in ("engine", "storage", "tui", "cli") for p in (root / d).rglob("*.py")):
        if path.name == "pricing.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "price_for",
                "litellm_price",
            ):
                callers.append(f"{path.relative_to(root)}:{node.lineno}")
    assert callers == []


def test_every_known_model_shows_its_price_and_where_it_comes_from() -> None:
    """`dspy-tui models`: each row names its price and its dated source (`list 2026-11`, `litellm 1.x`)."""
    from importlib.metadata import version

    from dspy_tui.engine.catalog import known_models

    rows = {r["model"]: r for r in known_models()}
    mini = rows["openai/gpt-4o-mini"]
    assert (mini["price"], mini["source"]) == ("$0.15 / $0.60", f"list {PRICES_AS_OF}")
    assert (rows["offline/base"]["price"], rows["offline/base"]["source"]) == ("$0", "offline/simulated")
    assert rows["anthropic/<other model>"]["source"] == f"litellm {version('litellm')}"
    assert all(r["price"] and r["source"] for r in rows.values())
    assert (
        price_for("openai", "gpt-4o-mini", {"openai/gpt-4o-mini": {"input": 1, "output": 2}}).label
        == "config"
    )  # type: ignore[union-attr]
