"""API keys: creation, verification on the hot path, and the owner's recoverable copy.

A key is ``hub_`` + 43 random URL-safe characters (256 bits). The database keeps, per key:

- ``hash``: sha256 of the key, used to verify a request. A fast hash is right here because the
  key is high-entropy random (nothing to brute-force), unlike a password.
- ``secret``: the key encrypted with Fernet under ``<platform dir>/secret.key`` (mode 0600), so
  the owner can reveal it again (the guide's dashboard does) while a copy of the database alone
  (a backup, a file attached to a bug report) gives away no key.
- ``prefix``: the first characters, shown in listings so a person can tell keys apart.

Verification hashes the presented key and looks it up in an in-memory table that is rebuilt
after every change of the keys, then compares digests with :func:`hmac.compare_digest`. A key is
never logged or put into an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

from .models import KeyEntry, KeyInfo
from .store.keys import Keys

KEY_PREFIX = "hub_"
SHOWN_CHARS = 8


def new_key() -> str:
    """A fresh random API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The sha256 hex digest the database keeps for ``key``."""
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def load_or_create_secret(path: Path) -> bytes:
    """The Fernet key of the key store, created (mode 0600) on first use."""
    if path.exists():
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    write_private(path, key)
    return key


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file readable only by its owner (0600 from the first byte)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class KeyRing:
    """The keys of every user: verification cache plus the encrypted copies."""

    def __init__(self, repo: Keys, secret_path: Path) -> None:
        self.repo = repo
        self._fernet = Fernet(load_or_create_secret(secret_path))
        self._by_hash: dict[str, KeyEntry] = {}
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the verification table from the database (after any change of a key)."""
        self._by_hash = {entry.hash: entry for entry in self.repo.entries()}

    def verify(self, presented: str) -> KeyEntry | None:
        """The entry of ``presented`` if it is a known key (enabled or not), else None."""
        digest = hash_key(presented)
        entry = self._by_hash.get(digest)
        if entry is None or not hmac.compare_digest(entry.hash, digest):
            return None
        return entry

    # -- control plane ------------------------------------------------------------------------
    async def create(self, user_id: int, name: str, now: str) -> tuple[KeyInfo, str]:
        """Create a key for ``user_id``; return its public record and the key itself."""
        key = new_key()
        key_id = "key_" + secrets.token_hex(6)
        await self.repo.add(
            {
                "id": key_id,
                "user_id": user_id,
                "name": name,
                "prefix": key[: len(KEY_PREFIX) + SHOWN_CHARS],
                "hash": hash_key(key),
                "secret": self._fernet.encrypt(key.encode()),
                "created_at": now,
            }
        )
        self.refresh()
        return self.get(user_id, key_id), key

    def list(self, user_id: int) -> list[KeyInfo]:
        """The user's keys, without their secret, oldest first."""
        return self.repo.of_user(user_id)

    def get(self, user_id: int, key_id: str) -> KeyInfo | None:
        """One of the user's keys (public fields), or None."""
        return self.repo.get(user_id, key_id)

    def reveal(self, user_id: int, key_id: str) -> str | None:
        """The full key, for its owner only, or None if the user has no such key."""
        secret = self.repo.secret(user_id, key_id)
        return self._fernet.decrypt(secret).decode() if secret is not None else None

    async def set_enabled(self, user_id: int, key_id: str, enabled: bool) -> bool:
        """Enable or disable a key; False if the user has no such key."""
        changed = await self.repo.set_enabled(user_id, key_id, enabled)
        self.refresh()
        return changed

    async def delete(self, user_id: int, key_id: str) -> bool:
        """Delete a key for good; False if the user has no such key."""
        changed = await self.repo.delete(user_id, key_id)
        self.refresh()
        return changed
