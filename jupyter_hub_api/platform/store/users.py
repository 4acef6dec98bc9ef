"""The ``users`` table: names and the digests of their control-plane tokens."""

from __future__ import annotations

from ..db import Database
from ..models import UserRecord


class Users:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _one(self, where: str, arg) -> UserRecord | None:
        row = self.db.query_one(f"SELECT * FROM users WHERE {where} = ?", (arg,))
        return UserRecord.model_validate(dict(row)) if row else None

    def all(self) -> list[UserRecord]:
        """Every user, by name."""
        rows = self.db.query("SELECT * FROM users ORDER BY name")
        return [UserRecord.model_validate(dict(r)) for r in rows]

    def by_id(self, user_id: int) -> UserRecord | None:
        return self._one("id", user_id)

    def by_name(self, name: str) -> UserRecord | None:
        return self._one("name", name)

    def by_token_hash(self, digest: str) -> UserRecord | None:
        return self._one("token_hash", digest)

    async def create(self, name: str, token_hash: str, created_at: str) -> int:
        """A new user; their id."""
        return await self.db.write(
            lambda c: c.execute(
                "INSERT INTO users (name, token_hash, created_at) VALUES (?, ?, ?) RETURNING id",
                (name, token_hash, created_at),
            ).fetchone()[0]
        )

    async def set_token_hash(self, user_id: int, token_hash: str) -> None:
        await self.db.write(
            lambda c: c.execute(
                "UPDATE users SET token_hash = ? WHERE id = ?", (token_hash, user_id)
            )
        )
