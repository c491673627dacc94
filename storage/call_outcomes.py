"""What one recorded LM call came to: the one definition every count of calls is made from.

A call is answered from the cache, refused by the budget (never sent), cancelled
by the user's stop (sent, but its answer was not waited for: a resume sends it
again), answered, or failed (a provider or wire error: these alone are a model's
`errors` and its `error_rate`). The engine and the TUI classify events with
`outcome`; the store's SQL counts rows with `OUTCOME_SQL`, the same rules.
"""

from __future__ import annotations

from typing import Literal

Outcome = Literal["cached", "refused", "cancelled", "ok", "failed"]
CANCELLED_KIND = "cancelled"  # `error_kind` of a call cut off by a stop (or the runtime shutting down)
REFUSED_KINDS = ("BudgetExhausted",)  # an older writer stored budget refusals as errors of this kind
SENT: tuple[Outcome, ...] = ("cancelled", "ok", "failed")  # what counts as a call sent


def outcome(status: str, error_kind: str | None, cache_hit: bool) -> Outcome:
    """What a call with these `calls` columns came to."""
    if cache_hit:
        return "cached"
    if status == "refused" or error_kind in REFUSED_KINDS:
        return "refused"
    if status == "ok":
        return "ok"
    return "cancelled" if error_kind == CANCELLED_KIND else "failed"


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


# `outcome` over a `calls` row, in SQL
OUTCOME_SQL = (
    "CASE WHEN cache_hit THEN 'cached'"
    f" WHEN status = 'refused' OR coalesce(error_kind, '') IN ({_quoted(REFUSED_KINDS)}) THEN 'refused'"
    " WHEN status = 'ok' THEN 'ok'"
    f" WHEN coalesce(error_kind, '') = '{CANCELLED_KIND}' THEN 'cancelled'"
    " ELSE 'failed' END"
)
CALLS_WITH_OUTCOME = f"(SELECT *, {OUTCOME_SQL} AS outcome FROM calls)"  # `calls`, each row's outcome added
SENT_SQL = f"outcome IN ({_quoted(SENT)})"  # over CALLS_WITH_OUTCOME
