"""Confinement: every path a client sends must resolve inside the server's root directory.

Paths are relative to the root, written with ``/`` (as the Jupyter contents API writes them).
They are resolved with :func:`os.path.realpath`, so a symlink that points out of the root is
refused like ``..`` is. A refused path is a 400 with a sentence that says why.

A check is not enough for work that runs later (a model-file copy): a folder could be swapped
for a symlink between the check and the use. :func:`walk` opens a path checked by
:func:`resolve` one component at a time, each relative to its parent's descriptor and with
``O_NOFOLLOW``, so what is read or written is what was checked, or nothing.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path, PurePosixPath

from ..errors import HubError, UsageError

# What the kernel accepts: longer names and paths fail later, deep in a handler, with
# ENAMETOOLONG (os.pathconf would ask the file system; these are Linux's own limits).
_NAME_MAX = 255
_PATH_MAX = 4096

# Folders never worth walking into when looking for projects or listing files.
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", ".git", ".ipynb_checkpoints", ".venv"})


def resolve(root: str | os.PathLike, rel: str | None, *, what: str = "path") -> Path:
    """The real path of ``rel`` under ``root``; raise a 400 if it is absolute or leaves the root.

    ``what`` names the field in the message (``"project"``, ``"model file"``...).
    """
    rel = "" if rel is None else rel
    if not isinstance(rel, str):
        raise UsageError(
            f"The {what} must be a string path relative to the server root.", type="bad_path"
        )
    if "\x00" in rel:
        raise UsageError(f"The {what} contains a NUL character.", type="bad_path")
    if rel.startswith(("/", "\\")) or os.path.isabs(rel) or (len(rel) > 1 and rel[1] == ":"):
        raise UsageError(
            f"The {what} '{rel}' is absolute; give a path relative to the Jupyter server's root.",
            type="path_outside_root",
        )
    too_long = next((p for p in PurePosixPath(rel).parts if len(os.fsencode(p)) > _NAME_MAX), None)
    if too_long is not None:
        raise UsageError(
            f"The {what} has a name of {len(os.fsencode(too_long))} bytes ('{too_long[:40]}…'); "
            f"a file or folder name can have at most {_NAME_MAX}.",
            type="bad_path",
        )
    real_root = Path(os.path.realpath(root))
    candidate = Path(os.path.realpath(real_root / rel))
    if len(os.fsencode(candidate)) >= _PATH_MAX:
        raise UsageError(
            f"The {what} is {len(os.fsencode(candidate))} bytes long once resolved; paths on "
            f"this system can have at most {_PATH_MAX - 1}.",
            type="bad_path",
        )
    if candidate != real_root and real_root not in candidate.parents:
        raise UsageError(
            f"The {what} '{rel}' points outside the Jupyter server's root directory; "
            "use a path inside it.",
            type="path_outside_root",
        )
    return candidate


def relative(root: str | os.PathLike, path: Path) -> str:
    """``path`` (already resolved inside ``root``) as the API writes it: relative, with ``/``."""
    rel = path.relative_to(os.path.realpath(root)).as_posix()
    return "" if rel == "." else rel


def is_hidden(name: str) -> bool:
    """Dot-files and folders, which the wizard does not show."""
    return name.startswith(".")


_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def open_root(root: str | os.PathLike) -> int:
    """A descriptor of the server's root folder (the one place a symlink is followed: the
    root is the server's configuration, not a client's path)."""
    return os.open(os.path.realpath(root), _FOLDER_FLAGS)


def walk(start_fd: int, rel: str, *, create: bool = False, named: str | None = None) -> int:
    """A new descriptor of folder ``rel`` under the folder ``start_fd`` (which stays open).

    ``rel`` is relative, with ``/``, as :func:`relative` writes it. No symlink is followed, not
    even one that stays inside the root (:func:`resolve` has already replaced those by their
    real path); ``create`` makes missing folders. A component that is now a symlink or not a
    folder is a 409 ``path_changed`` naming ``named`` (default ``rel``).
    """
    fd = os.dup(start_fd)
    try:
        for part in _parts(rel):
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, dir_fd=fd)
            child = open_at(fd, part, _FOLDER_FLAGS, rel=named or rel)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_at(dir_fd: int, name: str, flags: int, mode: int = 0o644, *, rel: str) -> int:
    """``os.open(name, flags | O_NOFOLLOW, dir_fd=dir_fd)``, a symlink being a 409 that names
    ``rel`` (the whole path, for the message)."""
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise path_changed(rel) from None
        raise


def path_changed(rel: str) -> HubError:
    """The error for a path that is no longer what was checked (a symlink or a file now)."""
    return HubError(
        f"'{rel}' changed after it was checked (part of it is now a symbolic link or not a "
        "folder), so nothing was read or written through it; check the folder and try again.",
        type="path_changed",
        status=409,
    )


def _parts(rel: str) -> list[str]:
    parts = [p for p in PurePosixPath(rel).parts if p not in ("", ".")]
    if any(p in ("..", "/") for p in parts):
        raise UsageError(f"'{rel}' is not a path inside the root.", type="path_outside_root")
    return parts
