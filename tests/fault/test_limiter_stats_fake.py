"""Per-provider throttling figures (`provider_stats` events) against the loopback fake provider:
what the events say matches what the fake counted, and they come at a bounded rate."""

from __future__ import annotations

import time

import pytest

from dspy_tui.engine import provider_stats
from dspy_tui.engine.events import EventBus, ProviderStats
from dspy_tui.engine.limits import LimitConfig
from dspy_tui.engine.provider_stats import StatsWatch
from dspy_tui.engine.runtime import Runtime

from fakes.lms import evaluate_echo, lm_with
from fakes.provider_server import FakeProvider
from reliability.support import session_in_home

MODEL = "openai/gpt-4o-mini"

pytestmark = pytest.mark.usefixtures("engine_runtime")

INTERVAL_S = 0.2


class Watched:
    """An LM with its limiter watched, every `ProviderStats` it published kept."""

    def __init__(self, provider_urls: dict[str, str], limits: LimitConfig | dict[str, object] | None) -> None:
        self.bus = EventBus("stats")
        self.samples: list[ProviderStats] = []
        self.bus.subscribe(lambda e: self.samples.append(e) if isinstance(e, ProviderStats) else None)
        self.lm = lm_with(MODEL, keys=lambda _: "k", base_urls=provider_urls, limits=limits)
        self.watch = StatsWatch(Runtime.get(), [self.lm.engine.link], self.bus, interval_s=INTERVAL_S)

    def __enter__(self) -> Watched:
        self.started = time.monotonic()
        self.watch.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.monotonic() - self.started
        self.watch.stop()


def test_a_low_rpm_limit_reads_as_the_requests_and_tokens_the_fake_counted(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    fake_provider.latency_s = 0.05
    # 60 RPM: a minute's worth (60) goes at once, then one a second; 66 calls take ~6 s
    with Watched(provider_urls, LimitConfig(rpm=60, concurrency=4)) as watched:
        evaluate_echo(watched.lm, 66, threads=8)
    *live, final = watched.samples
    assert final.final and live and not any(s.final for s in live)
    (status,) = final.limiters
    seen = len(fake_provider.received)  # all within the last minute
    billed = fake_provider.billed()
    assert seen == 66
    assert abs(status.rpm - seen) <= 0.1 * seen, (status.rpm, seen)
    assert abs(status.tpm - (billed["tokens_in"] + billed["tokens_out"])) <= 0.1 * status.tpm
    assert (status.rpm_limit, status.rpm_limit_from) == (60, "config")
    assert (status.limit, status.max_limit, status.in_flight) == (4, 4, 0)
    assert status.throttled_share is not None and status.throttled_share > 0.5 and status.throttled
    assert max(s.limiters[0].in_flight for s in live) <= 4
    assert any(s.limiters[0].queued > 0 for s in live)  # calls waited on the rate bucket
    # bounded: at most one event per interval (plus the final one), never one per call
    assert len(watched.samples) <= watched.elapsed / INTERVAL_S + 2 < 66


def test_a_429s_retry_after_reads_as_rate_limited_retrying_in_n_s(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    fake_provider.fail_next("429_retry_after", retry_after=2)
    with Watched(provider_urls, LimitConfig(concurrency=4, default_pause_s=0.05)) as watched:
        evaluate_echo(watched.lm, 3, threads=1)
    paused = [s.limiters[0] for s in watched.samples if s.limiters[0].paused_s >= 1]
    assert paused and paused[0].pause_text().startswith("rate-limited, retrying in ")
    final = watched.samples[-1].limiters[0]
    assert (final.rate_limited, final.retryable_failures, final.paused_s) == (1, 1, 0.0)
    assert final.rpm == len(fake_provider.received) == 4


def test_the_accounts_limit_learnt_from_its_headers_is_reported(
    fake_provider: FakeProvider, provider_urls: dict[str, str]
) -> None:
    fake_provider.window_limit = 1000  # x-ratelimit-limit-requests: 1000 (per 60 s)
    with Watched(provider_urls, None) as watched:
        evaluate_echo(watched.lm, 4, threads=2)
        time.sleep(2 * INTERVAL_S)
    status = watched.samples[-1].limiters[0]
    assert (status.rpm_limit, status.rpm_limit_from, status.rpm) == (1000, "headers", 4)


def test_a_quiet_limiter_publishes_nothing(provider_urls: dict[str, str]) -> None:
    with Watched(provider_urls, None) as watched:
        time.sleep(5 * INTERVAL_S)
    assert watched.samples == []


def test_a_session_publishes_samples_and_its_log_keeps_a_few_and_the_final_one(
    fake_provider: FakeProvider, provider_urls: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(provider_stats, "INTERVAL_S", INTERVAL_S)
    fake_provider.latency_s = 0.05
    config = {
        "name": "throttled",
        "optimizer": "labeled",
        "rounds": 1,
        "cross_model": False,
        "concurrency": 4,
        "task": {"dataset": "demo:sentiment", "max_train": 8, "max_dev": 20, "max_test": 20},
        "models": [{"id": MODEL, "limits": {"concurrency": 1}}],  # four threads through one slot
        "base_urls": {"openai": provider_urls["openai"]},
    }
    session = session_in_home(config, key="sk-fake")
    published: list[ProviderStats] = []
    session.bus.subscribe(lambda e: published.append(e) if isinstance(e, ProviderStats) else None)
    session.prepare()
    assert session.run() == "completed"
    stored = session.store.events(session.session_id)
    kept = [e for e in stored if e["type"] == "provider_stats"]
    assert len(published) >= 3 and 1 < len(kept) < len(published)  # 30 s apart, and the final one
    assert kept[-1]["final"] and published[-1].final
    assert [e["type"] for e in stored].index("session_completed") > stored.index(kept[-1])
    (status,) = published[-1].limiters
    assert status.rpm == len(fake_provider.received) and (status.limit, status.rpm_limit) == (1, None)
    assert status.throttled  # three of the four threads' calls wait for the one slot
