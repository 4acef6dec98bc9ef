"""The ``versions`` table: every build deployed to an API, with its state."""

from __future__ import annotations

import json

from ..db import Database
from ..models import VersionRecord


class Versions:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, version_id: int) -> VersionRecord | None:
        row = self.db.query_one("SELECT * FROM versions WHERE id = ?", (version_id,))
        return VersionRecord.model_validate(dict(row)) if row else None

    def of_api(self, api_id: int) -> list[VersionRecord]:
        """The versions of an API, newest first."""
        rows = self.db.query("SELECT * FROM versions WHERE api_id = ? ORDER BY seq DESC", (api_id,))
        return [VersionRecord.model_validate(dict(r)) for r in rows]

    def deployable(self, api_id: int) -> list[VersionRecord]:
        """The versions that loaded once (live or standby), the most recently deployed first."""
        rows = self.db.query(
            "SELECT * FROM versions WHERE api_id = ? AND status IN ('live', 'standby')"
            " ORDER BY deployed_at DESC, seq DESC",
            (api_id,),
        )
        return [VersionRecord.model_validate(dict(r)) for r in rows]

    def deployed_at(self, version_ids: list[int]) -> dict[int, str | None]:
        """When each of these versions was last made live."""
        if not version_ids:
            return {}
        marks = ",".join("?" * len(version_ids))
        rows = self.db.query(
            f"SELECT id, deployed_at FROM versions WHERE id IN ({marks})", tuple(version_ids)
        )
        return {r["id"]: r["deployed_at"] for r in rows}

    async def add(self, api_id: int, record: dict, vdir: str, python: str, created_at: str) -> int:
        """A new version (``starting``) numbered after the API's last; its id."""

        def insert(c):
            (seq,) = c.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM versions WHERE api_id = ?", (api_id,)
            ).fetchone()
            return c.execute(
                "INSERT INTO versions (api_id, seq, build_id, version, record, dir, python,"
                " status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'starting', ?) RETURNING id",
                (
                    api_id,
                    seq,
                    record["build_id"],
                    str(record["version"]),
                    json.dumps(record),
                    vdir,
                    python,
                    created_at,
                ),
            ).fetchone()[0]

        return await self.db.write(insert)

    async def set_failed(self, version_id: int, reason: str) -> None:
        await self.db.write(
            lambda c: c.execute(
                "UPDATE versions SET status = 'failed', error = ? WHERE id = ?",
                (reason, version_id),
            )
        )

    async def set_live(self, version_id: int, previous_id: int | None, stamp: str) -> None:
        """Mark a version live (and the one it replaces standby)."""

        def mark(c):
            if previous_id is not None:
                c.execute("UPDATE versions SET status = 'standby' WHERE id = ?", (previous_id,))
            c.execute(
                "UPDATE versions SET status = 'live', deployed_at = ?, error = NULL WHERE id = ?",
                (stamp, version_id),
            )

        await self.db.write(mark)

    async def set_python(self, version_id: int, python: str) -> None:
        await self.db.write(
            lambda c: c.execute("UPDATE versions SET python = ? WHERE id = ?", (python, version_id))
        )


def delete_of_api(conn, api_id: int) -> list[str]:
    """Delete an API's versions (inside its deletion); the build ids no other API uses."""
    builds = [
        r[0] for r in conn.execute("SELECT build_id FROM versions WHERE api_id = ?", (api_id,))
    ]
    conn.execute("DELETE FROM versions WHERE api_id = ?", (api_id,))
    still_used = {r[0] for r in conn.execute("SELECT DISTINCT build_id FROM versions")}
    return [b for b in builds if b not in still_used]
