"""List prices and the arithmetic that turns reported usage into dollars.

Prices are public list prices in USD per 1M tokens that we checked as of
`PRICES_AS_OF` (label `list 2026-11`); a model the table does not list falls back
to LiteLLM's price list as installed with DSPy (label `litellm 1.x.y`, its version
dates the list; read offline); a config's `price` overrides both (label `config`). Usage is provider-verbatim
(lm15 does not normalise it), so `cost_of` applies each provider's own token
rule. An unknown model is *unpriced* (None), never free: a budget cannot be
enforced against a model whose price we do not know.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from dspy.lm15 import Usage
from pydantic import BaseModel

PRICES_AS_OF = "2026-11"

UsageRule = Literal["openai", "anthropic", "gemini"]
PriceKind = Literal["list", "litellm", "config", "local", "offline/simulated"]

ANTHROPIC_CACHE_WRITE_FACTOR = 1.25  # 5-minute cache writes cost 1.25x the input rate

LOCAL_PROVIDERS = frozenset({"ollama", "vllm", "lmstudio", "local"})
OFFLINE_PROVIDERS = frozenset({"offline"})


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens for one model, and how its provider counts tokens."""

    input: float
    output: float
    cached_input: float | None = None  # None: cached tokens cost the input rate
    rule: UsageRule = "openai"
    kind: PriceKind = "list"
    # Tiered prompts (Gemini 2.5 Pro): above `long_threshold` input tokens
    # the whole request is billed at the long rates.
    long_threshold: int | None = None
    long_input: float | None = None
    long_output: float | None = None
    long_cached_input: float | None = None

    @property
    def free(self) -> bool:
        return self.input == 0 and self.output == 0 and not self.long_input and not self.long_output

    @property
    def label(self) -> str:
        """Where the price comes from, dated: "list 2026-11" (our table), "litellm 1.x.y" (its bundled
        list, dated by its version), "config", "local" or "offline/simulated"."""
        if self.kind == "list":
            return f"list {PRICES_AS_OF}"
        if self.kind == "litellm":
            return litellm_label()
        return self.kind

    def per_million(self) -> str:
        """ "$0.15 / $0.60" (input / output USD per 1M tokens), "$0" when free."""
        if self.free:
            return "$0"
        return f"{_usd(self.input)} / {_usd(self.output)}"

    def rates(self, input_tokens: int) -> tuple[float, float, float]:
        """(input, output, cached-input) rates that apply to a prompt of this size."""
        if self.long_threshold is not None and input_tokens > self.long_threshold:
            long_in = self.long_input if self.long_input is not None else self.input
            long_cached = self.long_cached_input if self.long_cached_input is not None else long_in
            return long_in, self.long_output if self.long_output is not None else self.output, long_cached
        cached = self.cached_input if self.cached_input is not None else self.input
        return self.input, self.output, cached


def _usd(rate: float) -> str:
    """$0.15, $2.50, $0.075: cents always, more digits only where a rate has them."""
    whole, _, cents = f"{rate:.4f}".partition(".")
    return f"${whole}.{cents.rstrip('0').ljust(2, '0')}"


def _p(inp: float, out: float, cached: float | None = None, rule: UsageRule = "openai") -> Price:
    return Price(inp, out, cached, rule, "list")


# provider id -> model id -> Price. Approximate public list prices (standard
# tier, no batch discount) as of PRICES_AS_OF.
PRICES: dict[str, dict[str, Price]] = {
    "openai": {
        "gpt-4o": _p(2.50, 10.00, 1.25),
        "gpt-4o-mini": _p(0.15, 0.60, 0.075),
        "gpt-4.1": _p(2.00, 8.00, 0.50),
        "gpt-4.1-mini": _p(0.40, 1.60, 0.10),
        "gpt-4.1-nano": _p(0.10, 0.40, 0.025),
        "gpt-5": _p(1.25, 10.00, 0.125),
        "gpt-5-mini": _p(0.25, 2.00, 0.025),
        "gpt-5-nano": _p(0.05, 0.40, 0.005),
        "o3": _p(2.00, 8.00, 0.50),
        "o3-mini": _p(1.10, 4.40, 0.55),
        "o4-mini": _p(1.10, 4.40, 0.275),
        "o1": _p(15.00, 60.00, 7.50),
    },
    "anthropic": {
        "claude-opus-4-1": _p(15.00, 75.00, 1.50, "anthropic"),
        "claude-opus-4": _p(15.00, 75.00, 1.50, "anthropic"),
        "claude-sonnet-4-5": _p(3.00, 15.00, 0.30, "anthropic"),
        "claude-sonnet-4": _p(3.00, 15.00, 0.30, "anthropic"),
        "claude-haiku-4-5": _p(1.00, 5.00, 0.10, "anthropic"),
        "claude-3-7-sonnet": _p(3.00, 15.00, 0.30, "anthropic"),
        "claude-3-5-haiku": _p(0.80, 4.00, 0.08, "anthropic"),
    },
    "gemini": {
        "gemini-2.5-pro": Price(
            1.25,
            10.00,
            0.125,
            "gemini",
            "list",
            long_threshold=200_000,
            long_input=2.50,
            long_output=15.00,
            long_cached_input=0.25,
        ),
        "gemini-2.5-flash": _p(0.30, 2.50, 0.03, "gemini"),
        "gemini-2.5-flash-lite": _p(0.10, 0.40, 0.01, "gemini"),
        "gemini-2.0-flash": _p(0.10, 0.40, 0.025, "gemini"),
        "gemini-2.0-flash-lite": _p(0.075, 0.30, None, "gemini"),
    },
    "groq": {
        "llama-3.3-70b-versatile": _p(0.59, 0.79),
        "llama-3.1-8b-instant": _p(0.05, 0.08),
    },
    "together": {
        "meta-llama/Llama-3.3-70B-Instruct-Turbo": _p(0.88, 0.88),
        "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo": _p(0.88, 0.88),
        "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo": _p(0.18, 0.18),
        "meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo": _p(3.50, 3.50),
    },
    "fireworks": {
        "accounts/fireworks/models/llama-v3p3-70b-instruct": _p(0.90, 0.90),
        "accounts/fireworks/models/llama-v3p1-70b-instruct": _p(0.90, 0.90),
        "accounts/fireworks/models/llama-v3p1-8b-instruct": _p(0.20, 0.20),
        "accounts/fireworks/models/llama-v3p1-405b-instruct": _p(3.00, 3.00),
    },
}

_LOCAL_PRICE = Price(0.0, 0.0, 0.0, "openai", "local")
_OFFLINE_PRICE = Price(0.0, 0.0, 0.0, "openai", "offline/simulated")
# A dated snapshot or alias of a listed model costs what the model costs.
_VERSION_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest|\d{3})$")


def _lookup(table: Mapping[str, Price], model: str) -> Price | None:
    found = table.get(model)
    if found is not None:
        return found
    stripped = _VERSION_SUFFIX.sub("", model)
    return table.get(stripped) if stripped != model else None


def price_for(
    provider: str, model: str, overrides: Mapping[str, Price | Mapping[str, float]] | None = None
) -> Price | None:
    """The price of `provider/model`, or None when it is unpriced.

    `overrides` maps "provider/model" (or just "model") to a `Price` or to a
    dict with `input`, `output` and optionally `cached_input`; an override
    wins over the table and keeps the provider's token rule.
    """
    if overrides:
        given = overrides.get(f"{provider}/{model}", overrides.get(model))
        if given is not None:
            return _override(provider, model, given)
    if provider in OFFLINE_PROVIDERS:
        return _OFFLINE_PRICE
    if provider in LOCAL_PROVIDERS:
        return _LOCAL_PRICE
    table = PRICES.get(provider)
    found = _lookup(table, model) if table is not None else None
    return found if found is not None else litellm_price(provider, model)


# Where LiteLLM's bundled price list files each provider's models (its key prefix).
LITELLM_PREFIX = {
    "openai": "",
    "anthropic": "",
    "gemini": "gemini/",
    "groq": "groq/",
    "together": "together_ai/",
    "fireworks": "fireworks_ai/",
}


@functools.lru_cache(maxsize=1)
def litellm_label() -> str:
    """ "litellm 1.x.y": the installed LiteLLM's version dates its bundled price list."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"litellm {version('litellm')}"
    except PackageNotFoundError:
        return "litellm"


@functools.lru_cache(maxsize=1)
def _litellm_table() -> dict[str, Any]:
    """LiteLLM's price list as installed with DSPy, read from its JSON file without importing
    LiteLLM and without the network; empty when it is not installed or not readable."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return {}
    path = Path(spec.origin).parent / "model_prices_and_context_window_backup.json"
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}


@functools.lru_cache(maxsize=256)
def litellm_price(provider: str, model: str) -> Price | None:
    """The fallback for a model our table does not list: LiteLLM's bundled list price (kind `litellm`)."""
    prefix = LITELLM_PREFIX.get(provider)
    if prefix is None:
        return None
    entry = _litellm_table().get(prefix + model)
    if not isinstance(entry, dict):
        return None
    per_in, per_out = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
    if not isinstance(per_in, (int, float)) or not isinstance(per_out, (int, float)):
        return None
    cached = entry.get("cache_read_input_token_cost")
    rule: UsageRule = (
        "anthropic" if provider == "anthropic" else "gemini" if provider == "gemini" else "openai"
    )
    return Price(
        round(per_in * 1e6, 6),
        round(per_out * 1e6, 6),
        round(cached * 1e6, 6) if isinstance(cached, (int, float)) else None,
        rule,
        "litellm",
    )


def _rule_for(provider: str, model: str) -> UsageRule:
    table = PRICES.get(provider)
    known = _lookup(table, model) if table else None
    if known is not None:
        return known.rule
    return "anthropic" if provider == "anthropic" else "gemini" if provider == "gemini" else "openai"


def _override(provider: str, model: str, given: Price | Mapping[str, float]) -> Price:
    rule = _rule_for(provider, model)
    if isinstance(given, Price):
        return replace(given, rule=rule, kind="config")
    return Price(
        float(given["input"]),
        float(given["output"]),
        float(given["cached_input"]) if given.get("cached_input") is not None else None,
        rule,
        "config",
    )


def cost_of(price: Price | None, usage: Usage | None) -> float | None:
    """USD billed for one call, or None when price or usage is unknown.

    Rules (usage is provider-verbatim):
    * OpenAI-style and Gemini: `input_tokens` includes cached tokens, so the
      cached share is billed at the cached rate and the rest at the input rate.
    * Anthropic: cache counters are disjoint from `input_tokens`; reads are
      billed at the cached rate, writes at 1.25x the input rate.
    * Gemini: `output_tokens` excludes thoughts; thoughts are billed as output.
    A free (local / offline) price costs 0 whatever was reported. Missing or
    negative counts make the cost unknown (None).
    """
    if price is None:
        return None
    if price.free:
        return 0.0
    if usage is None or usage.input_tokens is None or usage.output_tokens is None:
        return None
    counts = (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.reasoning_tokens,
    )
    if any(n is not None and n < 0 for n in counts):
        return None  # a negative count is not a bill we can read: unknown, charged as such
    cache_read = usage.cache_read_tokens or 0
    if price.rule == "anthropic":
        prompt_size = usage.input_tokens + cache_read + (usage.cache_write_tokens or 0)
        rate_in, rate_out, rate_cached = price.rates(prompt_size)
        dollars = (
            usage.input_tokens * rate_in
            + cache_read * rate_cached
            + (usage.cache_write_tokens or 0) * rate_in * ANTHROPIC_CACHE_WRITE_FACTOR
            + usage.output_tokens * rate_out
        )
        return float(dollars) / 1_000_000  # dspy's Usage fields are untyped to mypy
    rate_in, rate_out, rate_cached = price.rates(usage.input_tokens)
    cached = min(cache_read, usage.input_tokens)
    output = usage.output_tokens
    if price.rule == "gemini":
        output += usage.reasoning_tokens or 0
    dollars = (usage.input_tokens - cached) * rate_in + cached * rate_cached + output * rate_out
    return float(dollars) / 1_000_000


def prompt_tokens(usage: Usage | None, wire: str) -> int | None:
    """Every prompt token of a call, cached or not, so token counts compare across providers:
    Anthropic reports cache reads and writes apart from `input_tokens`, the others include them."""
    if usage is None or usage.input_tokens is None:
        return None
    if wire != "anthropic":
        return int(usage.input_tokens)
    return int(usage.input_tokens + (usage.cache_read_tokens or 0) + (usage.cache_write_tokens or 0))


def call_rates(price: Price | None, input_tokens: int) -> tuple[float, float] | None:
    """(USD for `input_tokens` all uncached, or written to Anthropic's cache; USD per
    output token) for one call: the most it can cost. None if unpriced."""
    if price is None:
        return None
    if price.free:
        return 0.0, 0.0
    rate_in, rate_out, _ = price.rates(input_tokens)
    if price.rule == "anthropic":
        rate_in *= ANTHROPIC_CACHE_WRITE_FACTOR
    return input_tokens * rate_in / 1_000_000, rate_out / 1_000_000


def worst_case_cost(price: Price | None, est_input_tokens: int, max_tokens: int) -> float | None:
    """The most one call can cost: every input token uncached (or written to
    Anthropic's cache) and every allowed output token produced. None if unpriced."""
    rates = call_rates(price, est_input_tokens)
    if rates is None:
        return None
    return rates[0] + rates[1] * max_tokens


UNPRICED = "unpriced"


def resolve_price(model: str, given: Price | Mapping[str, Any] | BaseModel | None = None) -> Price | None:
    """The price of a configured model, "provider/model" with the config's own `price` if it gives
    one (a `Price`, a dict or a `PriceConfig`): the one place a model's price is resolved. None when
    it is unpriced; ValueError (one sentence) when the id names no known provider."""
    from .providers.registry import split_model

    provider, name = split_model(model)
    if isinstance(given, BaseModel):
        given = given.model_dump()
    return price_for(provider, name, {f"{provider}/{name}": given} if given else None)


def model_prices(config: Mapping[str, object]) -> dict[str, Price | None]:
    """Each model of a session config as JSON (`models` holds ids or {id, price} tables) priced."""
    out: dict[str, Price | None] = {}
    models = config.get("models")
    for m in models if isinstance(models, list) else []:
        model_id = str(m["id"]) if isinstance(m, dict) else str(m)
        try:
            out[model_id] = resolve_price(model_id, m.get("price") if isinstance(m, dict) else None)
        except ValueError:  # an id no provider claims (an old session's config): unpriced
            out[model_id] = None
    return out


def price_label(price: Price | None) -> str:
    """ "list 2026-11", "litellm 1.x.y", "config", "local", "offline/simulated" or "unpriced"."""
    return price.label if price is not None else UNPRICED


FREE_KINDS = ("offline/simulated", "local")


def cost_words(amount: str, labels: Iterable[str]) -> str:
    """A session's cost as a user should read it, from its models' price labels: "no cost
    (offline/simulated models)" when nothing is priced, `amount` with "(unpriced models not
    counted)" when some are unpriced, else `amount`: never "$0.0000" for what is not billed."""
    kinds = set(labels)
    if kinds and kinds <= set(FREE_KINDS):
        return f"no cost ({', '.join(sorted(kinds))} models)"
    if UNPRICED in kinds:
        return f"{amount} (unpriced models not counted)" if kinds != {UNPRICED} else "unpriced"
    return amount


def unpriced_under_budget(label: str) -> str:
    """The sentence for a model without a price under a budget: refused when a session is set up,
    and the call path stops on it should a price go missing later."""
    return (
        f"dspy-tui knows no price for {label}, so a budget cannot be enforced for it; give its price "
        "in the config (under [[models]]: price = {input = ..., output = ...}, USD per 1M tokens) "
        "or run without a budget."
    )
