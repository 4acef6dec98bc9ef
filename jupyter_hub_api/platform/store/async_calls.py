"""The ``async_invocations`` table: asynchronous calls (``Prefer: respond-async``), their state
and, once done, the envelope a synchronous call would have answered.

One row per asynchronous call, written before its 202 is sent (so an accepted call is never
lost), moved ``queued`` → ``running`` → ``succeeded`` | ``failed`` by
``platform/async_invocations.py``. The metering row of the call is the ordinary ``invocations``
row with the same id (written once, by the gateway's ``_record``); this table keeps what the
caller fetches later. Times are REAL epoch seconds; the envelope is the JSON bytes (BLOB).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..db import Database

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
DONE = (SUCCEEDED, FAILED)

_COLUMNS = (
    "id, user_id, api_id, api_name, key_id, month, state, input, callback_url, callback_ip,"
    " version_id, created_at, started_at, finished_at, http_status, envelope,"
    " callback_state, callback_attempts"
)


@dataclass
class AsyncCall:
    id: str
    user_id: int
    api_id: int
    api_name: str
    key_id: str | None
    month: str
    state: str
    input: bytes
    callback_url: str | None
    callback_ip: str | None
    version_id: int | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    http_status: int | None
    envelope: bytes | None
    callback_state: str | None
    callback_attempts: int

    @classmethod
    def of(cls, row) -> AsyncCall:
        values = dict(row)
        for name in ("input", "envelope"):
            if values[name] is not None:
                values[name] = bytes(values[name])  # memoryview on PostgreSQL
        return cls(**values)


class AsyncCalls:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, call: AsyncCall) -> None:
        """Write a new (queued) call; return once committed."""
        values = (
            call.id, call.user_id, call.api_id, call.api_name, call.key_id, call.month,
            call.state, call.input, call.callback_url, call.callback_ip, call.version_id,
            call.created_at, call.started_at, call.finished_at, call.http_status,
            call.envelope, call.callback_state, call.callback_attempts,
        )  # fmt: skip
        sql = f"INSERT INTO async_invocations ({_COLUMNS}) VALUES ({','.join('?' * len(values))})"
        await self.db.write(lambda conn: conn.execute(sql, values))

    def get(self, call_id: str) -> AsyncCall | None:
        row = self.db.query_one(
            f"SELECT {_COLUMNS} FROM async_invocations WHERE id = ?", (call_id,)
        )
        return AsyncCall.of(row) if row is not None else None

    def unfinished(self) -> list[AsyncCall]:
        """Calls queued or running, oldest first (what a start finds left by the last run)."""
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM async_invocations WHERE state = ? OR state = ?"
            " ORDER BY created_at, id",
            (QUEUED, RUNNING),
        )
        return [AsyncCall.of(r) for r in rows]

    def undelivered(self) -> list[AsyncCall]:
        """Finished calls whose callback is still to be sent."""
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM async_invocations WHERE callback_state = ?"
            " ORDER BY created_at, id",
            ("pending",),
        )
        return [AsyncCall.of(r) for r in rows]

    def of_api(self, api_id: int, limit: int = 50) -> list[AsyncCall]:
        """An API's newest asynchronous calls, newest first."""
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM async_invocations WHERE api_id = ?"
            " ORDER BY created_at DESC, id DESC LIMIT ?",
            (api_id, limit),
        )
        return [AsyncCall.of(r) for r in rows]

    def metered(self, call_id: str):
        """The ``invocations`` row the call was metered with (status, output,
        output_truncated, error_type, error_message), or None when it was not."""
        return self.db.query_one(
            "SELECT status, output, output_truncated, error_type, error_message"
            " FROM invocations WHERE id = ?",
            (call_id,),
        )

    async def started(self, call_id: str, ts: float, version_id: int) -> None:
        await self.db.write(
            lambda conn: conn.execute(
                "UPDATE async_invocations SET state = ?, started_at = ?, version_id = ?"
                " WHERE id = ?",
                (RUNNING, ts, version_id, call_id),
            )
        )

    async def finished(
        self, call_id: str, state: str, ts: float, http_status: int, envelope: bytes,
        callback: bool,
    ) -> None:  # fmt: skip
        """Record the outcome (and whether a callback is now due); the input is dropped."""
        await self.db.write(
            lambda conn: conn.execute(
                "UPDATE async_invocations SET state = ?, finished_at = ?, http_status = ?,"
                " envelope = ?, input = ?, callback_state = ? WHERE id = ?",
                (state, ts, http_status, envelope, b"", "pending" if callback else None, call_id),
            )
        )

    async def callback_done(self, call_id: str, state: str, attempts: int) -> None:
        await self.db.write(
            lambda conn: conn.execute(
                "UPDATE async_invocations SET callback_state = ?, callback_attempts = ?"
                " WHERE id = ?",
                (state, attempts, call_id),
            )
        )

    async def prune(self, finished_before: float) -> int:
        """Delete calls finished before ``finished_before`` (the retention); how many went."""

        def chunk(conn) -> int:
            return conn.execute(
                "DELETE FROM async_invocations WHERE id IN (SELECT id FROM async_invocations"
                " WHERE finished_at IS NOT NULL AND finished_at < ? LIMIT ?)",
                (finished_before, 2000),
            ).rowcount

        return await self.db.write_chunks(chunk)

    async def delete_api(self, api_id: int) -> None:
        await self.db.write(
            lambda conn: conn.execute("DELETE FROM async_invocations WHERE api_id = ?", (api_id,))
        )
