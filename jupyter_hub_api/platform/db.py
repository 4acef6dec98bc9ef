"""The platform's state: one SQLite file in WAL mode, one writer thread with group commit.

Every write goes through :meth:`Database.write`: a function of a connection, queued to the
writer thread, which runs everything queued at that moment in one transaction and commits once
(should one write fail, the batch is run again with each write in its own savepoint, so one
failing write does not undo the others). The caller's future
resolves only after the commit, so "answered" can mean "durable": the gateway awaits the write
of an invocation before it sends the response. WAL with ``synchronous=NORMAL`` keeps every
committed transaction across a kill of the process (not across a power cut), and a batch costs
one write of the WAL whatever its size, which is what keeps the hot path fast under load.

The hot path (invocations, log lines) uses :meth:`Database.write_soon` instead: the same group
commit, but run on the event loop's own connection at the end of the current turn of the loop.
That avoids two thread hand-offs per request, and with them waits for the GIL that made the
tail latency depend on the interpreter's switch interval. A batch there costs one short commit
(no fsync in WAL with ``synchronous=NORMAL``).

Reads use one connection per thread (WAL readers never block the writer).
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    token_hash  TEXT,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS apis (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER NOT NULL REFERENCES users(id),
    name             TEXT NOT NULL,
    live_version_id  INTEGER,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (user_id, name)
);
CREATE TABLE IF NOT EXISTS versions (
    id           INTEGER PRIMARY KEY,
    api_id       INTEGER NOT NULL REFERENCES apis(id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    build_id     TEXT NOT NULL,
    version      TEXT NOT NULL,
    record       TEXT NOT NULL,
    dir          TEXT NOT NULL,
    python       TEXT NOT NULL,
    status       TEXT NOT NULL,
    error        TEXT,
    created_at   TEXT NOT NULL,
    deployed_at  TEXT,
    UNIQUE (api_id, seq)
);
CREATE TABLE IF NOT EXISTS keys (
    id            TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    hash          TEXT NOT NULL UNIQUE,
    secret        BLOB NOT NULL,
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT
);
CREATE TABLE IF NOT EXISTS usage_monthly (
    user_id   INTEGER NOT NULL,
    month     TEXT NOT NULL,
    api_name  TEXT NOT NULL,
    calls     INTEGER NOT NULL DEFAULT 0,
    errors    INTEGER NOT NULL DEFAULT 0,
    failures  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, month, api_name)
);
CREATE TABLE IF NOT EXISTS invocations (
    id                TEXT PRIMARY KEY,
    user_id           INTEGER NOT NULL,
    api_id            INTEGER NOT NULL,
    api_name          TEXT NOT NULL,
    version_id        INTEGER,
    key_id            TEXT,
    ts                REAL NOT NULL,
    month             TEXT NOT NULL,
    status            INTEGER NOT NULL,
    counted           INTEGER NOT NULL,
    latency_ms        REAL NOT NULL,
    input             TEXT,
    input_truncated   INTEGER NOT NULL DEFAULT 0,
    output            TEXT,
    output_truncated  INTEGER NOT NULL DEFAULT 0,
    error_type        TEXT,
    error_message     TEXT
);
CREATE INDEX IF NOT EXISTS invocations_by_api ON invocations (api_id, ts);
CREATE TABLE IF NOT EXISTS logs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    api_id         INTEGER NOT NULL,
    version_id     INTEGER,
    invocation_id  TEXT,
    ts             REAL NOT NULL,
    stream         TEXT NOT NULL,
    line           TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_api ON logs (api_id, id);
"""

_STOP = object()


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


_MAX_BATCH = 512


class Database:
    """The SQLite database at ``path`` with its writer thread; :meth:`close` stops it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        private_database(self.path)
        self._local = threading.local()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writer_conn = self._connect()
        self._writer_conn.executescript(SCHEMA)
        self._after_commit: list[Callable[[], None]] = []
        self._thread = threading.Thread(target=self._run, name="hub-db-writer", daemon=True)
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    # -- reading ------------------------------------------------------------------------------
    def conn(self) -> sqlite3.Connection:
        """This thread's read connection."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def query(self, sql: str, args: tuple | dict = ()) -> list[sqlite3.Row]:
        """Rows of a read query."""
        return self.conn().execute(sql, args).fetchall()

    def query_one(self, sql: str, args: tuple | dict = ()) -> sqlite3.Row | None:
        """The first row of a read query, or None."""
        return self.conn().execute(sql, args).fetchone()

    # -- writing ------------------------------------------------------------------------------
    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> Future:
        """Queue ``fn(conn)`` to the writer; the future resolves after its transaction commits."""
        fut: Future = Future()
        self._queue.put((fn, fut))
        return fut

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in the writer thread and wait, without blocking the loop, for the commit."""
        return await asyncio.wrap_future(self.submit(fn))

    def write_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Like :meth:`write`, from a thread that is not the event loop."""
        return self.submit(fn).result()

    def attach_loop(self) -> None:
        """Enable :meth:`write_soon` on the running event loop (call once, from the loop)."""
        self._loop = asyncio.get_running_loop()
        self._loop_conn = self._connect()
        self._soon: list = []
        self._soon_scheduled = False

    def write_soon(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future:
        """Run ``fn(conn)`` in this turn's batch on the loop; the future resolves after the commit."""
        fut = self._loop.create_future()
        self._soon.append((fn, fut))
        if not self._soon_scheduled:
            self._soon_scheduled = True
            self._loop.call_soon(self._flush_soon)
        return fut

    def _flush_soon(self) -> None:
        self._soon_scheduled = False
        batch, self._soon = self._soon, []
        if batch:
            self._run_batch(self._loop_conn, batch)

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (in the writer thread) after every commit, e.g. to wake followers."""
        self._after_commit.append(callback)

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
            self._run_batch(conn, batch)
            if stop:
                break
        conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list) -> None:
        results: list[tuple[Future, bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            if len(batch) == 1:
                # Alone in its transaction: a failure rolls the whole (one-item) batch back.
                fn, fut = batch[0]
                try:
                    results.append((fut, True, fn(conn)))
                except BaseException as err:
                    conn.execute("ROLLBACK")
                    if not fut.done():
                        fut.set_exception(err)
                    return
            else:
                try:
                    # Optimistic: writes rarely fail, so no savepoint per item (two statements
                    # less per write on the event loop's hot path).
                    for fn, fut in batch:
                        results.append((fut, True, fn(conn)))
                except BaseException:
                    # One failed: undo the batch and run it again, each write in a savepoint,
                    # so that only the failing one fails.
                    conn.execute("ROLLBACK")
                    results.clear()
                    conn.execute("BEGIN IMMEDIATE")
                    for fn, fut in batch:
                        conn.execute("SAVEPOINT item")
                        try:
                            value = fn(conn)
                        except BaseException as err:  # the caller gets it; the batch goes on
                            conn.execute("ROLLBACK TO item")
                            conn.execute("RELEASE item")
                            results.append((fut, False, err))
                        else:
                            conn.execute("RELEASE item")
                            results.append((fut, True, value))
            conn.execute("COMMIT")
        except BaseException as err:  # the commit itself failed: nothing of the batch is kept
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            for _fn, fut in batch:
                if not fut.done():
                    fut.set_exception(err)
            return
        for fut, ok, value in results:
            if fut.done():  # an awaiting task was cancelled meanwhile
                continue
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)
        for callback in self._after_commit:
            try:
                callback()
            except Exception:  # a follower's wake-up must never break the writer
                pass

    def close(self) -> None:
        """Finish queued writes, then stop the writer thread."""
        if getattr(self, "_loop_conn", None) is not None:
            self._flush_soon()
            self._loop_conn.close()
            self._loop_conn = None
        self._queue.put(_STOP)
        self._thread.join(timeout=30)
