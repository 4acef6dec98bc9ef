"""Find the project a command runs in: the folder that holds ``hub_config.json``."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from .config import CONFIG_FILE


def project_root(path: Path | str | None = None) -> Path:
    """The project folder ``path`` (default: the current folder), or a clear UsageError.

    Like the hosted guide's CLI, commands run *in* the project folder; we do not search the
    parents, so a command never acts on a project the user did not mean.
    """
    folder = Path(path or ".").resolve()
    if not folder.is_dir():
        raise UsageError(
            f"{folder} is not a folder.",
            type="not_a_project",
            hint="Give the path of a project folder, the one that holds hub_config.json.",
        )
    if not (folder / CONFIG_FILE).is_file():
        parent_hint = ""
        for parent in folder.parents:
            if (parent / CONFIG_FILE).is_file():
                parent_hint = f" (the project seems to be {parent})"
                break
        raise UsageError(
            f"{folder} is not a Hub API project: it has no {CONFIG_FILE}{parent_hint}.",
            type="not_a_project",
            hint="Run it in the folder that holds hub_config.json, e.g. `cd my-api && hub build`.",
        )
    return folder
