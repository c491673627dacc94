"""Events appended per second: batched (what dspy-tui does) vs one transaction per event.

Usage: python benchmarks/event_append.py [--events N] [--batch B]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dspy_tui.storage.sessions import SessionStore


def _store(tmp: Path, name: str) -> tuple[SessionStore, str]:
    store = SessionStore(tmp / f"{name}.db")
    sid = store.create_session(name=name, config={}, models=[("offline/base", "offline")])
    return store, sid


def _event(i: int) -> dict[str, object]:
    return {
        "type": "call_completed",
        "ts": time.time(),
        "model": "offline/base",
        "latency_ms": 12.5,
        "tokens_in": 120,
        "tokens_out": 14,
        "cost_usd": 0.0,
        "i": i,
    }


def run(events: int, batch: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store, sid = _store(Path(tmp), "batched")
        start = time.perf_counter()
        for lo in range(0, events, batch):
            store.append_events(sid, [_event(i) for i in range(lo, min(lo + batch, events))])
        batched = events / (time.perf_counter() - start)
        assert len(store.events(sid)) == events

        peer_n = min(events, 5_000)
        store, sid = _store(Path(tmp), "single")
        start = time.perf_counter()
        for i in range(peer_n):
            store.append_events(sid, [_event(i)])
        single = peer_n / (time.perf_counter() - start)
    return {"batched_eps": batched, "single_eps": single, "ratio": batched / single}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    r = run(args.events, args.batch)
    print(f"event_append: {args.events} events in batches of {args.batch}: {r['batched_eps']:,.0f} events/s")
    print(f"event_append: peer (one transaction per event): {r['single_eps']:,.0f} events/s")
    print(f"event_append: ratio batched/single = {r['ratio']:.1f}x (target: >= 50,000 events/s batched)")


if __name__ == "__main__":
    main()
