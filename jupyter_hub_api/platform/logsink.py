"""What handlers print: from the engine's ``on_log`` callback to the database and live followers.

Lines are buffered and handed to the database's writer once per turn of the event loop (a
handler that prints in a tight loop costs one write per turn, not one per line). Followers (``hub logs
--follow``, the log view of the deployments panel) read the database from their last id and wait
on :meth:`LogSink.wait_for_new` between reads, so they never miss nor repeat a line.
"""

from __future__ import annotations

import asyncio
import threading
import time

from .models import LogLine
from .store.logs import Logs

MAX_LINE_CHARS = 16 * 1024


class LogSink:
    """Collects log lines per API and persists them."""

    def __init__(self, repo: Logs, keep_lines: int) -> None:
        self.repo = repo
        self.keep_lines = keep_lines
        self._pending: list[tuple] = []
        self._flush_scheduled = False
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._written_since_prune = 0
        self._tasks: set[asyncio.Task] = set()

    def add(
        self, api_id: int, version_id: int | None, invocation_id: str | None, stream: str, line: str
    ) -> None:
        """Queue one line (safe to call from any thread)."""
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + " …[line cut]"
        item = (api_id, version_id, invocation_id, time.time(), stream, line)
        if threading.get_ident() == self._loop_thread:
            self._add(item)
        else:
            self._loop.call_soon_threadsafe(self._add, item)

    def _add(self, item: tuple) -> None:
        self._pending.append(item)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._start_flush)

    def _start_flush(self) -> None:
        self._flush_scheduled = False
        batch, self._pending = self._pending, []
        if batch:
            task = self._loop.create_task(self._flush(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush(self, batch: list[tuple]) -> None:
        self._written_since_prune += len(batch)
        prune = self._written_since_prune >= 1000
        if prune:
            self._written_since_prune = 0
        try:
            await self.repo.add(
                batch, {item[0] for item in batch} if prune else None, self.keep_lines
            )
        finally:
            self._notify()

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def flush(self) -> None:
        """Write what is buffered now (used before answering a request that printed)."""
        self._start_flush()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def wait_for_new(self, timeout: float) -> None:
        """Return when new lines were written, or after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def read(
        self, api_id: int, after: int = 0, limit: int = 500, invocation_id: str | None = None
    ) -> list[LogLine]:
        """Lines of an API with ``id > after``, oldest first (at most ``limit``)."""
        return self.repo.read(api_id, after, limit, invocation_id)

    def tail(self, api_id: int, lines: int) -> int:
        """The id after which the last ``lines`` lines of an API start (for ``--tail``)."""
        return self.repo.tail(api_id, lines)
