"""Repeated runs: the same session over several seeds, summarised per model with honest uncertainty.

One seed on a small test split moves a score by more than the gaps users decide on, so
`repeats = N` (seeds seed..seed+N-1) or `seeds = [...]` / `--seeds 0,1,2` runs the whole pipeline
once per seed, each as its own session sharing one `repeat_group` (and the call cache where a
request is identical). Per model this reports:

* the mean test score over seeds, with a 95% CI from a two-level bootstrap: resample the seeds,
  then the test examples within each picked seed, so both sources of variance count;
* the spread of the dev improvement (best dev - baseline dev) over seeds: min, mean, max;
* ranking stability: the share of seeds in which the overall leader (highest mean) had the top
  test score.

Pairs of models are compared over (seed, example) pairs, the seeds treated as pairs.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from dspy_tui.storage.results import ModelResult
from dspy_tui.storage.session_record import StoredSession

from .config import SessionConfig
from .stats import paired_bootstrap

RESAMPLES = 2000


def seed_list(config: SessionConfig) -> list[int]:
    """The seeds a config asks for: `seeds`, else `repeats` seeds from `seed` on."""
    if config.seeds:
        return list(dict.fromkeys(config.seeds))
    return [config.seed + i for i in range(config.repeats)]


def seed_configs(config: SessionConfig) -> list[SessionConfig]:
    """One config per seed, all in one new repeat group; a single seed gives the config back as is."""
    seeds = seed_list(config)
    if len(seeds) == 1:
        return [config.model_copy(update={"seed": seeds[0], "seeds": None, "repeats": 1})]
    group = uuid.uuid4().hex[:12]
    return [
        config.model_copy(
            update={
                "seed": s,
                "seeds": None,
                "repeats": 1,
                "repeat_group": group,
                "repeat_seeds": seeds,
                "name": f"{config.name} [seed {s}]",
            }
        )
        for s in seeds
    ]


def unstarted_seed_configs(config: SessionConfig, started: set[int]) -> list[SessionConfig]:
    """The seeds of `config`'s repeated run that have no session yet, in the run's order, in its group
    (a run stopped, or the TUI running it quit, before them: a resume of one seed goes on with these)."""
    if config.repeat_group is None or not config.repeat_seeds:
        return []
    base = config.name.removesuffix(f" [seed {config.seed}]")
    return [
        config.model_copy(update={"seed": s, "name": f"{base} [seed {s}]"})
        for s in config.repeat_seeds
        if s not in started
    ]


def two_level_ci(per_seed: Sequence[Sequence[float]], *, seed: int = 0) -> tuple[float, float] | None:
    """95% bootstrap CI of the mean over seeds, resampling seeds and then examples within each."""
    groups = [list(g) for g in per_seed if g]
    if not groups:
        return None
    rng = random.Random(seed)
    means = []
    for _ in range(RESAMPLES):
        picked = rng.choices(groups, k=len(groups))
        means.append(math.fsum(math.fsum(rng.choices(g, k=len(g))) / len(g) for g in picked) / len(picked))
    means.sort()
    return means[int(0.025 * (RESAMPLES - 1))], means[int(math.ceil(0.975 * (RESAMPLES - 1)))]


def summarise(sessions: Sequence[StoredSession]) -> dict[str, Any]:
    """The repeated-run summary from stored sessions (`SessionStore.get_session`), one per seed."""
    seeds = [s.seed for s in sessions]
    by_model: dict[str, list[ModelResult]] = {}
    for s in sessions:
        for m in s.models:
            by_model.setdefault(m.model, []).append(m)
    models: list[dict[str, Any]] = []
    for model, runs in by_model.items():
        tested = [r for r in runs if r.test is not None]
        per_seed = [list(r.test_scores) for r in tested]
        gains = [r.best_dev - r.baseline for r in runs if r.best_dev is not None and r.baseline is not None]
        scores = [r.test for r in tested if r.test is not None]
        ci = two_level_ci(per_seed)
        models.append(
            {
                "model": model,
                "seeds_tested": len(tested),
                "test_mean": math.fsum(scores) / len(scores) if scores else None,
                "test_ci": list(ci) if ci else None,
                "test_by_seed": scores,
                "improvement": {"min": min(gains), "mean": math.fsum(gains) / len(gains), "max": max(gains)}
                if gains
                else None,
            }
        )
    models.sort(key=lambda m: -(m["test_mean"] if m["test_mean"] is not None else -1.0))
    leader = models[0]["model"] if models and models[0]["test_mean"] is not None else None
    leads = 0
    for s in sessions:
        scored = {m.model: m.test for m in s.models if m.test is not None}
        if leader in scored and scored[leader] >= max(scored.values()):
            leads += 1
    return {
        "seeds": seeds,
        "sessions": [s.id for s in sessions],
        "models": models,
        "leader": leader,
        "ranking_stability": leads / len(sessions) if sessions and leader else None,
        "pairwise": _pairs(models, sessions),
    }


def _pairs(models: Sequence[Mapping[str, Any]], sessions: Sequence[StoredSession]) -> list[dict[str, Any]]:
    """Each model against the leader over the (seed, example) pairs both were tested on."""
    if len(models) < 2:
        return []
    leader = models[0]["model"]
    out = []
    for other in models[1:]:
        a: list[float] = []
        b: list[float] = []
        for s in sessions:
            runs = {m.model: m for m in s.models}
            if leader not in runs or other["model"] not in runs:
                continue
            x = _scores_by_id(runs[leader])
            y = _scores_by_id(runs[other["model"]])
            for key in x.keys() & y.keys():
                a.append(x[key])
                b.append(y[key])
        if a:
            r = paired_bootstrap(a, b)
            out.append(
                {
                    "a": leader,
                    "b": other["model"],
                    "n": r.n,
                    "mean_diff": r.mean_diff,
                    "ci": list(r.ci),
                    "p_value": r.p_value,
                    "significant": r.significant,
                }
            )
    return out


def _scores_by_id(result: ModelResult) -> dict[str, float]:
    return dict(zip(result.test_ids, result.test_scores, strict=False))


def render_text(summary: Mapping[str, Any]) -> str:
    """The summary as the plain table the headless run prints."""
    seeds = ", ".join(str(s) for s in summary["seeds"])
    lines = [f"repeated over seeds {seeds} (sessions {', '.join(summary['sessions'])})"]
    for m in summary["models"]:
        mean = "-" if m["test_mean"] is None else f"{m['test_mean']:.3f}"
        ci = m["test_ci"]
        half = f" ± {(ci[1] - ci[0]) / 2:.3f} (95% CI {ci[0]:.3f}–{ci[1]:.3f})" if ci else ""
        gain = m["improvement"]
        spread = f"  dev gain {gain['mean']:+.3f} [{gain['min']:+.3f}, {gain['max']:+.3f}]" if gain else ""
        lines.append(f"  {m['model']:<28} test {mean}{half} over {m['seeds_tested']} seed(s){spread}")
    if summary["ranking_stability"] is not None:
        lines.append(f"  leader {summary['leader']} leads in {summary['ranking_stability']:.0%} of seeds")
    for p in summary["pairwise"]:
        verdict = "significant" if p["significant"] else "not significant"
        lines.append(
            f"  {p['a']} - {p['b']}: {p['mean_diff']:+.3f} over {p['n']} (seed, example) pairs, "
            f"95% CI {p['ci'][0]:+.3f} to {p['ci'][1]:+.3f}, {verdict}"
        )
    return "\n".join(lines)
