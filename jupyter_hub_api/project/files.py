"""Walk the files of a folder: symlinks followed, loops refused, clutter skipped."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import UsageError

# Never part of a build: editor/Jupyter clutter and caches.
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git", ".hub", ".mypy_cache", ".pytest_cache"}
SKIP_FILES = {".DS_Store"}
SKIP_SUFFIXES = (".pyc", ".pyo")


def walk_files(root: Path, label: str | None = None) -> Iterator[tuple[str, Path]]:
    """Yield ``(relative_posix_path, path)`` for every file under ``root``, sorted.

    Symbolic links are followed (a model folder often links to weights elsewhere); a link that
    leads back into a folder being walked is a loop and raises :class:`UsageError`, as does a
    dangling link. ``label`` names ``root`` in messages (default: its path).
    """
    root = Path(root)
    label = label or str(root)
    yield from _walk(root, "", label, set())


def _walk(directory: Path, prefix: str, label: str, ancestors: set) -> Iterator[tuple[str, Path]]:
    st = directory.stat()
    ident = (st.st_dev, st.st_ino)
    if ident in ancestors:
        raise UsageError(
            f"{label}: the folder {prefix.rstrip('/') or '.'} links back to one of its own "
            "parent folders (a directory loop).",
            type="directory_loop",
            hint="Remove or replace that symbolic link, then try again.",
        )
    ancestors = ancestors | {ident}
    with os.scandir(directory) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        rel = prefix + entry.name
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
            is_file = entry.is_file(follow_symlinks=True)
        except OSError:
            is_dir = is_file = False
        if is_dir:
            if entry.name in SKIP_DIRS:
                continue
            yield from _walk(path, rel + "/", label, ancestors)
        elif is_file:
            if entry.name in SKIP_FILES or entry.name.endswith(SKIP_SUFFIXES):
                continue
            yield rel, path
        elif entry.is_symlink():
            if not os.path.exists(path):
                # exists() is False for a dangling link and for a self-referencing link (ELOOP)
                raise UsageError(
                    f"{label}: {rel} is a symbolic link that leads nowhere (dangling or a loop).",
                    type="broken_link",
                    hint="Remove that link or point it at a real file.",
                )
