"""One model's stored results, typed: what `session_models` and its `results_json` hold, and every figure derived from it.

The engine writes `results_json` through `StoredResults` (an unknown key is refused,
so a new figure is declared here once); reports, exports, the history and live
screens read `ModelResult`. Derived figures (correct answers, cost per correct,
the latency to show) are computed here and nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

OFFLINE_PROVIDERS = ("offline",)  # the simulated model: its costs and latencies are not a provider's
UNPRICED = "unpriced"


class StoredResults(BaseModel):
    """The keys `results_json` may hold; the engine writes any subset, merged into what is stored."""

    model_config = ConfigDict(extra="forbid")

    round: int | None = None
    last_delta: float | None = None
    transfer: dict[str, Any] | None = None  # {source_model, before, after, kept}
    tokens_in: int | None = None
    tokens_out: int | None = None
    cache_hits: int | None = None
    errors: int | None = None  # failed calls (storage/call_outcomes.py)
    cancelled: int | None = None  # calls the user's stop cut off: not errors, a resume sends them again
    latency_p50_ms: float | None = None  # over all the model's calls
    latency_p95_ms: float | None = None
    benchmark_latency_p50_ms: float | None = None  # over the benchmark phase's calls
    benchmark_latency_p95_ms: float | None = None
    benchmark_cost_usd: float | None = None  # what answering the test split cost
    test_scores: list[float] | None = None
    test_ids: list[str] | None = None
    metrics: dict[str, Any] | None = None
    program_path: str | None = None
    errored_examples: dict[str, int] | None = None  # per phase: examples whose calls failed (not scored)
    unparsed: int | None = None  # answers no adapter could parse (scored wrong)
    outcomes: dict[str, Any] | None = None  # per phase: how each example ended
    degraded: str | None = None  # why too many examples errored for the score to stand (one sentence)
    queue_ms: float | None = None  # time the model's calls waited for a slot (not latency)
    throttled_share: float | None = None  # share of calls slowed by the provider's rate limits


def results_update(results: Mapping[str, Any]) -> dict[str, Any]:
    """The `results` given to SessionStore.update_model, checked against StoredResults (JSON-ready)."""
    unknown = sorted(set(results) - set(StoredResults.model_fields))
    if unknown:
        raise ValueError(
            f"results_json has no key {', '.join(unknown)}: declare it in storage/results.py (StoredResults)"
        )
    try:
        checked = StoredResults.model_validate(dict(results))
    except ValidationError as exc:
        raise ValueError(f"results_json cannot hold {dict(results)!r}: {exc.errors()[0]['msg']}") from None
    return checked.model_dump(mode="json", include=set(results))


class _Count:
    """A count `results_json` holds under the attribute's name, 0 when the engine never wrote it."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, result: ModelResult, owner: type | None = None) -> int:
        count: int | None = getattr(result.stored, self.name)
        return count or 0


@dataclass(frozen=True)
class ModelResult:
    """One model of one session, as stored: the final benchmark and what it took."""

    model: str
    provider: str
    status: str
    baseline: float | None
    best_dev: float | None
    test: float | None
    ci: tuple[float, float] | None
    cost_usd: float
    calls: int
    error: str | None
    phase: str | None = None
    stored: StoredResults = field(default_factory=StoredResults)
    price_label: str = ""  # "" when the reader did not price it (storage cannot: pricing is the engine's)

    @property
    def offline(self) -> bool:
        return self.provider in OFFLINE_PROVIDERS

    @property
    def priced(self) -> bool:
        return self.price_label != UNPRICED

    @property
    def test_scores(self) -> tuple[float, ...]:
        return tuple(self.stored.test_scores or ())

    @property
    def test_ids(self) -> tuple[str, ...]:
        return tuple(self.stored.test_ids or ())

    @property
    def transfer(self) -> dict[str, Any] | None:
        return self.stored.transfer

    tokens_in = _Count()
    tokens_out = _Count()
    cache_hits = _Count()
    errors = _Count()
    cancelled = _Count()

    @property
    def latency_p50_ms(self) -> float | None:
        """The benchmark phase's median latency; the whole session's for a model never benchmarked."""
        return self.stored.benchmark_latency_p50_ms or self.stored.latency_p50_ms

    @property
    def latency_p95_ms(self) -> float | None:
        return self.stored.benchmark_latency_p95_ms or self.stored.latency_p95_ms

    @property
    def correct(self) -> float:
        return sum(self.test_scores)

    @property
    def cost_per_correct(self) -> float | None:
        return cost_per_correct(self)

    @property
    def one_off_cost_usd(self) -> float | None:
        """What getting the program cost once (baseline, optimization, cross-model trials): the
        spend apart from the benchmark's. None unpriced, or when the benchmark cost was not recorded."""
        benchmark = self.stored.benchmark_cost_usd
        if not self.priced or benchmark is None:
            return None
        return max(0.0, self.cost_usd - benchmark)


def cost_per_correct(result: ModelResult) -> float | None:
    """USD per correct test answer: the benchmark's inference cost over the correct answers.

    The one-off optimization spend is not part of it (it is `cost_usd` minus this
    cost). Sessions stored before the benchmark cost was recorded divide the whole
    cost. None when nothing was correct or the model has no price.
    """
    correct = result.correct
    if not correct or not result.priced:
        return None
    cost = result.stored.benchmark_cost_usd
    return (result.cost_usd if cost is None else cost) / correct


def model_result(row: Mapping[str, Any], price_label: str = "") -> ModelResult:
    """A `session_models` row (with `results_json` as text, or already decoded as `results`)."""
    raw = row["results"] if "results" in row else json.loads(row.get("results_json") or "{}")
    known = {k: v for k, v in raw.items() if k in StoredResults.model_fields}  # an older writer's extras
    ci = (row["test_ci_low"], row["test_ci_high"]) if row["test_ci_low"] is not None else None
    return ModelResult(
        model=row["model"],
        provider=row["provider"],
        status=row["status"],
        baseline=row["baseline_score"],
        best_dev=row["best_dev_score"],
        test=row["test_score"],
        ci=ci,
        cost_usd=float(row["cost_usd"] or 0.0),
        calls=int(row["calls"] or 0),
        error=row["error"],
        phase=row.get("phase"),
        stored=StoredResults.model_validate(known),
        price_label=price_label,
    )
