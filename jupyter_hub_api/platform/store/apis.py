"""The ``apis`` table, and the deletion of an API with everything that hangs off it."""

from __future__ import annotations

from ..db import Database
from ..models import ApiRecord
from . import invocations, logs, usage, versions


class Apis:
    def __init__(self, db: Database) -> None:
        self.db = db

    def all(self) -> list[ApiRecord]:
        """Every API, with its owner's name."""
        rows = self.db.query(
            "SELECT a.*, u.name AS user FROM apis a JOIN users u ON u.id = a.user_id"
        )
        return [ApiRecord.model_validate(dict(r)) for r in rows]

    def of_user(self, user_id: int) -> dict[int, ApiRecord]:
        """The user's APIs by id."""
        rows = self.db.query("SELECT * FROM apis WHERE user_id = ?", (user_id,))
        return {r["id"]: ApiRecord.model_validate(dict(r)) for r in rows}

    def get(self, api_id: int) -> ApiRecord | None:
        row = self.db.query_one("SELECT * FROM apis WHERE id = ?", (api_id,))
        return ApiRecord.model_validate(dict(row)) if row else None

    async def create(self, user_id: int, name: str, stamp: str) -> int:
        """A new API without a version; its id."""
        return await self.db.write(
            lambda c: c.execute(
                "INSERT INTO apis (user_id, name, created_at, updated_at) VALUES (?, ?, ?, ?)"
                " RETURNING id",
                (user_id, name, stamp, stamp),
            ).fetchone()[0]
        )

    async def set_live(self, api_id: int, version_id: int, stamp: str) -> None:
        await self.db.write(
            lambda c: c.execute(
                "UPDATE apis SET live_version_id = ?, updated_at = ? WHERE id = ?",
                (version_id, stamp, api_id),
            )
        )

    async def delete(self, api_id: int) -> list[str]:
        """Delete an API with its versions, history, logs and latencies (usage counts stay);
        return the build ids no other API uses.

        The history and logs go first, a chunk per transaction (the gateway's writes queued
        meanwhile wait for one chunk, not for the whole history); the API's row goes last, so
        its id (which SQLite may give to the next API) is never reused while rows still name it.
        """
        await self.db.write_chunks(lambda c: invocations.delete_chunk(c, api_id))
        await self.db.write_chunks(lambda c: logs.delete_chunk(c, api_id))

        def rest(c):
            while invocations.delete_chunk(c, api_id) or logs.delete_chunk(c, api_id):
                pass  # written after the chunks started (none once the API is unrouted)
            usage.delete_latencies(c, api_id)
            unused = versions.delete_of_api(c, api_id)
            c.execute("DELETE FROM apis WHERE id = ?", (api_id,))
            return unused

        return await self.db.write(rest)
