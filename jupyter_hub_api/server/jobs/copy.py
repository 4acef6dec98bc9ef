"""The work of a model-file copy job: chosen files and folders into a project's ``model/``.

Everything is checked before the first byte moves (every source exists inside the root, nothing
would be overwritten unless asked, the disk has room); files are copied in chunks to a temporary
name and renamed when whole, so a cancelled or failed copy leaves no half file behind.

The copy opens what the check saw and nothing else: every source and every folder of the
destination is reached from the root's descriptor one component at a time without following a
symlink (``paths.walk``), so a folder swapped for a link after the check (to read a file from
outside the root, or to write outside the project) fails the job instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import posixpath
import shutil
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import HubError, UsageError
from ...events import EventCallback, EventSink
from ..paths import SKIPPED_DIRS, open_at, open_root, path_changed, relative, resolve, walk

CHUNK = 8 << 20
# Room left free on the disk after the copy, so the build that follows can still write.
HEADROOM = 64 << 20
PARTIAL_SUFFIX = ".hub-partial"
STEP = "copy-model-files"


@dataclass
class CopyItem:
    """One file to copy: its real path relative to the root, its path under ``model/``, its size."""

    source: str
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
        if not isinstance(rel, str) or not rel:
            # resolve() takes "" (and so None) as the root itself: never copy the whole root.
            raise UsageError(
                f"Each of 'files' must be a path relative to the server root, not {rel!r}.",
                type="bad_path",
            )
        source = resolve(root, rel, what="model file")
        if not source.exists():
            raise UsageError(f"The model file '{rel}' does not exist.", type="not_found")
        if source == project_dir or project_dir in source.parents:
            raise UsageError(
                f"'{rel}' is inside the project already; choose files from elsewhere.",
                type="bad_path",
            )
        if source.is_file():
            items.append(CopyItem(relative(root, source), source.name, source.stat().st_size))
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
                    items.append(
                        CopyItem(relative(root, real), dest.as_posix(), real.stat().st_size)
                    )
    dests = [i.dest for i in items]
    if len(set(dests)) != len(dests):
        raise UsageError(
            "Two of the chosen files have the same name; copy them one at a time.",
            type="same_name",
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
    """Copies planned items into ``model/`` in a thread, reporting steps, logs and progress.

    ``project`` is the project's path relative to ``root``, as :func:`paths.relative` writes it.
    """

    # Called in the copy thread with each item just before its files are opened: the moment a
    # swapped path would be used. Tests set it to swap a folder (or fill the disk) right there.
    before_file: Callable[[CopyItem], None] | None = None

    def __init__(self, root: Path, project: str, items: list[CopyItem]) -> None:
        self.root = root
        self.project = project
        self.items = items
        self._stop = threading.Event()

    async def run(self, emit: Callable[[list[dict]], None]) -> int:
        """Copy everything; 0 when done, 1 when stopped or failed (with an ``error`` event)."""
        loop = asyncio.get_running_loop()

        def send(event: dict) -> None:
            loop.call_soon_threadsafe(emit, [event])

        return await asyncio.to_thread(self._copy_all, EventCallback(send))

    async def terminate(self, grace: float) -> None:
        """Stop after the current chunk (the half-copied file is removed)."""
        self._stop.set()

    def _copy_all(self, out: EventSink) -> int:
        total = sum(i.size for i in self.items)
        self._done = 0
        self._last_report = 0.0
        item = None
        try:
            with out.step(STEP):
                root_fd = open_root(self.root)
                try:
                    project_fd = walk(root_fd, self.project)
                    try:
                        for item in self.items:
                            out.log(f"Copying {item.dest} ({_human(item.size)})")
                            if self.before_file is not None:
                                self.before_file(item)
                            self._copy_one(root_fd, project_fd, item, total, out)
                    finally:
                        os.close(project_fd)
                finally:
                    os.close(root_fd)
                out.progress(total, total)
        except InterruptedError:
            return 1
        except (HubError, OSError) as err:
            out.emit({"event": "error", **_copy_error(err, item)})
            return 1
        out.result(files=[f"model/{i.dest}" for i in self.items], bytes=total)
        return 0

    def _copy_one(
        self, root_fd: int, project_fd: int, item: CopyItem, total: int, events: EventSink
    ) -> None:
        """Copy one file to a temporary name in its folder of ``model/``, then rename it."""
        source_dir, source_name = posixpath.split(item.source)
        parent = walk(root_fd, source_dir, named=item.source)
        try:
            # O_NONBLOCK: a FIFO swapped in must not hang the copy (it is refused below).
            src_fd = open_at(parent, source_name, os.O_RDONLY | os.O_NONBLOCK, rel=item.source)
        finally:
            os.close(parent)
        with os.fdopen(src_fd, "rb") as src:
            if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
                raise path_changed(item.source)
            dest = posixpath.join("model", item.dest)
            dest_dir, name = posixpath.split(dest)
            folder = walk(project_fd, dest_dir, create=True, named=dest)
            partial = name + PARTIAL_SUFFIX
            try:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(
                        partial, dir_fd=folder
                    )  # left by a crash; a link is removed, not followed
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
                out_fd = open_at(folder, partial, flags, rel=dest)
                try:
                    with os.fdopen(out_fd, "wb") as dest_file:
                        self._pump(src, dest_file, total, events)
                    os.replace(partial, name, src_dir_fd=folder, dst_dir_fd=folder)
                except BaseException:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(partial, dir_fd=folder)
                    raise
            finally:
                os.close(folder)

    def _pump(self, src, dest_file, total: int, events: EventSink) -> None:
        while chunk := src.read(CHUNK):
            if self._stop.is_set():
                raise InterruptedError
            dest_file.write(chunk)
            self._done += len(chunk)
            now = time.monotonic()
            if now - self._last_report > 0.2:
                self._last_report = now
                events.progress(self._done, total, STEP, bytes_=True)


def _copy_error(err: HubError | OSError, item: CopyItem | None) -> dict:
    """The ``error`` event of a failed copy: one sentence naming the file."""
    if isinstance(err, HubError):
        return err.to_dict()
    where = f"model/{item.dest}" if item is not None else "model/"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return {
            "type": "disk_full",
            "message": f"The disk is full: {where} could not be written, and no part of it was "
            "left behind; free some space and run the copy again.",
        }
    return {"type": "copy_failed", "message": f"Copying {where} failed: {err.strerror or err}."}


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
