"""Metering: the durable record of every invocation, monthly counters, and the usage reports.

An invocation is written with its monthly counter in one transaction (:func:`invocation_writer`),
so the counter and the history never disagree, and the gateway awaits that write before it
answers (see ``quotas.py`` for what counts). Counters live in ``usage_monthly`` keyed by user,
month and API *name*, so deleting and re-creating an API does not reset a month's count, and the
history can be pruned without touching the counts.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from .db import Database


@dataclass
class InvocationRow:
    """One invocation as the gateway saw it."""

    id: str
    user_id: int
    api_id: int
    api_name: str
    version_id: int | None
    key_id: str | None
    ts: float
    month: str
    status: int
    counted: bool
    latency_ms: float
    input: bytes
    output: bytes | None
    error_type: str | None = None
    error_message: str | None = None


def _capture(data: bytes | None, limit: int) -> tuple[str | None, int]:
    if data is None:
        return None, 0
    if len(data) <= limit:
        return data.decode("utf-8", "replace"), 0
    return data[:limit].decode("utf-8", "ignore"), 1


def invocation_writer(
    row: InvocationRow, capture_bytes: int, prune_keep: int | None, touch_key: bool = True
):
    """The write (for :meth:`Database.write`) of one invocation and its usage counter.

    ``touch_key`` also sets the key's ``last_used_at`` (the gateway does it at most once a
    minute per key: a statement less on nearly every request).
    """
    inp, inp_cut = _capture(row.input, capture_bytes)
    out, out_cut = _capture(row.output, capture_bytes)
    failed = 1 if row.status >= 500 and not row.counted else 0
    errored = 1 if row.counted and row.status != 200 else 0

    def write(conn):
        conn.execute(
            "INSERT INTO invocations (id, user_id, api_id, api_name, version_id, key_id, ts, month,"
            " status, counted, latency_ms, input, input_truncated, output, output_truncated,"
            " error_type, error_message) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                row.id,
                row.user_id,
                row.api_id,
                row.api_name,
                row.version_id,
                row.key_id,
                row.ts,
                row.month,
                row.status,
                1 if row.counted else 0,
                row.latency_ms,
                inp,
                inp_cut,
                out,
                out_cut,
                row.error_type,
                row.error_message,
            ),
        )
        conn.execute(
            "INSERT INTO usage_monthly (user_id, month, api_name, calls, errors, failures)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, month, api_name) DO UPDATE SET"
            " calls = calls + excluded.calls, errors = errors + excluded.errors,"
            " failures = failures + excluded.failures",
            (row.user_id, row.month, row.api_name, 1 if row.counted else 0, errored, failed),
        )
        if row.key_id and touch_key:
            conn.execute(
                "UPDATE keys SET last_used_at = ? WHERE id = ?",
                (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row.ts)), row.key_id),
            )
        if prune_keep is not None:
            conn.execute(
                "DELETE FROM invocations WHERE api_id = ? AND ts < ("
                " SELECT ts FROM invocations WHERE api_id = ? ORDER BY ts DESC LIMIT 1 OFFSET ?)",
                (row.api_id, row.api_id, prune_keep),
            )

    return write


def used_this_month(db: Database, user_id: int, month: str) -> int:
    """Calls counted for a user in a month (what the quota compares against)."""
    row = db.query_one(
        "SELECT COALESCE(SUM(calls), 0) AS n FROM usage_monthly WHERE user_id = ? AND month = ?",
        (user_id, month),
    )
    return int(row["n"]) if row else 0


def percentile(sorted_values: list[float], p: float) -> float | None:
    """The ``p``-th percentile (nearest rank) of already sorted values, or None if empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return round(sorted_values[rank - 1], 3)


def latency_summary(db: Database, api_id: int, month: str) -> dict:
    """p50/p95/p99 latency (ms) of an API's answered calls kept in this month's history."""
    rows = db.query(
        "SELECT latency_ms FROM invocations WHERE api_id = ? AND month = ? AND counted = 1"
        " ORDER BY latency_ms",
        (api_id, month),
    )
    values = [r["latency_ms"] for r in rows]
    return {
        "p50_ms": percentile(values, 50),
        "p95_ms": percentile(values, 95),
        "p99_ms": percentile(values, 99),
        "sampled": len(values),
    }


def usage_by_api(db: Database, user_id: int, month: str) -> dict[str, dict]:
    """``{api_name: {"calls", "errors", "failures"}}`` of a user in a month."""
    rows = db.query(
        "SELECT api_name, calls, errors, failures FROM usage_monthly"
        " WHERE user_id = ? AND month = ? ORDER BY api_name",
        (user_id, month),
    )
    return {
        r["api_name"]: {"calls": r["calls"], "errors": r["errors"], "failures": r["failures"]}
        for r in rows
    }


def list_invocations(
    db: Database, api_id: int, limit: int = 50, before: float | None = None
) -> list[dict]:
    """The newest invocations of an API (before ``before`` when paging), newest first."""
    sql = (
        "SELECT id, ts, status, counted, latency_ms, version_id, key_id, input, input_truncated,"
        " output, output_truncated, error_type, error_message FROM invocations WHERE api_id = ?"
    )
    args: list = [api_id]
    if before is not None:
        sql += " AND ts < ?"
        args.append(before)
    sql += " ORDER BY ts DESC LIMIT ?"
    args.append(limit)
    out = []
    for r in db.query(sql, tuple(args)):
        item = dict(r)
        item["counted"] = bool(item["counted"])
        item["input_truncated"] = bool(item["input_truncated"])
        item["output_truncated"] = bool(item["output_truncated"])
        item["time"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(item["ts"])) + (
            f".{int((item['ts'] % 1) * 1000):03d}Z"
        )
        out.append(item)
    return out
