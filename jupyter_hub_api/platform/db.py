"""The platform's state: SQLite (one file in WAL mode, the default) or PostgreSQL, one thread
that writes it and, on SQLite, one process that writes the gateway's metering rows.

Only the writer thread holds a connection that may write: every write is a function of that
connection, queued with :meth:`Database.write` (or :meth:`Database.append` for the hot path's
many small writes of one kind), so the event loop never waits for the database's write lock.
On SQLite the one exception is ``store/metering.py``'s ``write``, the gateway's rows and
counters: those appends go, a loop turn's together, to a child process (``MeterChannel``) that
commits them and answers, so their SQLite work runs beside the event loop instead of fighting
it for the GIL; a write queued after them waits for their answers, so the order of the calls
holds.

The writer runs everything queued at that moment in one transaction and commits once (group
commit: a batch costs one write of the WAL whatever its size; the writes one turn of the event
loop queues are handed to the writer together at the end of that turn); should one write fail,
the batch is run again with each write in its own savepoint, so only that one fails (the
metering process does the same with what has reached it). The awaiting coroutines are
woken after the commit, one hand-off to the loop per batch, so "answered" can mean "durable":
the gateway awaits the write of an invocation before it sends the response. SQLite's WAL with
``synchronous=NORMAL`` keeps every committed transaction across a kill of the process (not
across a power cut); PostgreSQL's COMMIT returns once its WAL is flushed (``synchronous_commit``
on, its default), which survives a power cut too.

A long write (deleting an API's history) is split into short transactions with
:meth:`Database.write_chunks`, so the writes queued meanwhile wait for one chunk, not the whole.

Reads use one read-only connection per thread (SQLite ``query_only``; PostgreSQL
``default_transaction_read_only``), each statement its own transaction, so a read never holds
back the writer. The schema is kept by the numbered migrations of ``store/migrations.py``,
applied when the database is opened.

Both backends take the same SQL (the rules are in ``store/migrations.py``'s docstring): ``?`` or
``:name`` placeholders, which :class:`PgConnection` turns into psycopg's; rows answer
``row["col"]``, ``row[0]`` and ``dict(row)`` on both.
"""

from __future__ import annotations

import asyncio
import functools
import os
import queue
import re
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = object()
_MAX_BATCH = 512

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
#: The advisory lock (per database) the writer's connection of a platform holds.
PG_PLATFORM_LOCK = 0x4855_4251


def _integrity_errors() -> tuple[type[Exception], ...]:
    try:
        import psycopg
    except ImportError:  # the postgres extra is not installed
        return (sqlite3.IntegrityError,)
    return (sqlite3.IntegrityError, psycopg.IntegrityError)


#: What a write that breaks a constraint (UNIQUE, NOT NULL, a foreign key) raises, either backend.
IntegrityError = _integrity_errors()


def is_database_url(target: str | Path) -> bool:
    """Whether ``target`` names a PostgreSQL database (a ``postgresql://`` URL) not a file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def redact_url(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    return re.sub(r"://([^:/@]*):[^@/]*@", r"://\1:***@", url)


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


def _password(url: str) -> str | None:
    try:
        return urllib.parse.urlsplit(url).password
    except ValueError:
        return None


def check_database(url: str | None) -> None:
    """Connect to the PostgreSQL database ``url`` once (None: the SQLite file, nothing to check),
    so a platform that cannot reach it stops at start with the reason in one sentence."""
    if url is not None:
        Database.connect_url(url).close()


class SqliteConnection(sqlite3.Connection):
    """A SQLite connection that says which dialect it speaks (migrations may ask)."""

    dialect = SQLITE


# -- PostgreSQL ---------------------------------------------------------------------------------
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=2048)
def pg_sql(sql: str, named: bool) -> str:
    """The psycopg form of one statement: ``?`` -> ``%s``, ``:name`` -> ``%(name)s``."""
    sql = sql.replace("%", "%%")
    if named:
        return _NAMED.sub(r"%(\1)s", sql)
    return sql.replace("?", "%s")


class _RowBase(tuple):
    """A row that answers by position and by column name, as ``sqlite3.Row`` does."""

    __slots__ = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


@functools.lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[_RowBase]:
    return type(
        "Row", (_RowBase,), {"__slots__": (), "_index": {n: i for i, n in enumerate(names)}}
    )


def _row_factory(cursor):
    if cursor.description is None:
        return tuple
    cls = _row_class(tuple(c.name for c in cursor.description))
    return cls


class PgConnection:
    """A psycopg connection with the part of ``sqlite3.Connection``'s interface the store uses.

    Autocommit, so the writer's explicit ``BEGIN``/``COMMIT`` (and savepoints) are the only
    transactions, as with SQLite's ``isolation_level=None``. ``SUM()`` of integers (NUMERIC in
    PostgreSQL) comes back as an int, and a Python bool is sent as 0/1, as SQLite does.
    """

    dialect = POSTGRESQL

    def __init__(self, url: str, read_only: bool = False, application_name: str = "hub") -> None:
        import psycopg
        from psycopg.adapt import Dumper, Loader
        from psycopg.pq import Format

        class _Numeric(Loader):
            def load(self, data):
                text = bytes(data).decode()
                try:
                    return int(text)
                except ValueError:  # a fraction (AVG), or NaN
                    return float(text)

        class _BoolAsInt(Dumper):
            oid = psycopg.adapters.types["int8"].oid
            format = Format.TEXT

            def dump(self, obj):
                return b"1" if obj else b"0"

        self._conn = psycopg.connect(
            url, autocommit=True, application_name=application_name, connect_timeout=10
        )
        self._conn.adapters.register_loader("numeric", _Numeric)
        self._conn.adapters.register_dumper(bool, _BoolAsInt)
        self._conn.row_factory = _row_factory
        self._trace: Callable[[str], None] | None = None
        if read_only:
            self._conn.execute("SET default_transaction_read_only = on")

    def set_trace_callback(self, fn: Callable[[str], None] | None) -> None:
        """Call ``fn(sql)`` before each statement (as ``sqlite3.Connection``'s does)."""
        self._trace = fn

    def execute(self, sql: str, args: tuple | list | dict = ()):
        if self._trace:
            self._trace(sql)
        if not args:
            return self._conn.execute(sql)
        return self._conn.execute(pg_sql(sql, isinstance(args, dict)), args)

    def executemany(self, sql: str, seq):
        if self._trace:
            self._trace(sql)
        rows = list(seq)
        cur = self._conn.cursor()
        if rows:
            cur.executemany(pg_sql(sql, isinstance(rows[0], dict)), rows)
        return cur

    def pipeline(self):
        """psycopg's pipeline mode: the statements run inside go out without waiting for each
        answer (an error is raised at the end, the transaction is then aborted)."""
        return self._conn.pipeline()

    @property
    def broken(self) -> bool:
        """Whether the server connection is gone (a restart, a terminated backend)."""
        return self._conn.closed or self._conn.broken

    def close(self) -> None:
        self._conn.close()


class _Write:
    """One queued write: ``fn(conn)``, or one ``item`` of ``fn(conn, items)`` when batched."""

    __slots__ = ("fn", "item", "batched", "fut", "loop")

    def __init__(self, fn, item, batched: bool, fut: asyncio.Future, loop) -> None:
        self.fn = fn
        self.item = item
        self.batched = batched
        self.fut = fut
        self.loop = loop

    def run_alone(self, conn):
        return self.fn(conn, [self.item]) if self.batched else self.fn(conn)


class Database:
    """The database at ``target`` with its writer thread; :meth:`close` stops it.

    ``target`` is the path of a SQLite file, or a ``postgresql://`` URL (the ``postgres``
    extra: psycopg). Repositories see the same interface either way. On PostgreSQL the writer's
    connection holds an advisory lock for as long as it lives: one platform process per
    database (its quota counters, key and route tables live in its memory), as the file lock of
    its data directory makes it one per SQLite file; another waits ``lock_wait`` seconds for it
    (a platform restarted at once, whose old connections the server is still ending), then is
    refused in one sentence.
    """

    def __init__(self, target: Path | str, lock_wait: float = 5.0) -> None:
        self.url: str | None = None
        self.path: Path | None = None
        if is_database_url(target):
            self.url = str(target)
            self.dialect = POSTGRESQL
        else:
            self.path = Path(target)
            self.dialect = SQLITE
            private_database(self.path)
        self._local = threading.local()
        self._readers: list = []  # every thread's read connection, closed by close()
        self._readers_lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()  # lists of _Write, or _STOP
        self._pending: dict[Any, list[_Write]] = {}  # loop -> its writes of this turn
        self._begin = "BEGIN IMMEDIATE" if self.dialect == SQLITE else "BEGIN"
        self._reconnect_error: Exception | None = None
        # (the store's repositories import this module: so these are imported here)
        from .store import metering
        from .store.migrations import migrate

        # SQLite: the gateway's metering appends go to a child process of each loop that
        # makes them (store/metering.py), not to the writer thread. PostgreSQL: the writer's.
        self._metering = metering
        self._metered = metering.write if self.dialect == SQLITE else None
        self.meters: dict[Any, metering.MeterChannel] = {}  # loop -> its channel
        self._writer_conn = self._connect()

        self.schema_version = migrate(self._writer_conn)
        if self.dialect == POSTGRESQL:
            try:
                self._hold_platform_lock(self._writer_conn, lock_wait)
            except BaseException:
                self._writer_conn.close()
                raise
        self._commits = 0  # transactions the writer thread committed
        self._thread = threading.Thread(target=self._run, name="hub-db-writer", daemon=True)
        self._thread.start()

    @property
    def commits(self) -> int:
        """Transactions committed (tests count a chunked delete's)."""
        return self._commits + sum(m.commits for m in self.meters.values())

    @property
    def writer_thread(self) -> threading.Thread:
        """The thread that writes (all but the metering appends on SQLite)."""
        return self._thread

    def describe(self) -> str:
        """Where the state is, for messages (a URL without its password)."""
        return redact_url(self.url) if self.url else str(self.path)

    @staticmethod
    def connect_url(url: str, read_only: bool = False) -> PgConnection:
        """A connection to the PostgreSQL database ``url``; a UsageError saying why not."""
        try:
            import psycopg
        except ImportError:
            from ..errors import UsageError

            raise UsageError(
                "A postgresql:// database needs psycopg: install jupyter-hub-api[postgres].",
                type="bad_config",
            ) from None
        try:
            return PgConnection(url, read_only=read_only)
        except psycopg.Error as err:
            from ..errors import UsageError

            reason = (str(err).strip().splitlines() or ["no answer"])[0].strip().rstrip(".")
            secret = _password(url)
            if secret:
                reason = reason.replace(secret, "***")
            raise UsageError(
                f"Cannot connect to the platform database {redact_url(url)} ({reason}): "
                "check database.url (or HUB_DATABASE_URL) and that the server runs.",
                type="database_unreachable",
            ) from None

    def _connect(self, read_only: bool = False):
        if self.dialect == POSTGRESQL:
            return self.connect_url(self.url, read_only=read_only)
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=30,
            factory=SqliteConnection,
        )
        conn.row_factory = sqlite3.Row
        for pragma in self._metering.SQLITE_PRAGMAS:  # (the metering process's too)
            conn.execute(pragma)
        if read_only:
            conn.execute("PRAGMA query_only=ON")
        return conn

    # -- reading ------------------------------------------------------------------------------
    def conn(self):
        """This thread's read connection (it refuses writes)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect(read_only=True)
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def query(self, sql: str, args: tuple | dict = ()) -> list:
        """Rows of a read query."""
        return self._read(sql, args).fetchall()

    def query_one(self, sql: str, args: tuple | dict = ()):
        """The first row of a read query, or None."""
        return self._read(sql, args).fetchone()

    def _read(self, sql: str, args: tuple | dict):
        conn = self.conn()
        try:
            return conn.execute(sql, args)
        except Exception:
            if self.dialect != POSTGRESQL or not conn.broken:
                raise
        # The server dropped this thread's connection (restarted, or the backend was ended):
        # a read has no effect, so it is run again once on a new connection.
        self._local.conn = None
        with self._readers_lock:
            if conn in self._readers:
                self._readers.remove(conn)
        conn.close()
        return self.conn().execute(sql, args)

    # -- writing ------------------------------------------------------------------------------
    def _put(self, fn, item, batched: bool) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        # The writes of one turn of the loop go to the writer together, at the end of that
        # turn: one wake-up of the writer thread (and one fight for the GIL) per turn, rather
        # than one per write while the loop is still answering the turn's other requests, and
        # a bigger group per commit. The order of the writes stays the order of the calls.
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            loop.call_soon(self._hand_over, loop)
        pending.append(_Write(fn, item, batched, fut, loop))
        return fut

    def _hand_over(self, loop) -> None:
        pending = self._pending.pop(loop, None)
        if not pending:
            return
        metered = self._metered
        if metered is None:
            self._queue.put(pending)
            return
        appends: list[_Write] = []
        rest: list[_Write] = []
        for w in pending:
            (appends if w.batched and w.fn is metered else rest).append(w)
        if appends:
            self._meter(loop).send([w.item for w in appends], [w.fut for w in appends])
            if not rest:
                return
            pending = rest
        # The writer's writes wait for the metering batches handed over before them (an API's
        # deletion for the calls answered before it, say), so the order of the calls holds.
        meter = self.meters.get(loop)
        if meter is None or not meter.after_answers(lambda: self._queue.put(pending)):
            self._queue.put(pending)

    def start_metering(self) -> None:
        """Start the running loop's metering process now rather than with the first call (so
        it is there when the machine runs short of descriptors or processes later)."""
        if self._metered is not None:
            self._meter(asyncio.get_running_loop()).start()

    def _meter(self, loop):
        meter = self.meters.get(loop)
        if meter is None:
            for old in [other for other in self.meters if other.is_closed()]:
                self.meters.pop(old).close()
            meter = self.meters[loop] = self._metering.MeterChannel(self.path, loop)
        return meter

    async def write(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(conn)`` in the writer thread; return its value once its transaction commits."""
        return await self._put(fn, None, False)

    async def append(self, fn: Callable[[Any, list], Any], item: Any) -> None:
        """Have ``item`` written by ``fn(conn, items)``; return once its transaction commits.

        Consecutive appends with the same ``fn`` in a batch are written by one call (one
        ``executemany`` and one counter update per key, rather than one of each per item).
        """
        await self._put(fn, item, True)

    async def write_chunks(self, fn: Callable[[Any], int]) -> int:
        """Run ``fn(conn)`` in one transaction after another until it returns 0; the sum."""
        total = 0
        while n := await self.write(fn):
            total += n
        return total

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            conn = self._writer()
            batch = item
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
                batch.extend(nxt)
            if conn is None:  # no connection to the server: this batch fails, the next retries
                err = self._reconnect_error
                _resolve_later([(w, False, err) for w in batch])
            else:
                _resolve_later(self._run_batch(conn, batch))
            if stop:
                break
        if self._writer_conn is not None:
            self._writer_conn.close()

    def _hold_platform_lock(self, conn, wait: float) -> None:
        deadline = time.monotonic() + wait
        while not conn.execute("SELECT pg_try_advisory_lock(?)", (PG_PLATFORM_LOCK,)).fetchone()[0]:
            if time.monotonic() >= deadline:
                from ..errors import UsageError

                raise UsageError(
                    f"Another platform process already uses the database {self.describe()}: "
                    "stop it, or give this platform a database of its own (one platform per "
                    "database).",
                    type="database_in_use",
                )
            time.sleep(0.2)

    def _writer(self):
        """The writer's connection; on PostgreSQL a new one when the server dropped it (a
        restart): the batch that was running then failed (its callers got the error, none of it
        is reported committed), the next ones are written again. None if it cannot connect."""
        conn = self._writer_conn
        if self.dialect != POSTGRESQL or (conn is not None and not conn.broken):
            return conn
        if conn is not None:
            conn.close()
            self._writer_conn = None
        try:
            conn = self._connect()
        except Exception as err:
            self._reconnect_error = err
            return None
        try:
            self._hold_platform_lock(conn, 0)  # (the old connection's went with it)
        except Exception as err:
            conn.close()
            self._reconnect_error = err
            return None
        self._writer_conn = conn
        return conn

    def _run_batch(self, conn, batch: list[_Write]) -> list[tuple]:
        begin = self._begin
        try:
            try:
                conn.execute(begin)
            except Exception:
                if self.dialect != POSTGRESQL or not conn.broken:
                    raise
                conn = self._writer()  # nothing of the batch was sent: on a new connection
                if conn is None:
                    raise self._reconnect_error from None
                conn.execute(begin)
            try:
                # Optimistic: writes rarely fail, so no savepoint per item.
                if self.dialect == POSTGRESQL and all(w.batched for w in batch):
                    # The gateway's appends (they return nothing): their statements and the
                    # COMMIT go to the server in one pipeline, one round trip for the batch.
                    with conn.pipeline():
                        results = _run_grouped(conn, batch)
                        conn.execute("COMMIT")
                    self._commits += 1
                    return results
                results = _run_grouped(conn, batch)
            except BaseException as err:
                conn.execute("ROLLBACK")
                if len(batch) == 1:
                    return [(batch[0], False, err)]
                # One failed: run the batch again, each write in a savepoint, so that only the
                # failing one fails.
                conn.execute(begin)
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
            except Exception:
                pass
            return [(w, False, err) for w in batch]
        self._commits += 1
        return results

    def close(self) -> None:
        """Finish queued writes, then stop the metering processes and the writer thread."""
        for loop in list(self._pending):  # writes of a turn not yet handed over
            self._hand_over(loop)
        for meter in list(self.meters.values()):  # (the writes waiting for them queue now)
            meter.close()
        self._queue.put(_STOP)
        self._thread.join(timeout=30)
        if self.dialect == POSTGRESQL:  # a server connection each: give them back now
            with self._readers_lock:
                readers, self._readers = self._readers, []
            for conn in readers:
                conn.close()


def _run_grouped(conn, batch: list[_Write]) -> list[tuple]:
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
