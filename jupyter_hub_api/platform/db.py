"""The platform's state: one SQLite file in WAL mode, and one thread that writes it.

Only the writer thread holds a connection that may write: every write is a function of that
connection, queued with :meth:`Database.write` (or :meth:`Database.append` for the hot path's
many small writes of one kind), so the event loop never waits for SQLite's write lock. The
writer runs everything queued at that moment in one transaction and commits once (group commit:
a batch costs one write of the WAL whatever its size); should one write fail, the batch is run
again with each write in its own savepoint, so only that one fails. The awaiting coroutines are
woken after the commit, one hand-off to the loop per batch, so "answered" can mean "durable":
the gateway awaits the write of an invocation before it sends the response. WAL with
``synchronous=NORMAL`` keeps every committed transaction across a kill of the process (not
across a power cut).

A long write (deleting an API's history) is split into short transactions with
:meth:`Database.write_chunks`, so the writes queued meanwhile wait for one chunk, not the whole.

Reads use one ``query_only`` connection per thread (WAL readers never block the writer, nor the
writer them). The schema is kept by the numbered migrations of ``store/migrations.py``, applied
when the database is opened.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = object()
_MAX_BATCH = 512


def private_database(path: Path) -> None:
    """Make the database file (and its WAL, which holds invocation inputs and outputs) 0600.

    SQLite creates ``-wal`` and ``-shm`` with the mode of the database file, so creating the
    file 0600 first covers those too; files of an older start are narrowed here.
    """
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.chmod(f"{path}{suffix}", 0o600)
        except FileNotFoundError:
            pass


class _Write:
    """One queued write: ``fn(conn)``, or one ``item`` of ``fn(conn, items)`` when batched."""

    __slots__ = ("fn", "item", "batched", "fut", "loop")

    def __init__(self, fn, item, batched: bool, fut: asyncio.Future, loop) -> None:
        self.fn = fn
        self.item = item
        self.batched = batched
        self.fut = fut
        self.loop = loop

    def run_alone(self, conn: sqlite3.Connection):
        return self.fn(conn, [self.item]) if self.batched else self.fn(conn)


class Database:
    """The SQLite database at ``path`` with its writer thread; :meth:`close` stops it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        private_database(self.path)
        self._local = threading.local()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writer_conn = self._connect()
        from .store.migrations import migrate  # (the store's repositories import this module)

        self.schema_version = migrate(self._writer_conn)
        self.commits = 0  # transactions the writer committed (tests count a chunked delete's)
        self._thread = threading.Thread(target=self._run, name="hub-db-writer", daemon=True)
        self._thread.start()

    @property
    def writer_thread(self) -> threading.Thread:
        """The one thread that writes."""
        return self._thread

    def _connect(self, read_only: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        if read_only:
            conn.execute("PRAGMA query_only=ON")
        return conn

    # -- reading ------------------------------------------------------------------------------
    def conn(self) -> sqlite3.Connection:
        """This thread's read connection (it refuses writes)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect(read_only=True)
        return conn

    def query(self, sql: str, args: tuple | dict = ()) -> list[sqlite3.Row]:
        """Rows of a read query."""
        return self.conn().execute(sql, args).fetchall()

    def query_one(self, sql: str, args: tuple | dict = ()) -> sqlite3.Row | None:
        """The first row of a read query, or None."""
        return self.conn().execute(sql, args).fetchone()

    # -- writing ------------------------------------------------------------------------------
    def _put(self, fn, item, batched: bool) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._queue.put(_Write(fn, item, batched, fut, loop))
        return fut

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in the writer thread; return its value once its transaction commits."""
        return await self._put(fn, None, False)

    async def append(self, fn: Callable[[sqlite3.Connection, list], Any], item: Any) -> None:
        """Have ``item`` written by ``fn(conn, items)``; return once its transaction commits.

        Consecutive appends with the same ``fn`` in a batch are written by one call (one
        ``executemany`` and one counter update per key, rather than one of each per item).
        """
        await self._put(fn, item, True)

    async def write_chunks(self, fn: Callable[[sqlite3.Connection], int]) -> int:
        """Run ``fn(conn)`` in one transaction after another until it returns 0; the sum."""
        total = 0
        while n := await self.write(fn):
            total += n
        return total

    def _run(self) -> None:
        conn = self._writer_conn
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            # Group commit: take whatever else is queued right now into the same transaction.
            stop = False
            while len(batch) < _MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            _resolve_later(self._run_batch(conn, batch))
            if stop:
                break
        conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Write]) -> list[tuple]:
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Optimistic: writes rarely fail, so no savepoint per item.
                results = _run_grouped(conn, batch)
            except BaseException as err:
                conn.execute("ROLLBACK")
                if len(batch) == 1:
                    return [(batch[0], False, err)]
                # One failed: run the batch again, each write in a savepoint, so that only the
                # failing one fails.
                conn.execute("BEGIN IMMEDIATE")
                results = []
                for w in batch:
                    conn.execute("SAVEPOINT item")
                    try:
                        value = w.run_alone(conn)
                    except BaseException as item_err:  # the caller gets it; the batch goes on
                        conn.execute("ROLLBACK TO item")
                        results.append((w, False, item_err))
                    else:
                        results.append((w, True, value))
                    conn.execute("RELEASE item")
            conn.execute("COMMIT")
        except BaseException as err:  # the commit itself failed: nothing of the batch is kept
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            return [(w, False, err) for w in batch]
        self.commits += 1
        return results

    def close(self) -> None:
        """Finish queued writes, then stop the writer thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout=30)


def _run_grouped(conn: sqlite3.Connection, batch: list[_Write]) -> list[tuple]:
    results: list[tuple] = []
    i = 0
    while i < len(batch):
        w = batch[i]
        if not w.batched:
            results.append((w, True, w.fn(conn)))
            i += 1
            continue
        j = i + 1
        while j < len(batch) and batch[j].batched and batch[j].fn is w.fn:
            j += 1
        w.fn(conn, [x.item for x in batch[i:j]])
        results.extend((x, True, None) for x in batch[i:j])
        i = j
    return results


def _resolve_later(results: list[tuple]) -> None:
    """Wake the awaiting coroutines: one hand-off to each loop for the whole batch."""
    by_loop: dict[Any, list[tuple]] = {}
    for result in results:
        by_loop.setdefault(result[0].loop, []).append(result)
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, items)
        except RuntimeError:  # that loop is closed: nobody is waiting any more
            pass


def _resolve(results: list[tuple]) -> None:
    for w, ok, value in results:
        if w.fut.done():  # the awaiting task was cancelled meanwhile
            continue
        if ok:
            w.fut.set_result(value)
        else:
            w.fut.set_exception(value)
