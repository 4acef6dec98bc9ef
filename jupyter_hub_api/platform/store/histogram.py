"""Latency histograms with fixed buckets: percentiles in O(buckets), whatever the history.

Bucket ``b`` holds latencies in ``(BASE * R**(b-1), BASE * R**b]`` milliseconds with
``R = 2**(1/8)``: eight buckets per doubling, so a percentile read from the histogram (the upper
edge of the bucket that holds it) is at most 9 % above the exact one. Bucket 0 holds everything
up to ``BASE``; the last one everything above ``BASE * R**(COUNT-1)`` (about 17 minutes).
"""

from __future__ import annotations

import math

BASE_MS = 0.01
PER_DOUBLING = 8
COUNT = 8 * 27  # 0.01 ms * 2**27 ≈ 22 minutes


def bucket_of(latency_ms: float) -> int:
    """The bucket of one latency."""
    if latency_ms <= BASE_MS:
        return 0
    b = math.ceil(math.log2(latency_ms / BASE_MS) * PER_DOUBLING - 1e-9)
    return min(COUNT - 1, b)


def upper_edge(bucket: int) -> float:
    """The largest latency (ms) of a bucket, rounded to a microsecond."""
    return round(BASE_MS * 2 ** (bucket / PER_DOUBLING), 3)


def percentiles(counts: dict[int, int], ps: tuple[float, ...] = (50, 95, 99)) -> list[float | None]:
    """The nearest-rank ``ps`` percentiles of a histogram ``{bucket: count}`` (None if empty)."""
    total = sum(counts.values())
    if not total:
        return [None for _ in ps]
    ranks = [max(1, math.ceil(p / 100.0 * total)) for p in ps]
    out: list[float | None] = [None] * len(ps)
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        for i, rank in enumerate(ranks):
            if out[i] is None and seen >= rank:
                out[i] = upper_edge(bucket)
    return out
