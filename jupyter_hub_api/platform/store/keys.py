"""The ``keys`` table: API keys by digest, with their encrypted copy (see ``platform/keys.py``)."""

from __future__ import annotations

from ..db import Database
from ..models import KeyEntry, KeyInfo

_PUBLIC = "SELECT id, name, prefix, enabled, created_at, last_used_at FROM keys"


def _info(row) -> KeyInfo:
    return KeyInfo(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        masked=row["prefix"] + "…",
        enabled=bool(row["enabled"]),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
    )


class Keys:
    def __init__(self, db: Database) -> None:
        self.db = db

    def entries(self) -> list[KeyEntry]:
        """Every key, as the gateway's verification table needs it."""
        rows = self.db.query("SELECT id, user_id, hash, enabled FROM keys")
        return [KeyEntry.model_validate(dict(r)) for r in rows]

    def of_user(self, user_id: int) -> list[KeyInfo]:
        """The user's keys, oldest first."""
        rows = self.db.query(f"{_PUBLIC} WHERE user_id = ? ORDER BY created_at, rowid", (user_id,))
        return [_info(r) for r in rows]

    def get(self, user_id: int, key_id: str) -> KeyInfo | None:
        row = self.db.query_one(f"{_PUBLIC} WHERE user_id = ? AND id = ?", (user_id, key_id))
        return _info(row) if row else None

    def secret(self, user_id: int, key_id: str) -> bytes | None:
        """The encrypted copy of one of the user's keys."""
        row = self.db.query_one(
            "SELECT secret FROM keys WHERE user_id = ? AND id = ?", (user_id, key_id)
        )
        return row["secret"] if row else None

    async def add(self, row: dict) -> None:
        """Insert a key (``id, user_id, name, prefix, hash, secret, created_at``)."""
        await self.db.write(
            lambda c: c.execute(
                "INSERT INTO keys (id, user_id, name, prefix, hash, secret, enabled, created_at)"
                " VALUES (:id, :user_id, :name, :prefix, :hash, :secret, 1, :created_at)",
                row,
            )
        )

    async def set_enabled(self, user_id: int, key_id: str, enabled: bool) -> bool:
        """False if the user has no such key."""
        return bool(
            await self.db.write(
                lambda c: (
                    c.execute(
                        "UPDATE keys SET enabled = ? WHERE user_id = ? AND id = ?",
                        (1 if enabled else 0, user_id, key_id),
                    ).rowcount
                )
            )
        )

    async def delete(self, user_id: int, key_id: str) -> bool:
        """False if the user has no such key."""
        return bool(
            await self.db.write(
                lambda c: (
                    c.execute(
                        "DELETE FROM keys WHERE user_id = ? AND id = ?", (user_id, key_id)
                    ).rowcount
                )
            )
        )
