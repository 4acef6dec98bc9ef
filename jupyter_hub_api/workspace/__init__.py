"""The user's workspace: the folder JupyterLab opens on, and the quickstart notebook it starts with.

``scripts/run.sh`` opens JupyterLab on ``$HUB_WORKSPACE`` (default ``~/hub-workspace``), never on
the product's own source tree, and seeds it with :func:`seed`; ``hub quickstart`` does the same
for any folder. Seeding never overwrites: a notebook the user changed stays theirs.
"""

from __future__ import annotations

import os
from pathlib import Path

QUICKSTART = Path(__file__).with_name("quickstart.ipynb")
QUICKSTART_NAME = "Hub API Quickstart.ipynb"


def default_workspace() -> Path:
    """``$HUB_WORKSPACE``, or ``~/hub-workspace``."""
    value = os.environ.get("HUB_WORKSPACE")
    return Path(value).expanduser() if value else Path.home() / "hub-workspace"


def seed(folder: Path) -> Path | None:
    """Create ``folder`` if needed and write the quickstart notebook into it, unless a file of
    that name is already there. Returns the notebook written, or None if there was one."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / QUICKSTART_NAME
    try:
        with open(target, "xb") as f:  # "x": never replace the user's copy, even in a race
            f.write(QUICKSTART.read_bytes())
    except FileExistsError:
        return None
    return target
