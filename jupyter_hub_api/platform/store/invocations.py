"""The ``invocations`` table (each call's record) and the hot path's batched write of it.

The gateway awaits :meth:`Invocations.add` before it answers. Calls queued together are written
by ``metering.write`` in one transaction: one multi-row INSERT per 48 rows (SQLite; PostgreSQL:
``executemany`` in the writer's pipeline) plus one counter update per (user, API, month/day/
bucket) key; on SQLite in the metering process (see ``metering.py`` and ``db.py``).
"""

from __future__ import annotations

import time

from ..db import Database
from ..models import Invocation, InvocationRow
from . import metering
from .histogram import bucket_of

CHUNK_ROWS = 2000


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


def _item(row: InvocationRow, capture_bytes: int, prune: int | None, touch: bool) -> tuple:
    """A call ready for the writer (``metering.py``'s item): the row's values and what it adds
    to the counters."""
    inp, inp_cut = _capture(row.input, capture_bytes)
    out, out_cut = _capture(row.output, capture_bytes)
    counted = 1 if row.counted else 0
    values = (
        row.id, row.user_id, row.api_id, row.api_name, row.version_id, row.key_id, row.ts,
        row.month, row.status, counted, row.latency_ms, inp, inp_cut, out, out_cut,
        row.error_type, row.error_message,
    )  # fmt: skip
    counts = (
        counted,
        1 if row.counted and row.status != 200 else 0,
        1 if row.status >= 500 and not row.counted else 0,
    )
    return (
        values,
        row.user_id,
        row.api_id,
        row.api_name,
        row.month,
        _day(row.ts),
        counts,
        bucket_of(row.latency_ms) if row.counted else None,
        (row.key_id, _stamp(row.ts)) if touch and row.key_id else None,
        prune,
    )


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
        await self.db.append(metering.write, _item(row, capture_bytes, prune_keep, touch_key))

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
