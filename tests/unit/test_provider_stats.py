"""`provider_stats` events without a network: a provider's figures summed over its models, the
throttled share and pause sentence, and which samples the event log keeps."""

from __future__ import annotations

import asyncio
import time

from dspy_tui.engine.events import LimiterStatus, ProviderStats, parse_event
from dspy_tui.engine.limits import LimitConfig, Limiter, MinuteTally
from dspy_tui.engine.provider_stats import StoredSample


def _status(model: str, **figures: object) -> LimiterStatus:
    return LimiterStatus(model=model, provider=model.partition("/")[0], **figures)  # type: ignore[arg-type]


def test_a_provider_sums_its_models_and_counts_a_learnt_limit_once_per_account() -> None:
    headers = {"account": 1, "limit": 16, "rpm_limit": 500, "rpm_limit_from": "headers"}
    stats = ProviderStats(
        limiters=[
            _status("openai/a", **headers, in_flight=12, rpm=200, tpm=30_000, queued_s=6.0, served_s=2.0,
                    rate_limited=2),
            _status("openai/b", **headers, in_flight=3, rpm=110, tpm=18_000, queued_s=0.2, served_s=1.8,
                    paused_s=37, pause_reason="rate limited"),
            _status("anthropic/c", account=2, rpm=5, rpm_limit=20, rpm_limit_from="config"),
        ]
    )  # fmt: skip
    openai, anthropic = stats.by_provider().values()
    assert (openai.in_flight, openai.limit, openai.rpm, openai.tpm, openai.rate_limited) == (
        15,
        32,
        310,
        48_000,
        2,
    )
    assert (openai.rpm_limit, openai.rpm_limit_from) == (500, "headers")  # one account: its limit once
    assert openai.throttled_share == 0.62 and openai.throttled
    assert openai.pause_text() == "rate-limited, retrying in 37 s"
    assert (anthropic.rpm_limit, anthropic.throttled_share, anthropic.throttled) == (20, None, False)
    assert parse_event(stats.model_dump(mode="json")) == stats  # the --json line and the log read back


def test_a_limit_is_known_for_a_provider_only_when_every_model_has_one() -> None:
    stats = ProviderStats(
        limiters=[_status("groq/a", rpm_limit=30, rpm_limit_from="config"), _status("groq/b")]
    )
    assert stats.by_provider()["groq"].rpm_limit is None


def test_the_minute_tally_forgets_what_is_older_than_sixty_seconds() -> None:
    tally = MinuteTally()
    tally.sent(1000.2)
    tally.ended(1000.5, 40, 0.5, 0.3)
    tally.sent(1030.0)
    assert tally.totals(1059.9) == (2, 40, 0.5, 0.3)
    assert tally.totals(1061.0) == (1, 0, 0.0, 0.0)
    tally.sent(1090.0)  # the same slot as 1030 a minute on: reused, not added to
    assert tally.totals(1090.0)[0] == 1


def test_a_limiter_counts_429s_apart_from_other_retryable_failures() -> None:
    async def run() -> Limiter:
        limiter = Limiter(LimitConfig(concurrency=4))
        async with limiter.slot(10) as slot:
            assert (limiter.sending, limiter.queued) == (1, 0)
            slot.record_tokens(25)
        limiter.on_overload(3.0, None, "rate limited")
        limiter.on_overload(None, None, "timeouts")
        limiter.hold(0.5)
        return limiter

    limiter = asyncio.run(run())
    assert (limiter.rate_limited, limiter.retryable_failures, limiter.sending) == (1, 3, 0)
    assert limiter.pause_reason == "rate limited" and limiter.paused_for > 2
    assert limiter.minute.totals(time.monotonic())[:2] == (1, 25)


def test_the_event_log_keeps_one_sample_per_interval_and_the_final_one() -> None:
    kept = StoredSample(every_s=30)
    samples = [ProviderStats(ts=1000.0 + t) for t in range(100)] + [ProviderStats(ts=1100.0, final=True)]
    assert [s.ts - 1000 for s in samples if kept.keep(s)] == [0, 30, 60, 90, 100]
