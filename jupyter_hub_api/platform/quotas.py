"""Monthly call quotas (exact under concurrency) and per-key rate limits (token buckets).

What counts against the monthly quota: a POST that passed the key check, the rate limit and the
quota, and that the handler answered — it returned a value (200) or raised (500). Requests the
platform refused (4xx), and requests the handler never answered (502 the worker died, 504 the
timeout) are not counted. GETs (wake-ups) are not counted.

Exactness: before a request goes to the engine it takes a *reservation* (``used + reserved <
limit``, else 429). When the handler answered, the gateway writes the invocation and bumps the
durable counter in one transaction, and only then turns the reservation into a use; when it did
not, the reservation is released. So at any moment ``used + reserved`` bounds what can be
answered and the count never overshoots, however many requests race. All of this runs on the
event loop's thread, so the counters need no lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone


def month_of(ts: float | None = None) -> str:
    """The calendar month (UTC) of ``ts`` as ``YYYY-MM``."""
    return datetime.fromtimestamp(ts if ts is not None else time.time(), timezone.utc).strftime(
        "%Y-%m"
    )


def seconds_to_next_month(ts: float | None = None) -> int:
    """Seconds from ``ts`` to 00:00 UTC on the first day of the next month (for Retry-After)."""
    now = datetime.fromtimestamp(ts if ts is not None else time.time(), timezone.utc)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    start = datetime(year, month, 1, tzinfo=timezone.utc)
    return max(1, int((start - now).total_seconds()) + 1)


@dataclass
class _Counter:
    used: int
    reserved: int = 0


class MonthlyQuota:
    """Per-user counters by month; ``load_used(user_id, month)`` reads the database.

    Counters are kept per ``(user, month)``: a request reserved just before midnight at the end
    of a month is committed to that month, never to the next one.
    """

    def __init__(self, load_used) -> None:
        self._load_used = load_used
        self._counters: dict[tuple[int, str], _Counter] = {}

    def _counter(self, user_id: int, month: str) -> _Counter:
        counter = self._counters.get((user_id, month))
        if counter is None:
            counter = _Counter(self._load_used(user_id, month))
            self._counters[(user_id, month)] = counter
            # Forget finished months of this user (nothing can be in flight there for long).
            for key in [k for k in self._counters if k[0] == user_id and k[1] < month]:
                if self._counters[key].reserved == 0:
                    del self._counters[key]
        return counter

    def try_reserve(self, user_id: int, limit: int | None, month: str) -> bool:
        """Reserve one call of ``user_id`` in ``month``; False when the quota is used up."""
        counter = self._counter(user_id, month)
        if limit is not None and counter.used + counter.reserved >= limit:
            return False
        counter.reserved += 1
        return True

    def commit(self, user_id: int, month: str) -> None:
        """A reserved call was answered and written: count it."""
        counter = self._counter(user_id, month)
        counter.reserved = max(0, counter.reserved - 1)
        counter.used += 1

    def release(self, user_id: int, month: str) -> None:
        """A reserved call was not answered: give the reservation back."""
        counter = self._counter(user_id, month)
        counter.reserved = max(0, counter.reserved - 1)

    def used(self, user_id: int, month: str) -> int:
        """Calls counted for the user in ``month``."""
        return self._counter(user_id, month).used


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; one request takes one token."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.tokens = float(self.burst)
        self.stamp = time.monotonic()

    def take(self) -> float:
        """Take a token: 0.0 if allowed, else the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """One token bucket per API key; a rate of 0 means no limit."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def check(self, key_id: str, rate: float, burst: int) -> float:
        """0.0 if the key may call now, else the seconds to wait (for Retry-After)."""
        if rate <= 0:
            return 0.0
        bucket = self._buckets.get(key_id)
        if bucket is None or bucket.rate != rate or bucket.burst != max(1, burst):
            bucket = self._buckets[key_id] = TokenBucket(rate, burst)
        return bucket.take()

    def forget(self, key_id: str) -> None:
        """Drop the bucket of a deleted key."""
        self._buckets.pop(key_id, None)
