"""The session config: a TOML file validated with pydantic.

An invalid file ends in one sentence that names the key and what is wrong
(`ConfigError`), never a pydantic dump or a traceback.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

OPTIMIZERS = ("bootstrap", "random_search", "mipro", "copro", "simba", "gepa", "labeled")
OPTIMIZER_SUMMARIES = {  # one line each, shown where an optimizer is chosen
    "bootstrap": "BootstrapFewShot: picks demos from the model's own correct answers on train",
    "random_search": "BootstrapFewShotWithRandomSearch: several demo sets, keeps the best on dev",
    "mipro": "MIPROv2: proposes instructions and demo sets, searches them with a Bayesian optimizer",
    "copro": "COPRO: rewrites the instruction round by round, keeps the best scoring one",
    "simba": "SIMBA: finds hard examples and adds rules or demos that fix them",
    "gepa": "GEPA: reflects on failures in text and evolves the instruction",
    "labeled": "LabeledFewShot: demos straight from labelled train examples, no model calls",
}


class ConfigError(ValueError):
    """A config the user wrote cannot be used; the message names the key."""


# Bounds on every number a user types: far beyond any real session, well inside what the
# budget's integer nano-dollars, SQLite's 64-bit integers and the OS timers can hold.
MAX_USD = 1_000_000.0
MAX_PRICE_PER_MTOK = 100_000.0
MAX_SECONDS = 86_400.0
MAX_SEED = 2**62  # seed + repeats stays inside SQLite's 64-bit integers
MAX_EXAMPLES = 10_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class PriceConfig(_Strict):
    input: float = Field(ge=0, le=MAX_PRICE_PER_MTOK, description="USD per 1M input tokens")
    output: float = Field(ge=0, le=MAX_PRICE_PER_MTOK, description="USD per 1M output tokens")
    cached_input: float | None = Field(
        default=None, ge=0, le=MAX_PRICE_PER_MTOK, description="USD per 1M cached input tokens"
    )


class LimitsConfig(_Strict):
    rpm: int | None = Field(default=None, gt=0, le=10**9)
    tpm: int | None = Field(default=None, gt=0, le=10**12)
    concurrency: int | None = Field(default=None, gt=0, le=256)


class LocalModelConfig(_Strict):
    """A `[local_models.NAME]` entry: the GGUF file `local/NAME` serves, and how."""

    path: str = Field(description="path to a .gguf file")
    n_ctx: int | None = Field(default=None, ge=256, le=131_072, description="context window in tokens")
    threads: int | None = Field(default=None, ge=1, le=512, description="CPU threads (default: one per core)")
    chat_format: str | None = Field(
        default=None, description="llama.cpp chat format (default: the GGUF's template)"
    )


class ModelConfig(_Strict):
    id: str = Field(description="provider/model, e.g. openai/gpt-4o")
    price: PriceConfig | None = None
    base_url: str | None = None
    limits: LimitsConfig | None = None
    budget_usd: float | None = Field(default=None, gt=0, le=MAX_USD)
    max_tokens: int = Field(default=1024, gt=0, le=200_000)
    temperature: float | None = Field(
        default=0.0,
        ge=0,
        le=2,
        description="sent on every call DSPy does not give its own; null: the provider's default",
    )

    @field_validator("id")
    @classmethod
    def _provider_slash_model(cls, v: str) -> str:
        head, sep, tail = v.partition("/")
        if not sep or not head or not tail:
            raise ValueError(f"{v!r} is not of the form provider/model (e.g. openai/gpt-4o, offline/base)")
        return v


ModuleKind = Literal["predict", "chain_of_thought"]


class SplitShares(_Strict):
    """How a single dataset file is cut into train/dev/test."""

    train: float = Field(default=0.5, gt=0, lt=1)
    dev: float = Field(default=0.25, gt=0, lt=1)
    test: float = Field(default=0.25, ge=0, lt=1)

    @model_validator(mode="after")
    def _add_up_to_one(self) -> SplitShares:
        if abs(self.train + self.dev + self.test - 1.0) > 1e-6:
            raise ValueError(
                f"train + dev + test must add up to 1, got {self.train + self.dev + self.test:g}"
            )
        return self


class JudgeSpec(_Strict):
    """The model an `llm_judge` metric asks, and what it asks it."""

    model: str
    rubric: str = "Is the response correct, relevant and coherent? Answer with a score from 0 to 1."


class TaskSpec(_Strict):
    """A task as the user describes it (the `task:` section of a session config)."""

    dataset: str | None = None  # "demo:NAME", or a .jsonl/.csv/.tsv/.json file split by `split`
    train_file: str | None = None  # or one file per split (then `dataset` only names the task)
    dev_file: str | None = None
    test_file: str | None = None
    signature: str | None = None  # "question -> answer", "pkg.mod:MySignature"; demo tasks bring their own
    instructions: str | None = None  # replaces the signature's instruction
    descriptions: dict[str, str] = Field(default_factory=dict)  # field -> description
    module: ModuleKind = "predict"
    fields: dict[str, str] = Field(default_factory=dict)  # column -> field
    split: SplitShares = Field(default_factory=SplitShares)
    max_train: int | None = Field(default=None, gt=0, le=MAX_EXAMPLES)  # cap each split after splitting
    max_dev: int | None = Field(default=None, gt=0, le=MAX_EXAMPLES)
    max_test: int | None = Field(default=None, gt=0, le=MAX_EXAMPLES)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    size: int | None = Field(default=None, gt=0, le=1_000_000)  # demo tasks: how many examples to generate
    metric: str | None = None  # exact_match, f1, ..., llm_judge, "pkg.mod:function"; default exact_match
    metric_options: dict[str, Any] = Field(default_factory=dict)
    judge: JudgeSpec | None = None  # given without `metric`, the metric is llm_judge
    # set by dspy-tui when a session starts: sha256 of each dataset file, so a resume can tell it changed
    file_hashes: dict[str, str] = Field(default_factory=dict)

    @field_validator("dataset", "train_file", "dev_file", "test_file")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        """Dataset paths are kept absolute, so a session resumes from any working directory."""
        if not value or value.startswith("demo:") or Path(value).is_absolute():
            return value
        return str(Path(value).expanduser().absolute())


class ConvergenceConfig(_Strict):
    patience: int = Field(default=2, ge=1, le=15)
    min_delta: float = Field(default=0.005, ge=0, le=1)
    target: float | None = Field(default=None, gt=0, le=1)


class TimeoutsConfig(_Strict):
    total_s: float = Field(default=120, gt=0, le=MAX_SECONDS)
    connect_s: float = Field(default=10, gt=0, le=MAX_SECONDS)


class SessionConfig(_Strict):
    name: str = "session"
    task: TaskSpec
    models: list[ModelConfig] = Field(min_length=1)
    optimizer: Literal["bootstrap", "random_search", "mipro", "copro", "simba", "gepa", "labeled"] = (
        "bootstrap"
    )
    optimizer_settings: dict[str, Any] = {}
    rounds: int = Field(default=5, ge=1, le=15)
    convergence: ConvergenceConfig = ConvergenceConfig()
    cross_model: bool = True
    budget_usd: float | None = Field(default=None, gt=0, le=MAX_USD)
    # hold back the estimated cost of the cross-model trials and the benchmark before optimizing
    budget_reserve: bool = True
    # a call the budget cannot pay in full may ask for fewer output tokens, but not fewer than this
    min_answer_tokens: int = Field(default=32, ge=1, le=100_000)
    concurrency: int = Field(default=8, ge=1, le=64)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    repeats: int = Field(
        default=1, ge=1, le=20
    )  # run the pipeline for seeds seed, seed+1, ... (engine/repeats.py)
    # or these seeds exactly
    seeds: list[Annotated[int, Field(ge=0, le=MAX_SEED)]] | None = Field(
        default=None, min_length=1, max_length=20
    )
    repeat_group: str | None = None  # set by dspy-tui: the seeds of one repeated run share it
    # set by dspy-tui: every seed of that run, so resuming one seed can go on with those never started
    repeat_seeds: list[Annotated[int, Field(ge=0, le=MAX_SEED)]] | None = None
    num_retries: int = Field(default=3, ge=0, le=10)
    # a model whose share of errored examples in a phase exceeds this is marked degraded
    degraded_threshold: float = Field(default=0.2, ge=0, lt=1)
    retry_after_cap_s: float = Field(
        default=120, gt=0, le=3600, description="a provider asking to wait longer fails the model"
    )
    base_urls: dict[str, str] = {}
    local_models: dict[str, LocalModelConfig] = {}
    timeouts: TimeoutsConfig = TimeoutsConfig()
    hooks: dict[str, str] = {}
    hook_timeout_s: float = Field(default=10, gt=0, le=MAX_SECONDS)
    # at exit, queued and running hooks get this long in total before they are killed (1 s when stopped)
    hook_grace_s: float = Field(default=10, ge=0, le=MAX_SECONDS)
    # a provider answer larger than this is stored as a marked head only (resume asks for it again)
    max_cached_body_bytes: int = Field(default=1_000_000, ge=1_000, le=1_000_000_000)

    @field_validator("models", mode="before")
    @classmethod
    def _strings_are_models(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"id": m} if isinstance(m, str) else m for m in v]
        return v

    @model_validator(mode="after")
    def _distinct_models(self) -> SessionConfig:
        ids = [m.id for m in self.models]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"models lists {', '.join(dupes)} more than once")
        return self

    @field_validator("hooks")
    @classmethod
    def _known_event_types(cls, v: dict[str, str]) -> dict[str, str]:
        from .events import EVENT_TYPES

        unknown = sorted(set(v) - set(EVENT_TYPES) - {"*"})
        if unknown:
            raise ValueError(f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}")
        return v

    def model_ids(self) -> list[str]:
        return [m.id for m in self.models]


# pydantic's error types, said in plain English; {name} is filled from the error's context
_PLAIN = {
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "greater_than": "must be more than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
    "too_short": "needs at least {min_length} item(s)",
    "too_long": "takes at most {max_length} item(s)",
    "string_too_short": "needs at least {min_length} character(s)",
    "string_too_long": "takes at most {max_length} character(s)",
    "extra_forbidden": "is not a known setting",
    "missing": "is required",
}


def _plain(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _explain(exc: ValidationError, source: str) -> str:
    """The first problem as one sentence a user reads: "`rounds` must be a whole number (got 'abc')"."""
    errors = exc.errors()
    err = errors[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] in _PLAIN:
        msg = _PLAIN[err["type"]].format(**{k: _plain(v) for k, v in (err.get("ctx") or {}).items()})
        got = err.get("input")
        if err["type"] not in ("missing", "extra_forbidden") and isinstance(got, str | int | float):
            msg += f" (got {got!r})"
    else:  # our own validators' sentences, and any type not listed above
        msg = err["msg"].removeprefix("Value error, ").removeprefix("Input ")
        msg = msg[:1].lower() + msg[1:]
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{source}: `{where}` {msg}{more}."


def parse_config(data: dict[str, Any], source: str = "config") -> SessionConfig:
    try:
        return SessionConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, source)) from None


def load_config(path: str | Path) -> SessionConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors write one) is not TOML
    except FileNotFoundError:
        raise ConfigError(f"Config file {path} does not exist.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Config file {path} is not UTF-8 text.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror or exc}.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
    task = data.get("task")
    if isinstance(task, dict):
        for key in ("metric", "signature"):
            if isinstance(task.get(key), str):
                task[key] = beside(task[key], path.parent)
    return parse_config(data, str(path))


def beside(spec: str, base: Path) -> str:
    """A `module:function` (or `file.py:function`) found next to the config file, as an absolute file path.

    So a config and the metric file beside it work from any directory, without PYTHONPATH;
    anything else (a built-in name, an installed module) is returned unchanged.
    """
    module, sep, attr = spec.rpartition(":")
    if not sep or not module or not attr:
        return spec
    relative = Path(module) if module.endswith(".py") else Path(*module.split(".")).with_suffix(".py")
    if relative.is_absolute() or not (base / relative).is_file():
        return spec
    return f"{(base / relative).resolve()}:{attr}"


def dump_config(config: SessionConfig) -> str:
    """TOML text for a config (the new-session screen saves with this)."""
    return _to_toml(config.model_dump(mode="json", exclude_none=True, exclude_defaults=False))


def _to_toml(data: dict[str, Any]) -> str:
    import json

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + "}"
        raise TypeError(type(v))

    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []
    for k, v in data.items():
        if isinstance(v, dict) and v:
            tables.append((k, v))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            arrays.append((k, v))
        elif v != {} and v != []:
            lines.append(f"{k} = {value(v)}")
    for name, table in tables:
        lines.append(f"\n[{name}]")
        for k, v in table.items():
            if v != {} and v != []:
                lines.append(f"{json.dumps(k) if not k.isidentifier() else k} = {value(v)}")
    for name, items in arrays:
        for item in items:
            lines.append(f"\n[[{name}]]")
            lines.extend(f"{k} = {value(v)}" for k, v in item.items())
    return "\n".join(lines) + "\n"
