"""LM calls per second through `dspy.Predict`: our engine against DSPy's own.

Four clients answer the same N calls at the same concurrency from a local
fake OpenAI server running in its own process (so it never shares a loop or
a GIL with the client):

* ours      - `make_lm(...)`: the dspy-tui runtime (with a budget and an event bus, as in the app)
* lm15      - `dspy.LM(..., engine="lm15")`, DSPy's native engine
* litellm   - `dspy.LM(..., engine="litellm")`
* aiohttp   - raw `aiohttp` POSTs with `asyncio.gather`, no DSPy: the ceiling

DSPy paths run from a thread pool, like `dspy.Evaluate`; every cache is off
and every question is distinct. Clients take turns for `--rounds` rounds and
each reports its median, so a noisy neighbour on the machine hits all of
them alike. Run: `python benchmarks/engine_throughput.py [--calls 2000]
[--concurrency 32] [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault(
    "LITELLM_LOCAL_MODEL_COST_MAP", "True"
)  # LiteLLM must not fetch prices from the internet
os.environ.setdefault("LITELLM_TELEMETRY", "False")

import aiohttp  # noqa: E402
import dspy  # noqa: E402
from _fake_server import start_server  # benchmarks/ is on sys.path when a script runs

from dspy_tui.engine.budget import Budget  # noqa: E402
from dspy_tui.engine.call_context import CallContext, ModelOptions  # noqa: E402
from dspy_tui.engine.events import EventBus  # noqa: E402
from dspy_tui.engine.limits import LimitConfig  # noqa: E402
from dspy_tui.engine.lm import make_lm  # noqa: E402
from dspy_tui.engine.runtime import Runtime  # noqa: E402

MODEL = "gpt-4o-mini"


def run_predict(lm: dspy.LM, calls: int, concurrency: int, tag: str) -> float:
    """Calls per second of `dspy.Predict` on distinct questions from `concurrency` threads."""
    predict = dspy.Predict("question -> answer")
    predict.set_lm(lm)

    def one(i: int) -> str:
        return str(predict(question=f"{tag} question number {i}: what is {i} + {i}?").answer)

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(min(concurrency, 32))))  # warm up connections and imports
        started = time.perf_counter()
        answers = list(pool.map(one, range(calls)))
        elapsed = time.perf_counter() - started
    assert all(answers), "an empty answer means the fake server or a client misbehaved"
    return calls / elapsed


def run_raw(url: str, calls: int, concurrency: int) -> float:
    """Calls per second of bare aiohttp against the same endpoint and a similar body."""

    async def main() -> float:
        gate = asyncio.Semaphore(concurrency)
        headers = {"Authorization": "Bearer k", "Content-Type": "application/json"}
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(i: int) -> None:
                body = {
                    "model": MODEL,
                    "messages": [
                        {"role": "system", "content": "Your output fields are:\n1. `answer` (str):"},
                        {"role": "user", "content": f"[[ ## question ## ]]\nraw question {i}"},
                    ],
                    "max_tokens": 1024,
                }
                async with (
                    gate,
                    session.post(f"{url}/v1/chat/completions", data=json.dumps(body), headers=headers) as r,
                ):
                    payload = await r.json()
                    assert payload["choices"]

            await asyncio.gather(*(one(i) for i in range(min(concurrency, 32))))
            started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(calls)))
            return calls / (time.perf_counter() - started)

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-litellm", action="store_true", help="LiteLLM is slow; skip it for quick runs")
    args = parser.parse_args()

    process, url = start_server()
    try:
        bus = EventBus("bench")
        bus.subscribe(lambda event: None)
        ours = make_lm(
            f"openai/{MODEL}",
            keys=lambda _: "k",
            context=CallContext(
                session_id="bench",
                budget=Budget(limit_usd=1_000.0),
                bus=bus,
                base_urls={"openai": f"{url}/v1"},
            ),
            # as many in flight as the other clients get (the default cap is 16)
            options=ModelOptions(limits=LimitConfig(concurrency=max(64, args.concurrency)), temperature=None),
        )
        lm15 = dspy.LM(f"openai/{MODEL}", engine="lm15", api_base=f"{url}/v1", api_key="k", cache=False)
        peers: list[tuple[str, Callable[[], float]]] = [
            ("aiohttp (raw)", lambda: run_raw(url, args.calls, args.concurrency)),
            ("ours", lambda: run_predict(ours, args.calls, args.concurrency, "ours")),
            ("dspy lm15", lambda: run_predict(lm15, args.calls, args.concurrency, "lm15")),
        ]
        if not args.skip_litellm:
            litellm = dspy.LM(
                f"openai/{MODEL}", engine="litellm", api_base=f"{url}/v1", api_key="k", cache=False
            )
            peers.append(
                ("dspy litellm", lambda: run_predict(litellm, args.calls, args.concurrency, "litellm"))
            )
        samples: dict[str, list[float]] = {name: [] for name, _ in peers}
        for round_ in range(args.rounds):
            for name, run in peers:
                samples[name].append(run())
                print(f"round {round_ + 1}: {name:<14}{samples[name][-1]:>9.1f} calls/s", flush=True)
        rates = {name: statistics.median(values) for name, values in samples.items()}
    finally:
        Runtime.shutdown()
        process.terminate()
        process.wait(10)

    print(
        f"\n{args.calls} calls x {args.rounds} rounds, concurrency {args.concurrency}, "
        "fake OpenAI server in a separate process\n"
    )
    print(f"{'client':<16}{'median calls/s':>15}{'min':>9}{'max':>9}")
    for name, rate in rates.items():
        print(f"{name:<16}{rate:>15.1f}{min(samples[name]):>9.1f}{max(samples[name]):>9.1f}")
    print()
    print(f"ours / lm15    = {rates['ours'] / rates['dspy lm15']:.2f}x (medians)")
    if "dspy litellm" in rates:
        print(f"ours / litellm = {rates['ours'] / rates['dspy litellm']:.2f}x (medians)")
    print(f"ours / aiohttp = {rates['ours'] / rates['aiohttp (raw)']:.2f}x (share of the raw ceiling)")


if __name__ == "__main__":
    main()
