"""A job's subprocess: ``hub ... --json`` in its own process group, read into events.

Each stdout line that is a JSON object with an ``event`` key is an event (ARCHITECTURE.md (CLI events)); any
other line, and every stderr line, becomes a ``log`` event. The argv is a list: no shell.
Stopping it signals the whole process group (TERM, then KILL) and waits until no live process
of the group is left.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import HubError
from ...events import decode, log_event
from ...processes import live_groups

# Work reports events in batches: all the lines one read of a pipe returned, say.
Emit = Callable[[list[dict[str, Any]]], None]


class ProcessWork:
    """A ``hub ... --json`` subprocess in its own process group, read line by line.

    Each stdout line that is a JSON object with an ``event`` key is an event (ARCHITECTURE.md (CLI events));
    any other line, and every stderr line, becomes a ``log`` event. The argv is a list: no shell.
    """

    # The longest line kept whole; a longer one is cut (a progress bar gone wild, a blob).
    MAX_LINE = 1 << 20

    def __init__(
        self, argv: list[str], cwd: Path, env: dict[str, str], time_limit: float, grace: float
    ) -> None:
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.time_limit = time_limit
        self.grace = grace
        self.timed_out = False
        self.on_start: Callable[[int], None] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._terminating: asyncio.Task | None = None
        self._stop_grace: float | None = None  # set when terminate() came before the start

    async def run(self, emit: Emit) -> int:
        """Start the process, pump its output into ``emit`` and return its exit code."""
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group: cancel kills all of it
            )
        except OSError as err:
            raise HubError(
                f"Could not start '{self.argv[0]}': {err.strerror or err}.",
                type="cli_missing",
            ) from err
        if self.on_start is not None:
            self.on_start(self._proc.pid)
        if self._stop_grace is not None:
            asyncio.ensure_future(self.terminate(self._stop_grace))
        pumps = asyncio.gather(
            _pump(self._proc.stdout, "stdout", emit), _pump(self._proc.stderr, "stderr", emit)
        )
        try:
            await asyncio.wait_for(asyncio.shield(self._proc.wait()), self.time_limit)
        except asyncio.TimeoutError:
            self.timed_out = True
            await self.terminate(self.grace)
        await self._proc.wait()
        if self._terminating is not None:
            await self._terminating
        # A grandchild may still hold the pipes open (a server it started): read what is
        # there, then stop listening instead of waiting for it.
        try:
            await asyncio.wait_for(asyncio.shield(pumps), 1.0)
        except asyncio.TimeoutError:
            pumps.cancel()
        return self._proc.returncode

    async def terminate(self, grace: float) -> None:
        """TERM to the whole process group, KILL after ``grace`` seconds; wait until it is gone."""
        if self._proc is None:
            self._stop_grace = grace
            return
        if self._terminating is None:
            self._terminating = asyncio.ensure_future(self._terminate(grace))
        await asyncio.shield(self._terminating)

    async def _terminate(self, grace: float) -> None:
        pgid = self._proc.pid
        _signal_group(pgid, signal.SIGTERM)
        deadline = asyncio.get_running_loop().time() + grace
        while group_alive(pgid) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        if group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
            while group_alive(pgid):
                await asyncio.sleep(0.02)


async def _pump(stream: asyncio.StreamReader, name: str, emit: Emit) -> None:
    """Turn a pipe into events, one per line, emitting each read's lines as one batch.

    Reading what the pipe holds (rather than a line at a time) keeps the latency of a lone line
    and lets a burst of output be stored and announced once. A line longer than ``MAX_LINE`` is
    cut there; the rest of it is skipped.
    """
    pending = b""
    skipping = False  # inside the rest of a line that was cut
    while True:
        chunk = await stream.read(1 << 16)
        if not chunk:
            if pending and not skipping:
                emit([_parse_line(_decode(pending), name)])
            return
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop()
        batch = []
        for raw in lines:
            if skipping:
                skipping = False
                continue
            batch.append(_parse_line(_decode(raw[: ProcessWork.MAX_LINE]), name))
        if len(pending) > ProcessWork.MAX_LINE:
            if not skipping:
                batch.append(_parse_line(_decode(pending[: ProcessWork.MAX_LINE]), name))
            skipping = True
            pending = b""
        if batch:
            emit(batch)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


def _parse_line(line: str, stream: str) -> dict[str, Any]:
    event = decode(line) if stream == "stdout" else None
    if event is None:
        return log_event(line, stream)
    # The job's own bookkeeping fields are ours; the CLI cannot override them.
    event.pop("offset", None)
    event.pop("time", None)
    return event


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pgid: int) -> bool:
    """Whether a live (non-zombie) process of group ``pgid`` remains.

    Zombies are ignored: they are dead, but where PID 1 does not reap orphans (some containers)
    they keep a group 'alive' for ``kill(0)`` forever.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return bool(live_groups({pgid}))
