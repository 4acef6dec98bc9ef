"""Confinement: every path a client sends must resolve inside the server's root directory.

Paths are relative to the root, written with ``/`` (as the Jupyter contents API writes them).
They are resolved with :func:`os.path.realpath`, so a symlink that points out of the root is
refused like ``..`` is. A refused path is a 400 with a sentence that says why.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UsageError

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
    real_root = Path(os.path.realpath(root))
    candidate = Path(os.path.realpath(real_root / rel))
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
