"""The work of a model-file copy job: chosen files and folders into a project's ``model/``.

Everything is checked before the first byte moves (every source exists inside the root, nothing
would be overwritten unless asked, the disk has room); files are copied in chunks to a temporary
name and renamed when whole, so a cancelled or failed copy leaves no half file behind.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import HubError, UsageError
from ..paths import SKIPPED_DIRS, resolve

CHUNK = 8 << 20
# Room left free on the disk after the copy, so the build that follows can still write.
HEADROOM = 64 << 20
PARTIAL_SUFFIX = ".hub-partial"


@dataclass
class CopyItem:
    """One file to copy: its real source, its path under ``model/`` and its size."""

    source: Path
    dest: str
    size: int


def plan_copy(
    root: Path, project_dir: Path, files: list[Any], overwrite: bool = False
) -> list[CopyItem]:
    """The files a copy of ``files`` (paths relative to ``root``) into ``model/`` would write.

    A folder is copied as a folder (like ``cp -r``). Raises a 400 for a bad or missing path, a
    409 when a file of ``model/`` would be replaced and ``overwrite`` is false, a 507 when the
    disk lacks room.
    """
    if not isinstance(files, list) or not files:
        raise UsageError(
            "Give 'files': a non-empty list of paths relative to the server root.",
            type="bad_request",
        )
    model_dir = project_dir / "model"
    items: list[CopyItem] = []
    for rel in files:
        source = resolve(root, rel, what="model file")
        if not source.exists():
            raise UsageError(f"The model file '{rel}' does not exist.", type="not_found")
        if source == project_dir or project_dir in source.parents:
            raise UsageError(
                f"'{rel}' is inside the project already; choose files from elsewhere.",
                type="bad_path",
            )
        if source.is_file():
            items.append(CopyItem(source, source.name, source.stat().st_size))
            continue
        for dirpath, dirnames, filenames in os.walk(source):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
            for name in sorted(filenames):
                path = Path(dirpath) / name
                # A symlink inside the folder must not lead out of the root either.
                real = resolve(
                    root, os.path.relpath(path, os.path.realpath(root)), what="model file"
                )
                if real.is_file():
                    dest = Path(source.name) / Path(dirpath).relative_to(source) / name
                    items.append(CopyItem(real, dest.as_posix(), real.stat().st_size))
    dests = [i.dest for i in items]
    if len(set(dests)) != len(dests):
        raise UsageError(
            "Two of the chosen files have the same name; copy them one at a time.",
            type="bad_request",
        )
    existing = [d for d in dests if (model_dir / d).exists()]
    if existing and not overwrite:
        raise HubError(
            f"model/{existing[0]} exists already"
            + (f" (and {len(existing) - 1} more)" if len(existing) > 1 else "")
            + '; remove it or ask again with "overwrite": true.',
            type="file_exists",
            status=409,
        )
    total = sum(i.size for i in items)
    # The project may not exist yet (the wizard checks before `hub init`): measure its parent.
    existing_dir = next(p for p in (model_dir, *model_dir.parents) if p.exists())
    free = shutil.disk_usage(existing_dir).free
    if total + HEADROOM > free:
        raise HubError(
            f"The files need {_human(total)} but the disk has {_human(free)} free; free some space first.",
            type="disk_full",
            status=507,
        )
    return items


class CopyWork:
    """Copies planned items into ``model/`` in a thread, reporting steps, logs and progress."""

    def __init__(self, project_dir: Path, items: list[CopyItem]) -> None:
        self.model_dir = project_dir / "model"
        self.items = items
        self._stop = threading.Event()

    async def run(self, emit: Callable[[list[dict]], None]) -> int:
        """Copy everything; 0 when done, 1 when stopped or failed (with an ``error`` event)."""
        loop = asyncio.get_running_loop()

        def send(fields: dict) -> None:
            loop.call_soon_threadsafe(emit, [fields])

        return await asyncio.to_thread(self._copy_all, send)

    async def terminate(self, grace: float) -> None:
        """Stop after the current chunk (the half-copied file is removed)."""
        self._stop.set()

    def _copy_all(self, send: Callable[[dict], None]) -> int:
        total = sum(i.size for i in self.items)
        done = 0
        last_report = 0.0
        send({"event": "step", "name": "copy-model-files", "status": "started"})
        started = time.monotonic()
        for item in self.items:
            dest = self.model_dir / item.dest
            dest.parent.mkdir(parents=True, exist_ok=True)
            partial = dest.with_name(dest.name + PARTIAL_SUFFIX)
            send(
                {
                    "event": "log",
                    "stream": "stdout",
                    "line": f"Copying {item.dest} ({_human(item.size)})",
                }
            )
            try:
                with open(item.source, "rb") as src, open(partial, "wb") as out:
                    while chunk := src.read(CHUNK):
                        if self._stop.is_set():
                            raise InterruptedError
                        out.write(chunk)
                        done += len(chunk)
                        now = time.monotonic()
                        if now - last_report > 0.2:
                            last_report = now
                            send(
                                {
                                    "event": "progress",
                                    "step": "copy-model-files",
                                    "done": done,
                                    "total": total,
                                }
                            )
                os.replace(partial, dest)
            except InterruptedError:
                partial.unlink(missing_ok=True)
                send({"event": "step", "name": "copy-model-files", "status": "failed"})
                return 1
            except OSError as err:
                partial.unlink(missing_ok=True)
                send({"event": "step", "name": "copy-model-files", "status": "failed"})
                send(
                    {
                        "event": "error",
                        "type": "copy_failed",
                        "message": f"Copying {item.dest} failed: {err.strerror or err}.",
                    }
                )
                return 1
        send({"event": "progress", "step": "copy-model-files", "done": done, "total": total})
        send(
            {
                "event": "step",
                "name": "copy-model-files",
                "status": "done",
                "seconds": round(time.monotonic() - started, 3),
            }
        )
        send({"event": "result", "files": [f"model/{i.dest}" for i in self.items], "bytes": total})
        return 0


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
