"""Remember the sha256 of files by their (size, mtime_ns, inode, ctime_ns) so unchanged files
are not re-hashed: a rebuild next to a multi-gigabyte model then reads none of it. (ctime too:
a writer can set the mtime back, not the ctime.)

The cache is a small JSON file in the project's ``.hub/`` folder. A file modified in the same
instant the cache was written could keep its stat triple while its content changed, so entries
for files modified within the last two seconds are not kept (they are hashed again next time),
the same precaution git takes with its index.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

RACY_NS = 2_000_000_000


class StatCache:
    """Maps an absolute file path to the sha256 it had with a given stat."""

    def __init__(self, file: Path) -> None:
        self.file = Path(file)
        try:
            self._entries: dict[str, list] = json.loads(self.file.read_text()).get("files", {})
        except (FileNotFoundError, ValueError, AttributeError):
            self._entries = {}
        self._seen: dict[str, list] = {}

    def lookup(self, path: Path, st: os.stat_result) -> str | None:
        """The sha of ``path`` if its stat matches what was recorded, else ``None``."""
        entry = self._entries.get(str(path))
        if entry and entry[:4] == _key(st) and len(entry) == 5:
            return entry[4]
        return None

    def record(self, path: Path, st: os.stat_result, sha: str) -> None:
        """Remember ``sha`` for ``path`` with its current stat."""
        self._seen[str(path)] = [*_key(st), sha]

    def save(self) -> None:
        """Write the entries recorded in this run (older ones are dropped), atomically."""
        now = time.time_ns()
        files = {p: e for p, e in self._seen.items() if now - e[1] > RACY_NS}
        tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}")
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"files": files}))
            os.replace(tmp, self.file)
        except OSError:
            # Only a cache: a read-only project builds anyway, it just hashes again next time.
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass


def _key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]
