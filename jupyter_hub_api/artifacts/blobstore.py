"""A content-addressed store: every file kept once, under the sha256 of its bytes.

Layout: ``<root>/sha256/ab/cdef...`` (the first two hex digits name a sub-folder, so no folder
grows to millions of entries). Files in the store are read-only: a version of an API hard-links
its model files to them, so nobody may change them in place.

Every write goes to a temporary file in the store's own ``tmp/`` folder (same file system), is
hashed while it is written, and is renamed into place only when the hash is the one expected. A
crash therefore never leaves a file under a name that does not match its content.

Read-only modes do not stop root, so a blob can still be changed in place (through a hard link
in a version's ``model/``). The store therefore records each blob's stat (size, mtime, ctime,
inode: ``<root>/stat/ab/cdef...``) when it writes or links it, and :meth:`BlobStore.intact`
re-hashes a blob whose stat no longer matches: a blob whose content no longer matches its name
is removed (``damaged``), so a build stores it again from the project instead of reusing it.
ctime cannot be set back by a writer, so an edit that restores the mtime is caught too.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from ..errors import WorkError

CHUNK = 1024 * 1024
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")

ProgressFn = Callable[[int], None]
"""Called with the number of bytes just read, so callers can draw progress."""


def hash_file(path: Path, progress: ProgressFn | None = None) -> tuple[str, int]:
    """Return ``(sha256_hex, size)`` of the file at ``path``, reading it once in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest(), size


class BlobStore:
    """The blob store rooted at ``root`` (normally ``paths.blobs_dir()``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- reading ------------------------------------------------------------------------------
    def path(self, sha: str) -> Path:
        """Where the blob ``sha`` lives (whether or not it is there yet). Treat it as read-only."""
        if not _SHA_RE.match(sha or ""):
            raise ValueError(f"not a sha256 hex digest: {sha!r}")
        return self.root / "sha256" / sha[:2] / sha[2:]

    def has(self, sha: str) -> bool:
        """Whether the store holds the blob ``sha`` (by name; :meth:`intact` checks content)."""
        return self.path(sha).is_file()

    def intact(self, sha: str, progress: ProgressFn | None = None) -> bool:
        """Whether the store holds ``sha`` with content that still matches its name.

        Costs a ``stat`` and a small read when the blob is as it was written; otherwise the
        blob is re-hashed, and one whose content changed is removed (the hard links of
        versions keep their own copy of the inode) and ``False`` returned.
        """
        path = self.path(sha)
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        if self._recorded(sha) == _stat_key(st):
            return True
        actual, _ = hash_file(path, progress)
        if actual == sha:
            self._record(sha, st)
            return True
        self.remove_damaged(sha)
        return False

    def refresh(self, sha: str) -> None:
        """Record the blob's current stat (after a hard link changed its ctime)."""
        try:
            self._record(sha, self.path(sha).stat())
        except FileNotFoundError:
            pass

    def remove_damaged(self, sha: str) -> None:
        """Take a blob whose content does not match its name out of the store."""
        self.path(sha).unlink(missing_ok=True)
        self._stat_path(sha).unlink(missing_ok=True)

    def shas(self) -> list[str]:
        """The digests of every blob in the store, sorted."""
        found = []
        for folder in sorted((self.root / "sha256").glob("??")):
            found += [folder.name + f.name for f in folder.iterdir() if f.is_file()]
        return sorted(sha for sha in found if _SHA_RE.match(sha))

    def missing(self, shas: Iterable[str]) -> list[str]:
        """The digests of ``shas`` the store does not hold, in order, without duplicates."""
        seen: set[str] = set()
        out = []
        for sha in shas:
            if sha not in seen:
                seen.add(sha)
                if not self.has(sha):
                    out.append(sha)
        return out

    def open(self, sha: str) -> BinaryIO:
        """Open the blob ``sha`` for reading (binary)."""
        try:
            return open(self.path(sha), "rb")
        except FileNotFoundError:
            raise WorkError(
                f"The blob store has no file {sha[:12]}…",
                type="missing_blob",
                hint="Run `hub build` again to store it.",
            ) from None

    # -- writing ------------------------------------------------------------------------------
    def put_file(
        self, path: Path, progress: ProgressFn | None = None, known_sha: str | None = None
    ) -> tuple[str, int, int]:
        """Store the file at ``path``; return ``(sha256_hex, size, bytes_written)``.

        The file is hashed first and copied only when the store lacks its content, so an
        unchanged file costs one read and no write (``bytes_written == 0``). When ``known_sha``
        is given (from a stat cache) and the store holds it, the file is not even read.
        """
        path = Path(path)
        if known_sha and self.intact(known_sha):
            return known_sha, path.stat().st_size, 0
        sha, size = hash_file(path, progress)
        if self.intact(sha):
            return sha, size, 0
        with open(path, "rb") as fh:
            written = self._write_stream(fh, expected=sha)
        return sha, size, written

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; return its sha256 hex digest."""
        sha = hashlib.sha256(data).hexdigest()
        if not self.has(sha):
            import io

            self._write_stream(io.BytesIO(data), expected=sha)
        return sha

    def put_stream(self, stream: BinaryIO, expected: str | None = None) -> tuple[str, int]:
        """Store what ``stream`` yields (e.g. an upload); return ``(sha, bytes_written)``.

        With ``expected``, the content must hash to it or nothing is kept (:class:`WorkError`).
        """
        tmp = self._tmp_file()
        digest = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "wb") as fh:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    fh.write(chunk)
                    size += len(chunk)
            sha = digest.hexdigest()
            if expected and sha != expected:
                raise WorkError(
                    f"Content does not match its digest {expected[:12]}… (got {sha[:12]}…).",
                    type="digest_mismatch",
                    hint="The file changed while it was being stored; run the command again.",
                )
            if self.intact(sha):
                return sha, 0
            self._commit(tmp, sha)
            return sha, size
        finally:
            tmp.unlink(missing_ok=True)

    def _write_stream(self, stream: BinaryIO, expected: str) -> int:
        sha, written = self.put_stream(stream, expected=expected)
        return written

    def _tmp_file(self) -> Path:
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="blob-")
        os.close(fd)
        return Path(name)

    def _commit(self, tmp: Path, sha: str) -> None:
        target = self.path(sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)  # blobs are shared (hard-linked into versions): never edit in place
        os.replace(tmp, target)
        self._record(sha, target.stat())

    # -- stat records -------------------------------------------------------------------------
    def _stat_path(self, sha: str) -> Path:
        return self.root / "stat" / sha[:2] / sha[2:]

    def _recorded(self, sha: str) -> str | None:
        try:
            return self._stat_path(sha).read_text()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _record(self, sha: str, st: os.stat_result) -> None:
        target = self._stat_path(sha)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}")
            tmp.write_text(_stat_key(st))
            os.replace(tmp, target)
        except OSError:
            pass  # only a shortcut: without it the blob is re-hashed when next checked


def _stat_key(st: os.stat_result) -> str:
    return f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}"
