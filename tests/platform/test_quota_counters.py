"""The in-memory quota and rate-limit counters (the gateway tests exercise them end to end)."""

from __future__ import annotations

import time

from jupyter_hub_api.platform.quotas import (
    MonthlyQuota,
    RateLimiter,
    month_of,
    seconds_to_next_month,
)


def test_reservations_never_let_the_count_overshoot():
    quota = MonthlyQuota(lambda user, month: 998)
    assert quota.try_reserve(1, 1000, "2026-11")
    assert quota.try_reserve(1, 1000, "2026-11")
    assert not quota.try_reserve(1, 1000, "2026-11")  # two in flight fill the quota
    quota.release(1, "2026-11")  # one was not answered
    assert quota.try_reserve(1, 1000, "2026-11")
    quota.commit(1, "2026-11")
    quota.commit(1, "2026-11")
    assert quota.used(1, "2026-11") == 1000
    assert not quota.try_reserve(1, 1000, "2026-11")


def test_a_call_reserved_before_midnight_counts_in_its_own_month():
    stored = {"2026-11": 999, "2026-12": 0}
    quota = MonthlyQuota(lambda user, month: stored[month])
    assert quota.try_reserve(1, 1000, "2026-11")
    assert quota.try_reserve(1, 1000, "2026-12")  # the new month starts from zero
    quota.commit(1, "2026-11")
    assert quota.used(1, "2026-12") == 0
    assert quota.used(1, "2026-11") == 1000


def test_retry_after_points_at_the_first_of_next_month_utc():
    ts = time.mktime((2026, 12, 31, 23, 59, 0, 0, 0, 0)) - time.timezone
    assert month_of(ts) == "2026-12"
    assert 0 < seconds_to_next_month(ts) <= 61


def test_token_bucket_allows_the_burst_then_asks_to_wait():
    limiter = RateLimiter()
    assert [limiter.check("k", 1.0, 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.check("k", 1.0, 3)
    assert 0 < wait <= 1.0
    assert limiter.check("other", 1.0, 3) == 0.0  # per key
    assert limiter.check("k", 0, 3) == 0.0  # 0 = no limit
