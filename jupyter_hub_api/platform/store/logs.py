"""The ``logs`` table: what handlers printed, per API, in the order it was printed."""

from __future__ import annotations

from ..db import Database
from ..models import LogLine

CHUNK_ROWS = 2000


class Logs:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, lines: list[tuple], prune: set[int] | None, keep: int) -> None:
        """Insert ``(api_id, version_id, invocation_id, ts, stream, line)`` tuples; with
        ``prune``, keep only the newest ``keep`` lines of those APIs."""

        def write(conn):
            conn.executemany(
                "INSERT INTO logs (api_id, version_id, invocation_id, ts, stream, line)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                lines,
            )
            for api_id in prune or ():
                conn.execute(
                    "DELETE FROM logs WHERE api_id = ? AND id <= ("
                    " SELECT id FROM logs WHERE api_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (api_id, api_id, keep),
                )

        await self.db.write(write)

    def read(
        self, api_id: int, after: int = 0, limit: int = 500, invocation_id: str | None = None
    ) -> list[LogLine]:
        """Lines of an API with ``id > after``, oldest first (at most ``limit``)."""
        sql = (
            "SELECT id, version_id, invocation_id, ts, stream, line FROM logs"
            " WHERE api_id = ? AND id > ?"
        )
        args: list = [api_id, after]
        if invocation_id:
            sql += " AND invocation_id = ?"
            args.append(invocation_id)
        sql += " ORDER BY id LIMIT ?"
        args.append(limit)
        return [LogLine.model_validate(dict(r)) for r in self.db.query(sql, tuple(args))]

    def tail(self, api_id: int, lines: int) -> int:
        """The id after which the last ``lines`` lines of an API start."""
        row = self.db.query_one(
            "SELECT id FROM logs WHERE api_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
            (api_id, max(0, lines)),
        )
        return row["id"] if row else 0


def delete_chunk(conn, api_id: int) -> int:
    """Delete up to :data:`CHUNK_ROWS` lines of an API; how many went."""
    return conn.execute(
        "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE api_id = ? LIMIT ?)",
        (api_id, CHUNK_ROWS),
    ).rowcount
