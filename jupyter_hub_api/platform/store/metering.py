"""The gateway's metering write (its invocation rows and their counters), and on SQLite the
process that runs it.

:func:`write` is what ``Invocations.add`` queues with ``Database.append``: the rows of a batch
of answered calls, one counter upsert per (user, API, month/day/bucket) key, the keys'
``last_used_at``, the history's pruning. On PostgreSQL the writer thread runs it (the
statements' work is the server's, in another process already). On SQLite that work is the
platform's own CPU, and run in the writer thread it fought the event loop for the GIL on every
statement step (sqlite3 releases and retakes it around each one). So there the event loop hands
each turn's rows to a child process instead, through a :class:`MeterChannel`: the child runs
them on its own connection and answers after its ``COMMIT``, and the answer resolves the calls'
futures, so an answered call is still a committed one. ``db.Database`` has its writer thread's
writes wait for the metering batches handed over before them, so the calls keep their order.

This module imports nothing but the standard library, so the child (``python -I -S
this-file.py DB``) is ready ~50 ms after its spawn and holds 14 MB (7 MB of it its own). Its
protocol, on its stdin and stdout: frames of a 4-byte big-endian length and a pickle. The
parent sends a list of items (tuples, as ``invocations._item`` makes them); the child takes
every frame that has arrived (and, under load, waits a little for more: :data:`GROUP_ROWS`)
into one transaction and answers each frame, in order, ``None``
(committed) or a list with one entry per item, an exception or ``None`` (the transaction
failed, then was run again item by item in savepoints, so only the failing ones failed). At
the end of its stdin the child exits.
"""

from __future__ import annotations

import collections
import os
import pickle
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import time

_COLUMNS = (
    "INSERT INTO invocations (id, user_id, api_id, api_name, version_id, key_id, ts, month,"
    " status, counted, latency_ms, input, input_truncated, output, output_truncated,"
    " error_type, error_message) VALUES "
)
_ROW = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
INSERT = _COLUMNS + _ROW
# Rows per INSERT on SQLite: 48 x 17 parameters stay under the 999 of SQLite before 3.32.
ROWS_PER_INSERT = 48
_MULTI = [""] + [_COLUMNS + ",".join([_ROW] * n) for n in range(1, ROWS_PER_INSERT + 1)]
_PRUNE = (
    "DELETE FROM invocations WHERE api_id = ? AND ts < ("
    " SELECT ts FROM invocations WHERE api_id = ? ORDER BY ts DESC LIMIT 1 OFFSET ?)"
)
_UPSERT = (
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT ({key}) DO UPDATE SET"
    " calls = {t}.calls + excluded.calls, errors = {t}.errors + excluded.errors,"
    " failures = {t}.failures + excluded.failures"
)
_MONTHLY = "INSERT INTO usage_monthly (user_id, month, api_name, calls, errors, failures)" + (
    _UPSERT.format(key="user_id, month, api_name", t="usage_monthly")
)
_DAILY = "INSERT INTO usage_daily (user_id, day, api_name, calls, errors, failures)" + (
    _UPSERT.format(key="user_id, day, api_name", t="usage_daily")
)
_BUCKETS = (
    "INSERT INTO latency_buckets (api_id, month, bucket, count) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (api_id, month, bucket) DO UPDATE SET"
    " count = latency_buckets.count + excluded.count"
)
_TOUCH = "UPDATE keys SET last_used_at = ? WHERE id = ?"

# An item (a plain tuple: it crosses to the child as a pickle):
# (row values, user_id, api_id, api_name, month, day, (calls, errors, failures), latency
#  bucket or None, (key id, stamp) or None, rows to keep or None)
VALUES, USER, API_ID, API_NAME, MONTH, DAY, COUNTS, BUCKET, TOUCH, PRUNE = range(10)


def _insert(conn, items: list[tuple]) -> None:
    """The rows of ``items``. On SQLite up to :data:`ROWS_PER_INSERT` rows per statement (a
    statement steps once per chunk rather than once per row); PostgreSQL's rows go in the
    writer's pipeline."""
    if getattr(conn, "dialect", "sqlite") != "sqlite":
        conn.executemany(INSERT, [p[VALUES] for p in items])
        return
    for start in range(0, len(items), ROWS_PER_INSERT):
        chunk = items[start : start + ROWS_PER_INSERT]
        conn.execute(_MULTI[len(chunk)], [v for p in chunk for v in p[VALUES]])


def write(conn, items: list[tuple]) -> None:
    """Write ``items`` (tuples, as above) with their counters, in the caller's transaction."""
    _insert(conn, items)
    monthly: dict[tuple, list[int]] = {}
    daily: dict[tuple, list[int]] = {}
    buckets: dict[tuple, int] = {}
    touched: dict[str, str] = {}
    prune: dict[int, int] = {}
    for p in items:
        counts = p[COUNTS]
        for table, key in ((monthly, (p[USER], p[MONTH], p[API_NAME])),
                           (daily, (p[USER], p[DAY], p[API_NAME]))):  # fmt: skip
            sums = table.get(key)
            if sums is None:
                table[key] = list(counts)
            else:
                for i, n in enumerate(counts):
                    sums[i] += n
        if p[BUCKET] is not None:
            key = (p[API_ID], p[MONTH], p[BUCKET])
            buckets[key] = buckets.get(key, 0) + 1
        if p[TOUCH]:
            touched[p[TOUCH][0]] = p[TOUCH][1]
        if p[PRUNE] is not None:
            prune[p[API_ID]] = p[PRUNE]
    conn.executemany(_MONTHLY, [(*k, *v) for k, v in monthly.items()])
    conn.executemany(_DAILY, [(*k, *v) for k, v in daily.items()])
    conn.executemany(_BUCKETS, [(*k, n) for k, n in buckets.items()])
    if touched:
        conn.executemany(_TOUCH, [(t, k) for k, t in touched.items()])
    for api_id, keep in prune.items():
        conn.execute(_PRUNE, (api_id, api_id, keep))


def write_batch(conn, items: list[tuple]) -> list | None:
    """:func:`write` in a transaction of its own: None once committed; if it failed, each item
    again in a savepoint, and one entry per item (its exception, or None: committed)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        write(conn, items)
    except BaseException as err:
        conn.execute("ROLLBACK")
        if len(items) == 1:
            return [err]
        conn.execute("BEGIN IMMEDIATE")
        outcomes: list = []
        for p in items:
            conn.execute("SAVEPOINT item")
            try:
                write(conn, [p])
            except Exception as item_err:
                conn.execute("ROLLBACK TO item")
                outcomes.append(item_err)
            else:
                outcomes.append(None)
            conn.execute("RELEASE item")
        conn.execute("COMMIT")
        return outcomes
    conn.execute("COMMIT")
    return None


# -- the process ---------------------------------------------------------------------------------
_LENGTH = struct.Struct("!I")


class MeterStopped(RuntimeError):
    """The metering process ended (killed, or crashed) before it answered a batch."""


def _frame(obj) -> bytes:
    try:
        body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception that does not pickle: its text
        body = pickle.dumps([RuntimeError(repr(e)) if e else None for e in obj])
    return _LENGTH.pack(len(body)) + body


class MeterChannel:
    """One event loop's link to a metering process of one SQLite file (started on the first
    batch, and again after it ended): batches go out as the loop hands them over, without
    waiting for the answers to the earlier ones; answers come back in order and resolve the
    batch's futures on the loop. Used only on that loop's thread, except :meth:`close`."""

    def __init__(self, path, loop) -> None:
        self.path = str(path)
        self.loop = loop
        self._proc: subprocess.Popen | None = None
        self._unsent = bytearray()
        self._received = bytearray()
        # Per batch sent and not answered yet: [its futures, callbacks to run once answered].
        self._waiting: collections.deque[list] = collections.deque()
        self.commits = 0  # batches the process answered (committed, wholly or but for some)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _start(self) -> subprocess.Popen:
        # -I: neither the caller's PYTHONPATH nor user site; -S: no site-packages (the standard
        # library is all this file needs).
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.abspath(__file__), self.path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        os.set_blocking(proc.stdin.fileno(), False)
        os.set_blocking(proc.stdout.fileno(), False)
        try:
            self.loop.add_reader(proc.stdout.fileno(), self._readable)
        except RuntimeError:  # a closed loop (a write handed over by Database.close): its
            pass  # answers are read by close()
        return proc

    def start(self) -> None:
        """Start the process now (it is otherwise started by the first batch); an OSError
        if it cannot be (no descriptor or process left)."""
        if self._proc is None:
            self._proc = self._start()

    def send(self, items: list[tuple], futures: list) -> None:
        """Have ``items`` written; ``futures[i]`` resolves with None once item ``i`` is
        committed, or with the exception that kept it out."""
        try:
            self.start()
        except OSError as err:
            failure = MeterStopped(
                f"The platform cannot start its metering process ({err.strerror or err}), so "
                "this call was not recorded: free descriptors or processes (or raise their "
                "limits) and call again."
            )
            self._waiting.append([futures, []])
            self._answered([failure] * len(futures))
            return
        self._waiting.append([futures, []])
        frame = _frame(items)
        if self._unsent:
            self._unsent += frame
            return
        try:
            n = os.write(self._proc.stdin.fileno(), frame)
        except BlockingIOError:
            n = 0
        except OSError:  # the process is gone; its end of stdout says so, and _ended follows
            return
        if n < len(frame):
            self._unsent = bytearray(frame[n:])
            self.loop.add_writer(self._proc.stdin.fileno(), self._writable)

    def after_answers(self, callback) -> bool:
        """Run ``callback()`` once every batch sent so far is answered (committed or failed);
        False (not registered) when none is in flight."""
        if not self._waiting:
            return False
        self._waiting[-1][1].append(callback)
        return True

    def _writable(self) -> None:
        proc = self._proc
        try:
            n = os.write(proc.stdin.fileno(), self._unsent)
        except BlockingIOError:
            return
        except OSError:
            n = len(self._unsent)
        del self._unsent[:n]
        if not self._unsent:
            self.loop.remove_writer(proc.stdin.fileno())

    def _readable(self) -> None:
        try:
            data = os.read(self._proc.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._ended()
            return
        self._received += data
        for frame in _frames(self._received):
            self.commits += 1
            self._answered(pickle.loads(frame))

    def _answered(self, answer) -> None:
        futures, callbacks = self._waiting.popleft()
        _resolve(futures, answer)
        for callback in callbacks:
            callback()

    def _ended(self) -> None:
        """The process ended: what it did not answer fails; the next batch starts another."""
        proc, self._proc = self._proc, None
        self._detach(proc)
        code = proc.poll()
        if code is None:
            proc.kill()
            code = proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        self._unsent.clear()
        self._received.clear()
        while self._waiting:
            err = MeterStopped(
                f"The platform's metering process ended (exit code {code}) before it committed "
                "this call; it is started again for the next calls."
            )
            self._answered([err] * len(self._waiting[0][0]))

    def _detach(self, proc) -> None:
        try:
            self.loop.remove_reader(proc.stdout.fileno())
            if self._unsent:
                self.loop.remove_writer(proc.stdin.fileno())
        except Exception:  # noqa: BLE001 - the loop is closed already
            pass

    def close(self, timeout: float = 10.0) -> None:
        """End the process after it has written everything sent: what is still unsent goes
        out, its stdin is closed, its answers are read to the end (the futures resolve on the
        loop, if it still runs), then it is killed if it has not exited within ``timeout``
        seconds."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        self._detach(proc)
        try:
            os.set_blocking(proc.stdin.fileno(), True)
            if self._unsent:
                proc.stdin.write(self._unsent)
            proc.stdin.close()
        except OSError:
            pass
        os.set_blocking(proc.stdout.fileno(), True)
        # It answers everything sent, then exits at the end of its stdin: its answers up to
        # the end of its stdout, after what _readable had already read of a frame.
        self._received += proc.stdout.read()
        proc.stdout.close()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        answers = [pickle.loads(frame) for frame in _frames(self._received)]
        self.commits += len(answers)
        stopped = MeterStopped("The platform stopped before this call was recorded.")
        batches = list(self._waiting)
        self._waiting.clear()
        for _, callbacks in batches:  # (they queue writes: thread-safe, and due now)
            for callback in callbacks:
                callback()

        def resolve() -> None:
            for i, (futures, _) in enumerate(batches):
                _resolve(futures, answers[i] if i < len(answers) else [stopped] * len(futures))

        try:
            self.loop.call_soon_threadsafe(resolve)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass


def _resolve(futures: list, answer) -> None:
    """Settle a batch's futures with its answer (see the module's docstring)."""
    if answer is None:
        answer = [None] * len(futures)
    for fut, err in zip(futures, answer, strict=True):
        if fut.done():  # the awaiting task was cancelled meanwhile
            continue
        if err is None:
            fut.set_result(None)
        else:
            fut.set_exception(err)


#: Every connection to the platform's SQLite file, the platform's and this child's: WAL,
#: synchronous=NORMAL (a commit survives a kill of either process), foreign keys.
SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON")


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)  # (as db.Database's)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(pragma)
    return conn


def _frames(buf: bytearray) -> list[bytes]:
    """The whole frames at the start of ``buf``, taken out of it."""
    out = []
    size = _LENGTH.size
    while len(buf) >= size:
        (length,) = _LENGTH.unpack_from(buf)
        if len(buf) < size + length:
            break
        out.append(bytes(buf[size : size + length]))
        del buf[: size + length]
    return out


# Group commit, waiting a little for company (PostgreSQL's commit_delay, made adaptive): a
# commit costs the same for one row as for a dozen (a WAL frame and two system calls per page
# it dirties, the -shm file's locks), and under load the frames arrive a fraction of a commit
# apart. So when the frames taken hold fewer than GROUP_ROWS rows and frames have been arriving
# less than half of COMMIT_DELAY apart on average, the child waits up to COMMIT_DELAY in all for
# more before it commits. A lone call (frames further apart) is committed at once.
GROUP_ROWS = 16
COMMIT_DELAY = 0.001  # seconds
_GAP_WEIGHT = 0.25  # of the newest gap in the moving average of the gaps between frames


def _take(stdin: int, buf: bytearray, state: list) -> tuple[list[list], bool]:
    """The batches (unpickled frames) to commit together, and whether stdin ended: waits for
    the first, takes what else has arrived, and may wait a little for more (GROUP_ROWS).
    ``state``: [the moving average of the gaps between frames, when the last one came]."""
    batches: list[list] = []
    rows = 0
    deadline = None
    while True:
        if batches and not select.select([stdin], [], [], 0)[0]:
            if rows >= GROUP_ROWS or state[0] >= COMMIT_DELAY / 2:
                return batches, False
            now = time.monotonic()
            if deadline is None:
                deadline = now + COMMIT_DELAY
            if now >= deadline or not select.select([stdin], [], [], deadline - now)[0]:
                return batches, False
        # (64 KiB: a bigger buffer would be mapped and unmapped again on every read)
        data = os.read(stdin, 1 << 16)
        if not data:
            return batches, True
        buf += data
        new = [pickle.loads(frame) for frame in _frames(buf)]
        if new:
            now = time.monotonic()
            state[0] += _GAP_WEIGHT * (min(now - state[1], 1.0) - state[0])
            state[1] = now
            batches += new
            rows += sum(len(batch) for batch in new)


def main(argv: list[str]) -> int:
    """The child: batches from stdin, answers to stdout, until stdin ends. The batches that
    have arrived by the time one is taken go in the same transaction (group commit: one commit,
    one write of the WAL, for all of them; see GROUP_ROWS), each answered on its own."""
    # A Ctrl-C or a TERM to the platform's process group is for the platform: it still needs
    # its calls committed while it drains them; the child ends with its stdin (the platform
    # closed it, or exited, or was killed).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn = _connect(argv[0])
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    buf = bytearray()
    ended = False
    state = [1.0, time.monotonic()]
    while not ended:
        batches, ended = _take(stdin, buf, state)
        if not batches:
            break
        items = [item for batch in batches for item in batch]
        try:
            outcome = write_batch(conn, items)
        except Exception as err:  # the commit itself failed: nothing of the batch is kept
            try:
                conn.execute("ROLLBACK")
            except Exception:
                pass
            outcome = [err] * len(items)
        answers = bytearray()
        start = 0
        for batch in batches:
            part = None if outcome is None else outcome[start : start + len(batch)]
            if part is not None and not any(part):
                part = None
            answers += _frame(part)
            start += len(batch)
        try:
            _write_all(stdout, answers)
        except BrokenPipeError:  # the platform is gone
            break
    conn.close()
    return 0


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
