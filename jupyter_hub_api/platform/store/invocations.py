"""The ``invocations`` table (each call's record) and the hot path's batched write of it.

The gateway awaits :meth:`Invocations.add` before it answers. Calls queued together are written
by one multi-row INSERT per 48 rows (SQLite; PostgreSQL: ``executemany`` in the writer's
pipeline) plus one counter update per (user, API, month/day/bucket) key, in the writer thread's
transaction (see ``db.py``).
"""

from __future__ import annotations

import time

from ..db import SQLITE, Database
from ..models import Invocation, InvocationRow
from . import keys, usage
from .histogram import bucket_of

CHUNK_ROWS = 2000

_COLUMNS = (
    "INSERT INTO invocations (id, user_id, api_id, api_name, version_id, key_id, ts, month,"
    " status, counted, latency_ms, input, input_truncated, output, output_truncated,"
    " error_type, error_message) VALUES "
)
_ROW = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
_INSERT = _COLUMNS + _ROW
# Rows per INSERT on SQLite: 48 x 17 parameters stay under the 999 of SQLite before 3.32.
ROWS_PER_INSERT = 48
_MULTI = [""] + [_COLUMNS + ",".join([_ROW] * n) for n in range(1, ROWS_PER_INSERT + 1)]
_PRUNE = (
    "DELETE FROM invocations WHERE api_id = ? AND ts < ("
    " SELECT ts FROM invocations WHERE api_id = ? ORDER BY ts DESC LIMIT 1 OFFSET ?)"
)


def _capture(data: bytes | None, limit: int) -> tuple[str | None, int]:
    if data is None:
        return None, 0
    if len(data) <= limit:
        return data.decode("utf-8", "replace"), 0
    return data[:limit].decode("utf-8", "ignore"), 1


def _stamp(ts: float, fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    return time.strftime(fmt, time.gmtime(ts))


_last_day: tuple[int | None, str] = (None, "")  # (UTC day number, its YYYY-MM-DD)


def _day(ts: float) -> str:
    """``YYYY-MM-DD`` (UTC) of ``ts``; the last day's text is kept (one strftime a day, not one
    per call: a UTC day is whole multiples of 86400 s of the epoch)."""
    global _last_day
    number = int(ts // 86400)
    last = _last_day
    if last[0] == number:
        return last[1]
    text = _stamp(ts, "%Y-%m-%d")
    _last_day = (number, text)
    return text


class _Pending:
    """A call ready for the writer: the row's values and what it adds to the counters."""

    __slots__ = (
        "values",
        "user_id",
        "api_id",
        "api_name",
        "month",
        "day",
        "counts",
        "bucket",
        "touch",
        "prune",
    )

    def __init__(self, row: InvocationRow, capture_bytes: int, prune: int | None, touch: bool):
        inp, inp_cut = _capture(row.input, capture_bytes)
        out, out_cut = _capture(row.output, capture_bytes)
        counted = 1 if row.counted else 0
        self.values = (
            row.id, row.user_id, row.api_id, row.api_name, row.version_id, row.key_id, row.ts,
            row.month, row.status, counted, row.latency_ms, inp, inp_cut, out, out_cut,
            row.error_type, row.error_message,
        )  # fmt: skip
        self.user_id = row.user_id
        self.api_id = row.api_id
        self.api_name = row.api_name
        self.month = row.month
        self.day = _day(row.ts)
        self.counts = (
            counted,
            1 if row.counted and row.status != 200 else 0,
            1 if row.status >= 500 and not row.counted else 0,
        )
        self.bucket = bucket_of(row.latency_ms) if row.counted else None
        self.touch = (row.key_id, _stamp(row.ts)) if touch and row.key_id else None
        self.prune = prune


def _insert(conn, items: list[_Pending]) -> None:
    """The rows of ``items``. On SQLite up to :data:`ROWS_PER_INSERT` rows per statement: the
    sqlite3 module releases the GIL around each step, and retaking it waits for the event
    loop's thread (up to the switch interval) while the gateway is busy; ``executemany``
    steps once per row, a multi-row INSERT once per chunk (a batch of 16 rows committed in
    half the time with a busy second thread). PostgreSQL's rows go in the writer's pipeline."""
    if conn.dialect != SQLITE:
        conn.executemany(_INSERT, [p.values for p in items])
        return
    for start in range(0, len(items), ROWS_PER_INSERT):
        chunk = items[start : start + ROWS_PER_INSERT]
        conn.execute(_MULTI[len(chunk)], [v for p in chunk for v in p.values])


def _write(conn, items: list[_Pending]) -> None:
    _insert(conn, items)
    monthly: dict[tuple, list[int]] = {}
    daily: dict[tuple, list[int]] = {}
    buckets: dict[tuple, int] = {}
    touched: dict[str, str] = {}
    prune: dict[int, int] = {}
    for p in items:
        for table, key in ((monthly, (p.user_id, p.month, p.api_name)),
                           (daily, (p.user_id, p.day, p.api_name))):  # fmt: skip
            sums = table.get(key)
            if sums is None:
                table[key] = list(p.counts)
            else:
                for i, n in enumerate(p.counts):
                    sums[i] += n
        if p.bucket is not None:
            key = (p.api_id, p.month, p.bucket)
            buckets[key] = buckets.get(key, 0) + 1
        if p.touch:
            touched[p.touch[0]] = p.touch[1]
        if p.prune is not None:
            prune[p.api_id] = p.prune
    usage.count(conn, monthly, daily, buckets)
    if touched:
        keys.touch(conn, touched)
    for api_id, keep in prune.items():
        conn.execute(_PRUNE, (api_id, api_id, keep))


class Invocations:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, row: InvocationRow, capture_bytes: int, prune_keep: int | None, touch_key: bool
    ) -> None:
        """Write one call with its counters; return once committed.

        ``capture_bytes`` cuts the kept input and output; ``prune_keep`` also drops all but
        the API's newest that many calls; ``touch_key`` sets the key's ``last_used_at``.
        """
        await self.db.append(_write, _Pending(row, capture_bytes, prune_keep, touch_key))

    def page(self, api_id: int, limit: int = 50, before: float | None = None) -> list[Invocation]:
        """The newest invocations of an API (before ``before`` when paging), newest first."""
        sql = (
            "SELECT id, ts, status, counted, latency_ms, version_id, key_id, input,"
            " input_truncated, output, output_truncated, error_type, error_message"
            " FROM invocations WHERE api_id = ?"
        )
        args: list = [api_id]
        if before is not None:
            sql += " AND ts < ?"
            args.append(before)
        sql += " ORDER BY ts DESC LIMIT ?"
        args.append(limit)
        out = []
        for r in self.db.query(sql, tuple(args)):
            item = dict(r)
            item["time"] = _stamp(item["ts"], "%Y-%m-%dT%H:%M:%S") + (
                f".{int((item['ts'] % 1) * 1000):03d}Z"
            )
            out.append(Invocation.model_validate(item))
        return out


def delete_chunk(conn, api_id: int) -> int:
    """Delete up to :data:`CHUNK_ROWS` calls of an API; how many went."""
    return conn.execute(
        "DELETE FROM invocations WHERE id IN (SELECT id FROM invocations WHERE api_id = ? LIMIT ?)",
        (api_id, CHUNK_ROWS),
    ).rowcount
