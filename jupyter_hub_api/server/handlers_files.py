"""``GET /hub-api/files?path=``: a folder of the server root with sizes, for the file picker."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone
from pathlib import Path

from tornado import web

from ..errors import UsageError
from ..project.mlflow import describe_mlflow_folder, is_mlflow_model
from .base import HubAPIHandler
from .paths import is_hidden, relative, resolve

MAX_ENTRIES = 5000


def list_folder(root: Path, rel: str, show_hidden: bool = False) -> dict:
    """The entries of folder ``rel`` (folders first, then files, by name), with sizes."""
    folder = resolve(root, rel, what="path")
    if not folder.is_dir():
        raise UsageError(f"'{rel}' is not a folder of the server root.", type="not_a_folder")
    base = relative(root, folder)
    entries = []
    with os.scandir(folder) as it:
        for entry in it:
            if not show_hidden and is_hidden(entry.name):
                continue
            path = f"{base}/{entry.name}" if base else entry.name
            try:
                # Follows symlinks; one that leads out of the root is left out, not shown.
                real = resolve(root, path)
                st = real.stat()
            except (OSError, UsageError):
                continue
            is_dir = real.is_dir()
            item = {
                "name": entry.name,
                "path": path,
                "type": "directory" if is_dir else "file",
                "size": None if is_dir else st.st_size,
                "modified": datetime.fromtimestamp(st.st_mtime, timezone.utc).isoformat(),
                "is_project": is_dir and (real / "hub_config.json").is_file(),
            }
            if is_dir and is_mlflow_model(real):
                # The wizard deploys it as `hub init --from-mlflow` does (MLmodel is small YAML).
                item["mlflow"] = describe_mlflow_folder(real, shown=path)
            entries.append(item)
    entries.sort(key=lambda e: (e["type"] != "directory", e["name"].lower()))
    truncated = len(entries) > MAX_ENTRIES
    return {"path": base, "entries": entries[:MAX_ENTRIES], "truncated": truncated}


class FilesHandler(HubAPIHandler):
    """Lists one folder; ``?hidden=1`` shows dot-files too."""

    @web.authenticated
    async def get(self) -> None:
        rel = self.get_argument("path", "")
        hidden = self.get_argument("hidden", "0")
        if hidden not in ("0", "1", "false", "true"):
            raise UsageError("The query argument 'hidden' must be 0 or 1.", type="bad_argument")
        hidden = hidden in ("1", "true")
        self.write_json(await asyncio.to_thread(list_folder, self.hub.root_dir, rel, hidden))
