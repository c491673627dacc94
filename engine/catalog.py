"""The models dspy-tui knows: every priced hosted model, the offline variants, local models and hosts.

A model not listed here still works (any `provider/model` the provider
accepts); it is just unpriced until the user gives its price.
"""

from __future__ import annotations

from typing import Any

from dspy_tui.storage import keys

from . import local_models as local
from .pricing import LITELLM_PREFIX, LOCAL_PROVIDERS, PRICES, litellm_label, resolve_price
from .providers.offline import VARIANTS
from .providers.offline.shapes import SHAPES
from .providers.registry import all_specs

# What every model on this machine says: a local server's or dspy-tui's own GGUF, free and keyless
LOCAL_ROW: dict[str, Any] = {
    "kind": "local",
    "priced": True,
    "price": "$0",
    "source": "local",
    "key": "not needed",
}


def known_models() -> list[dict[str, Any]]:
    """One row per known model: provider, kind (hosted/local/offline), its price (USD per 1M tokens
    in / out) and where the price comes from, key status."""
    rows: list[dict[str, Any]] = []
    statuses = {s.provider: s for s in keys.list_keys()}
    for name, variant in VARIANTS.items():
        rows.append(
            {
                "model": f"offline/{name}",
                "provider": "offline",
                "kind": "offline/simulated",
                "priced": True,
                "price": "$0",
                "source": "offline/simulated",
                "key": "not needed",
                "description": f"{variant.description} Simulated: {' and '.join(SHAPES)} tasks only.",
                "task_shapes": list(SHAPES),
            }
        )
    rows.extend(_local_rows())
    for spec in all_specs():
        if spec.offline or spec.managed:
            continue
        if spec.id in LOCAL_PROVIDERS:
            rows.append(
                {
                    "model": f"{spec.id}/<model>",
                    "provider": spec.id,
                    **LOCAL_ROW,
                    "description": f"{spec.label} at {spec.default_base_url}",
                }
            )
            continue
        status = statuses.get(spec.id)
        key = "not needed" if not spec.needs_key else (status.source if status else "missing")
        for model in PRICES.get(spec.id, {}):
            price = resolve_price(f"{spec.id}/{model}")
            assert price is not None  # the table's own model
            rows.append(
                {
                    "model": f"{spec.id}/{model}",
                    "provider": spec.id,
                    "kind": "hosted",
                    "priced": True,
                    "price": price.per_million(),
                    "source": price.label,
                    "key": key,
                    "description": spec.label,
                }
            )
        if spec.id in LITELLM_PREFIX:  # the fallback for the provider's models our table does not list
            rows.append(
                {
                    "model": f"{spec.id}/<other model>",
                    "provider": spec.id,
                    "kind": "hosted",
                    "priced": None,
                    "price": "if LiteLLM lists it",
                    "source": litellm_label(),
                    "key": key,
                    "description": f"{spec.label}: priced from LiteLLM's bundled list when it has the model",
                }
            )
        elif not PRICES.get(spec.id):
            rows.append(
                {
                    "model": f"{spec.id}/<model>",
                    "provider": spec.id,
                    "kind": "hosted",
                    "priced": False,
                    "price": "unpriced",
                    "source": "give it in the config",
                    "key": key,
                    "description": f"{spec.label}: give a price in the config",
                }
            )
    return rows


def _local_rows() -> list[dict[str, Any]]:
    """The GGUF models dspy-tui serves itself: real models on this CPU, $0, slower than offline."""
    installed = local.extra_installed()
    note = "" if installed else f" (needs {local.INSTALL_HINT})"
    common = {"provider": local.PROVIDER_ID, **LOCAL_ROW, "extra_installed": installed}
    return [
        {
            "model": f"local/{local.BUNDLED}",
            **common,
            "description": f"{local.LABEL}: SmolLM2-135M-Instruct, bundled, llama.cpp server started by dspy-tui; "
            f"real but slower{note}",
        },
        {
            "model": "local/<path/to/model.gguf>",
            **common,
            "description": f"{local.LABEL}: any GGUF file, or a [local_models] entry{note}",
        },
    ]
