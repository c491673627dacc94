"""Fault soak: thousands of LM calls through the engine while the provider fails one request in five.

The calls run as `dspy.Evaluate` over a `make_lm` model that records into a real
session database (call cache + recorder), exactly as a session does. The fake
provider injects 429 (with and without Retry-After), 500/502/503, timeouts
(held past the client's short timeout), resets mid-body, malformed JSON and
answers without usage. DSPy retries what is retryable, up to `num_retries`.

Checked: the run completes; the tokens and cost recorded in `calls` equal what
the provider reported for the answers the client received; every attempt is
one row and no answer is counted twice; no request is tried more than
`num_retries + 1` times, and one that failed for good was either not
retryable or used every retry. Under load the client may give up on a request
still queued at the server, or read an answer or error too late: that attempt
is a client timeout charged at its reservation, which the server's books
(never seen, abandoned, lost) may or may not show; the checks count both ways.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import dspy
import pytest

from dspy_tui.engine.budget import Budget
from dspy_tui.engine.events import CallCompleted, Event, EventBus
from dspy_tui.engine.limits import LimitConfig
from dspy_tui.engine.pricing import cost_of, price_for
from dspy_tui.engine.recorder import Recorder
from dspy_tui.engine.runtime import Runtime
from dspy_tui.storage.cache import CallCache
from dspy_tui.storage.sessions import SessionStore

from fakes.lms import lm_with
from fakes.provider_server import FakeProvider, Fault, Received
from reliability.support import answer_id, cached_answer_ids

pytestmark = pytest.mark.usefixtures("engine_runtime")

MODEL = "openai/gpt-4o-mini"
NUM_RETRIES = 3
CLIENT_TIMEOUT_S = 1.0
FAULT_KINDS = ("429", "429_retry_after", "500", "502", "503", "timeout", "reset", "malformed", "no_usage")
NOT_RETRYABLE = {"provider"}  # a malformed 200 (not JSON): told to the caller, not asked again


@dataclass
class FaultyProvider(FakeProvider):
    """The fake provider with every fault kind of the soak, each with its own parameters."""

    def _next_fault(self) -> Fault | None:
        with self._lock:
            if not self.fault_rate or self._random.random() >= self.fault_rate:
                return None
            kind = self._random.choice(self.fault_kinds)
            retry_after = (
                round(self._random.uniform(0.01, 0.05), 3) if kind in ("429_retry_after", "503") else None
            )
            return Fault(kind, retry_after=retry_after, hold_s=CLIENT_TIMEOUT_S + 1.0)


def fault_soak(db: Path, calls: int, threads: int, seed: int) -> dict[str, object]:
    provider = FaultyProvider(fault_rate=0.2, fault_kinds=FAULT_KINDS, seed=seed).start()
    # No client-side rate limit, and a cap that recovers one step per success: a 429 in every
    # 16 requests would otherwise (rightly) hold a real account near one request at a time.
    Runtime.get().set_limits(
        "openai", LimitConfig(concurrency=threads, recover_after=1, default_pause_s=0.05)
    )
    quiet = logging.getLogger("dspy.utils.parallelizer")  # it logs one line per failed example
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    store = SessionStore(db)
    sid = store.create_session(name="fault soak", config={"soak": calls}, models=[(MODEL, "openai")])
    bus = EventBus(sid)
    seen: list[Event] = []
    bus.subscribe(seen.append)
    recorder = Recorder(store, sid, bus)
    budget = Budget(None)  # tracks every attempt's cost, caps nothing
    lm = lm_with(
        MODEL,
        keys=lambda _: "sk-fault-soak-000000",
        base_url=f"{provider.url}/v1",
        budget=budget,
        cache=CallCache(db),
        bus=bus,
        session_id=sid,
        timeout=CLIENT_TIMEOUT_S,
        num_retries=NUM_RETRIES,
    )
    program = dspy.Predict("question -> answer")
    program.set_lm(lm)
    devset = [
        dspy.Example(question=f"soak {seed} q{i}", answer=f"soak {seed} q{i}").with_inputs("question")
        for i in range(calls)
    ]
    started = time.monotonic()
    try:
        result = dspy.Evaluate(
            devset=devset,
            metric=lambda g, p, t=None: g.answer == p.get("answer"),
            num_threads=threads,
            display_progress=False,
            max_errors=calls + 1,
            provide_traceback=False,
        )(program)
        elapsed = time.monotonic() - started
        recorder.flush()
    finally:
        quiet.setLevel(level)
        recorder.close()
        provider.stop()
    assert len(result.results) == calls  # the run completed: every example has an outcome

    received_by_server: list[Received] = list(provider.received)
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM calls WHERE session_id = ?", (sid,))]
    cache_rows = conn.execute("SELECT count(*) FROM lm_cache").fetchone()[0]
    conn.close()
    stored_ids = cached_answer_ids(db)
    ok_rows = [r for r in rows if r["status"] == "ok"]

    # One row per attempt, one event per row; every ok row is one stored answer. The server saw each
    # attempt at most once: one the client gave up on while it still sat in the server's queue
    # (under load, or at the stop) is a row, charged at its reservation, that the server never saw.
    events = [e for e in seen if isinstance(e, CallCompleted)]
    timed_out = [r for r in rows if r["error_kind"] == "timeout"]
    assert len(rows) == len(events)
    unseen = len(rows) - len(received_by_server)
    assert 0 <= unseen <= len(timed_out)
    assert len({r["call_id"] for r in rows}) == len(rows), "a call was recorded twice"
    assert len({r["request_hash"] for r in ok_rows}) == len(ok_rows) == cache_rows, (
        "an answer was counted twice"
    )
    assert not any(r["cache_hit"] for r in rows)

    # recorded tokens and cost == what the provider reported for the answers the client received
    # (an answer, with usage or without, sent after the client gave up is lost: never stored)
    answered = [r for r in received_by_server if r.answered]
    real = [r for r in answered if r.fault is None]  # answers with usage
    received = [r for r in real if answer_id(r) in stored_ids]
    lost = [r for r in real if answer_id(r) not in stored_ids]
    no_usage = [r for r in answered if r.fault == "no_usage" and answer_id(r) in stored_ids]
    assert len(ok_rows) == len(received) + len(no_usage)
    recorded = (sum(r["tokens_in"] or 0 for r in rows), sum(r["tokens_out"] or 0 for r in rows))
    served = (sum(r.tokens_in or 0 for r in real), sum(r.tokens_out or 0 for r in real))
    never_received = (sum(r.tokens_in or 0 for r in lost), sum(r.tokens_out or 0 for r in lost))
    assert recorded == (served[0] - never_received[0], served[1] - never_received[1])
    assert sum(1 for r in ok_rows if r["tokens_in"] is None) == len(no_usage)
    price = price_for("openai", "gpt-4o-mini")
    billed = sum(
        cost_of(
            price, dspy.lm15.Usage(input_tokens=r.tokens_in, output_tokens=r.tokens_out, cache_read_tokens=0)
        )
        or 0.0
        for r in received
    )
    # measured bills are what the provider billed; a bill we cannot know is charged its whole
    # reservation and marked estimated (never NULL, or every resume would grant it again)
    measured = [r for r in rows if not r["cost_estimated"]]
    estimated = [r for r in rows if r["cost_estimated"]]
    assert sum(r["cost_usd"] or 0 for r in measured) == pytest.approx(billed, rel=1e-9, abs=1e-12)
    assert all(r["cost_usd"] is None for r in measured if r["status"] != "ok" or r["tokens_in"] is None)
    # sent but unreadable (timeout, reset, malformed, no usage, lost): held at the worst case, never
    # free; so is a request the client gave up on before the server answered it (abandoned at the
    # stop, never seen, or an error status read too late): those are client timeouts
    unknown = sum(1 for r in received_by_server if r.fault in ("timeout", "reset", "malformed", "no_usage"))
    abandoned = [r for r in received_by_server if r.fault is None and not r.answered]
    assert budget.unknown_costs == len(estimated)
    assert 0 <= budget.unknown_costs - (unknown + len(lost) + len(abandoned)) <= len(timed_out)
    assert all((r["cost_usd"] or 0) > 0 for r in estimated)
    assert sum(r["cost_usd"] or 0 for r in rows) == pytest.approx(budget.spent, rel=1e-9, abs=1e-12)
    assert budget.spent >= billed and budget.reserved == 0

    # retries within bounds, and a request that failed for good was not retryable or used every
    # retry: what the client did (the server may not have seen an attempt it gave up on)
    tries_of: dict[str, list[dict[str, object]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: int(str(r["call_id"]).lstrip("c"))):
        tries_of[str(row["request_hash"])].append(row)
    assert len(tries_of) == calls
    assert max(len(t) for t in tries_of.values()) <= NUM_RETRIES + 1
    failed_requests = [t for t in tries_of.values() if t[-1]["status"] != "ok"]
    for tries in tries_of.values():
        assert all(t["status"] != "ok" and t["error_kind"] not in NOT_RETRYABLE for t in tries[:-1]), [
            t["error_kind"] for t in tries
        ]
    for tries in failed_requests:
        assert tries[-1]["error_kind"] in NOT_RETRYABLE or len(tries) == NUM_RETRIES + 1, [
            t["error_kind"] for t in tries
        ]
    correct = sum(1 for _, _, score in result.results if score)
    assert correct == calls - len(failed_requests)

    attempts: dict[str, list[Received]] = defaultdict(list)
    for r in received_by_server:
        attempts[r.body_hash].append(r)
    assert max(len(a) for a in attempts.values()) <= NUM_RETRIES + 1

    def got(r: Received) -> bool:
        return r.answered and answer_id(r) in stored_ids

    faults = [r for r in received_by_server if r.fault is not None]
    survived = sum(1 for r in faults if any(got(x) for x in attempts[r.body_hash]))
    return {
        "calls": calls,
        "requests": len(received_by_server),
        "faults": len(faults),
        "by_kind": Counter(r.fault for r in faults),
        "survived": survived,
        "failed": len(failed_requests),
        "not_retryable": sum(1 for t in failed_requests if t[-1]["error_kind"] in NOT_RETRYABLE),
        "unseen": unseen,
        "lost": len(lost),
        "recorded": recorded,
        "served": served,
        "elapsed": elapsed,
    }


def _print(figures: dict[str, object]) -> None:
    rec_in, rec_out = figures["recorded"]  # type: ignore[misc]
    srv_in, srv_out = figures["served"]  # type: ignore[misc]
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(figures["by_kind"].items()))  # type: ignore[attr-defined]
    print(
        f"\nfault soak: calls {figures['calls']}, requests {figures['requests']}, faults injected "
        f"{figures['faults']} ({kinds}), faults survived {figures['survived']}, calls failed {figures['failed']} "
        f"({figures['not_retryable']} not retryable, the rest after {NUM_RETRIES} retries), answers lost to "
        f"client timeouts {figures['lost']}, attempts the server never saw {figures['unseen']}; recorded vs "
        f"served tokens in {rec_in}/{srv_in}, out "
        f"{rec_out}/{srv_out}; {figures['elapsed']:.1f} s"
    )


def test_a_thousand_calls_through_twenty_percent_faults_keep_the_books(tmp_path: Path) -> None:
    figures = fault_soak(
        tmp_path / "soak.db", calls=1000, threads=64, seed=int(os.environ.get("FAULT_SEED", "7"))
    )
    _print(figures)  # recorded == served minus answers lost to client timeouts: asserted inside
    assert Runtime.get().stats.in_flight == 0


@pytest.mark.soak
def test_ten_thousand_calls_through_twenty_percent_faults_keep_the_books(tmp_path: Path) -> None:
    figures = fault_soak(
        tmp_path / "soak.db", calls=10_000, threads=64, seed=int(os.environ.get("FAULT_SEED", "2024"))
    )
    _print(figures)
    assert Runtime.get().stats.in_flight == 0
