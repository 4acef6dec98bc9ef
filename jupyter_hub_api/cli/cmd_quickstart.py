"""``hub quickstart``: write the quickstart notebook into a folder (the workspace by default)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError
from ..workspace import QUICKSTART_NAME, default_workspace, seed
from .common import json_option, make_output


@click.command(
    epilog="""\b
Examples:
  hub quickstart                 # into $HUB_WORKSPACE (default ~/hub-workspace)
  hub quickstart ~/projects"""
)
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@json_option
def quickstart(folder: Path | None, json_mode: bool) -> None:
    """Write the quickstart notebook (train a model, deploy it, call it) into FOLDER.

    An existing notebook of that name is kept as it is.
    """
    out = make_output(json_mode)
    folder = folder or default_workspace()
    try:
        written = seed(folder)
    except OSError as err:
        raise UsageError(
            f"Cannot write the quickstart notebook into {folder}: {err.strerror}. "
            "Choose a folder you can write to."
        ) from err
    path = folder / QUICKSTART_NAME
    if written is None:
        out.result(f"{path} is already there; kept it as it is.", path=str(path), written=False)
    else:
        out.result(
            f"Wrote {path}: open it in JupyterLab and run all cells.", path=str(path), written=True
        )
