"""Usage counters: per user, API and month (the quota's), per day, and latency histograms.

All three are bumped in the transaction that writes the invocations (``metering.py``), so
they never disagree with the history that was written, and a report reads a few rows per API
whatever the history's length. Counts are keyed by API *name* (deleting and re-creating an API
does not reset its month); latency histograms by API id (they go with the API).
"""

from __future__ import annotations

import calendar

from ..db import Database
from ..models import LatencySummary, UsageCounts
from .histogram import percentiles


def delete_latencies(conn, api_id: int) -> None:
    conn.execute("DELETE FROM latency_buckets WHERE api_id = ?", (api_id,))


class Usage:
    def __init__(self, db: Database) -> None:
        self.db = db

    def used(self, user_id: int, month: str) -> int:
        """Calls counted for a user in a month (what the quota compares against)."""
        row = self.db.query_one(
            "SELECT COALESCE(SUM(calls), 0) FROM usage_monthly WHERE user_id = ? AND month = ?",
            (user_id, month),
        )
        return int(row[0])

    def by_api(self, user_id: int, month: str) -> dict[str, UsageCounts]:
        """``{api name: counts}`` of a user in a month, by name."""
        rows = self.db.query(
            "SELECT api_name, calls, errors, failures FROM usage_monthly"
            " WHERE user_id = ? AND month = ? ORDER BY api_name",
            (user_id, month),
        )
        return {
            r["api_name"]: UsageCounts(calls=r["calls"], errors=r["errors"], failures=r["failures"])
            for r in rows
        }

    def calls_per_day(self, user_id: int, month: str) -> dict[str, list[int]]:
        """``{api name: [counted calls on day 1, day 2, …]}`` (every day of the month)."""
        year, mon = (int(part) for part in month.split("-"))
        days = calendar.monthrange(year, mon)[1]
        rows = self.db.query(
            "SELECT api_name, day, calls FROM usage_daily"
            " WHERE user_id = ? AND day >= ? AND day <= ?",
            (user_id, f"{month}-01", f"{month}-{days:02d}"),
        )
        out: dict[str, list[int]] = {}
        for r in rows:
            out.setdefault(r["api_name"], [0] * days)[int(r["day"][8:10]) - 1] = r["calls"]
        return out

    def latency(self, api_ids: list[int], month: str) -> dict[int, LatencySummary]:
        """p50/p95/p99 of the counted calls of each API in a month (from its histogram)."""
        if not api_ids:
            return {}
        marks = ",".join("?" * len(api_ids))
        rows = self.db.query(
            f"SELECT api_id, bucket, count FROM latency_buckets WHERE month = ?"
            f" AND api_id IN ({marks})",
            (month, *api_ids),
        )
        hists: dict[int, dict[int, int]] = {api_id: {} for api_id in api_ids}
        for r in rows:
            hists[r["api_id"]][r["bucket"]] = r["count"]
        out = {}
        for api_id, hist in hists.items():
            p50, p95, p99 = percentiles(hist)
            out[api_id] = LatencySummary(
                p50_ms=p50, p95_ms=p95, p99_ms=p99, sampled=sum(hist.values())
            )
        return out
