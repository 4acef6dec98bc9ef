"""The platform's state (platform.db): migrations, the one write path, the usage counters.

These run the real :class:`Database` and repositories on both backends (the ``database_url``
fixture: a SQLite file in the test's directory, and a database of a real PostgreSQL cluster); the
platform process tests (``test_platform_process.py``: kill -9 loses no answered call) cover the
same code end to end.
"""

from __future__ import annotations

import asyncio
import calendar
import math
import os
import random
import select
import signal
import sqlite3
import threading
import time

import psutil
import pytest

from jupyter_hub_api.platform.db import (
    Database,
    IntegrityError,
    PgConnection,
    SqliteConnection,
    is_database_url,
)
from jupyter_hub_api.platform.models import InvocationRow
from jupyter_hub_api.platform.store import Repositories, invocations, logs, metering, migrations
from jupyter_hub_api.platform.store.histogram import bucket_of, upper_edge
from jupyter_hub_api.platform.store.metering import MeterStopped
from jupyter_hub_api.platform.store.migrations import MIGRATIONS

STAMP = "2026-11-30T10:00:00Z"


def _ts(year: int, month: int, day: int, hour: int = 12) -> float:
    return calendar.timegm((year, month, day, hour, 0, 0))


def _row(n: int, api_id: int, api: str, ts: float, user_id: int = 1, **kw) -> InvocationRow:
    values = dict(
        id=f"inv{api_id}-{n}",
        user_id=user_id,
        api_id=api_id,
        api_name=api,
        version_id=None,
        key_id=None,
        ts=ts,
        month=time.strftime("%Y-%m", time.gmtime(ts)),
        status=200,
        counted=True,
        latency_ms=1.0,
        input=b'"in"',
        output=b'"out"',
    )
    values.update(kw)
    return InvocationRow(**values)


async def _add(repos: Repositories, rows: list[InvocationRow]) -> None:
    # All at once, as concurrent gateway calls: the writer takes them in batches.
    await asyncio.gather(*(repos.invocations.add(r, 1024, None, False) for r in rows))


async def _api(repos: Repositories, user_id: int, name: str) -> int:
    return await repos.apis.create(user_id, name, STAMP)


# -- migrations -------------------------------------------------------------------------------
_OLD_ROWS = [
    ("INSERT INTO users (id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
     (1, "alice", "digest", "2026-10-01T00:00:00Z")),
    ("INSERT INTO apis (id, user_id, name, live_version_id, created_at, updated_at)"
     " VALUES (?, ?, ?, ?, ?, ?)",
     (1, 1, "digits", 1, "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z")),
    ("INSERT INTO versions (id, api_id, seq, build_id, version, record, dir, python, status,"
     " error, created_at, deployed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
     (1, 1, 1, "b1", "0.1.0", '{"config": {}}', "/v", "/py", "live", None,
      "2026-10-01T00:00:00Z", "2026-10-01T00:00:01Z")),
    ("INSERT INTO keys (id, user_id, name, prefix, hash, secret, enabled, created_at,"
     " last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
     ("key_1", 1, "default", "hub_abcd", "h", b"\x00", 1, "2026-10-01T00:00:00Z", None)),
    ("INSERT INTO usage_monthly VALUES (?, ?, ?, ?, ?, ?)", (1, "2026-10", "digits", 3, 1, 1)),
    ("INSERT INTO logs (api_id, version_id, invocation_id, ts, stream, line)"
     " VALUES (?, ?, ?, ?, ?, ?)", (1, 1, "i1", 1.0, "stdout", "hello")),
]  # fmt: skip


def _old_release_database(target: str) -> None:
    """A database with the schema of step 1 only and rows in it: on SQLite, platform.db as the
    release before migrations left it (user_version 0); on PostgreSQL, one whose opening
    stopped after step 1 (so step 2 fills its counters from the history, as on SQLite)."""
    if is_database_url(target):
        conn = PgConnection(target)
        conn.execute("BEGIN")
        migrations.MIGRATIONS[0](conn)
        conn.execute(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        conn.execute("INSERT INTO schema_migrations VALUES (1, '2026-10-01T00:00:00Z')")
    else:
        conn = sqlite3.connect(target, isolation_level=None, factory=SqliteConnection)
        conn.execute("BEGIN")
        migrations._run_script(conn, migrations._V1)
    for sql, args in _OLD_ROWS:
        conn.execute(sql, args)
    for n, (day, status, counted, latency) in enumerate(
        [(30, 200, 1, 5.0), (31, 200, 1, 7.0), (31, 500, 1, 9.0), (31, 502, 0, 30000.0)]
    ):
        ts = _ts(2026, 10, day)
        conn.execute(
            "INSERT INTO invocations (id, user_id, api_id, api_name, ts, month, status, counted,"
            " latency_ms) VALUES (?, 1, 1, 'digits', ?, '2026-10', ?, ?, ?)",
            (f"i{n}", ts, status, counted, latency),
        )
    conn.execute("COMMIT")
    if not is_database_url(target):
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    conn.close()


def test_a_database_of_the_previous_release_opens_and_keeps_its_rows(database_url):
    path = database_url
    _old_release_database(path)
    db = Database(path)
    try:
        assert db.schema_version == len(MIGRATIONS)
        repos = Repositories(db)
        assert repos.users.by_name("alice").token_hash == "digest"
        assert [a.name for a in repos.apis.all()] == ["digits"]
        assert repos.versions.get(1).record == {"config": {}}
        assert [k.id for k in repos.keys.of_user(1)] == ["key_1"]
        assert repos.keys.secret(1, "key_1") == b"\x00"
        assert [line.line for line in repos.logs.read(1)] == ["hello"]
        assert repos.usage.by_api(1, "2026-10")["digits"].calls == 3  # the old counter stays
        assert len(repos.invocations.page(1, 10)) == 4
        # The new counters are filled from the history the old release kept.
        days = repos.usage.calls_per_day(1, "2026-10")["digits"]
        assert len(days) == 31 and days[29] == 1 and days[30] == 2 and sum(days) == 3
        latency = repos.usage.latency([1], "2026-10")[1]
        assert latency.sampled == 3
        assert latency.p50_ms == upper_edge(bucket_of(7.0))
        assert latency.p99_ms == upper_edge(bucket_of(9.0))
    finally:
        db.close()
    again = Database(path)  # opening again runs nothing more
    assert again.schema_version == len(MIGRATIONS)
    assert Repositories(again).usage.latency([1], "2026-10")[1].sampled == 3
    again.close()


def test_a_database_newer_than_the_release_is_refused_with_a_sentence(database_url):
    if is_database_url(database_url):
        Database(database_url).close()
        conn = PgConnection(database_url)
        conn.execute("INSERT INTO schema_migrations VALUES (?, 'later')", (len(MIGRATIONS) + 1,))
    else:
        conn = sqlite3.connect(database_url)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this release knows"):
        Database(database_url)


def test_platforms_opening_one_postgresql_database_at_once_apply_each_step_once(postgres):
    from jupyter_hub_api.errors import UsageError

    url = postgres.new_database()
    opened: list[Database] = []
    errors: list[BaseException] = []

    def open_it():
        try:
            opened.append(Database(url, lock_wait=1.0))
        except BaseException as err:  # checked below
            errors.append(err)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Each step once, whoever ran it; then one platform per database: the others are refused.
    assert [db.schema_version for db in opened] == [len(MIGRATIONS)]
    versions = opened[0].query("SELECT version FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in versions] == list(range(1, len(MIGRATIONS) + 1))
    assert len(errors) == 3 and all(isinstance(e, UsageError) for e in errors), errors
    assert "Another platform process already uses the database" in str(errors[0])
    opened[0].close()
    again = Database(url, lock_wait=1.0)  # free once the first one closed
    assert again.schema_version == len(MIGRATIONS)
    again.close()
    postgres.drop_database(url)


def test_a_dropped_postgresql_connection_is_replaced_and_reads_and_writes_go_on(postgres):
    import psycopg

    url = postgres.new_database()
    db = Database(url)

    async def work():
        repos = Repositories(db)
        await repos.users.create("alice", "a", STAMP)
        assert repos.users.by_name("alice").token_hash == "a"
        # What a restart of the server does to the platform's connections: all are ended.
        with psycopg.connect(postgres.url(), autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (url.split("/")[3].split("?")[0],),
            ).fetchone()[0]
        assert ended >= 2  # the writer's and this thread's reader
        assert repos.users.by_name("alice").token_hash == "a"  # read on a new connection
        bob = await repos.users.create("bob", "b", STAMP)  # written on a new connection
        assert repos.users.by_id(bob).name == "bob"

    try:
        asyncio.run(work())
    finally:
        db.close()
        postgres.drop_database(url)


def test_the_database_section_and_hub_database_url_are_checked_in_one_sentence(monkeypatch):
    from jupyter_hub_api.errors import UsageError
    from jupyter_hub_api.platform.config import database_url, parse_config

    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    assert database_url(parse_config({})) is None  # the SQLite file
    url = "postgresql://hub:pw@db.example/hub"
    assert database_url(parse_config({"database": {"url": url}})) == url
    for bad in ({"url": "mysql://db/hub"}, {"uri": url}, url):
        with pytest.raises(UsageError, match=r"database(\.url)? must be"):
            parse_config({"database": bad}, "config.json")
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql://other/hub")
    assert database_url(parse_config({"database": {"url": url}})) == "postgresql://other/hub"
    monkeypatch.setenv("HUB_DATABASE_URL", "sqlite:///x.db")
    with pytest.raises(UsageError, match="HUB_DATABASE_URL must be a postgresql:// URL"):
        database_url(parse_config({}))


# -- the write path ---------------------------------------------------------------------------
def test_only_the_writer_thread_writes(database_url):
    db = Database(database_url)
    writers: set[int] = set()
    statements: list[str] = []

    def trace(sql: str) -> None:
        writers.add(threading.get_ident())
        statements.append(sql)

    db._writer_conn.set_trace_callback(trace)

    async def work():
        repos = Repositories(db)
        user = await repos.users.create("alice", "d", STAMP)
        api = await _api(repos, user, "a")
        await repos.keys.add(
            dict(
                id="k", user_id=user, name="n", prefix="p", hash="h", secret=b"s", created_at=STAMP
            )
        )
        await repos.versions.add(api, {"build_id": "b", "version": 1}, "/v", "/py", STAMP)
        await _add(repos, [_row(n, api, "a", time.time()) for n in range(50)])
        await repos.logs.add([(api, None, None, 1.0, "stdout", "x")], {api}, 10)
        await repos.apis.delete(api)
        # The loop's own connection refuses to write.
        with pytest.raises(Exception, match="readonly|read-only"):
            db.conn().execute("DELETE FROM users")
        return threading.get_ident()

    loop_thread = asyncio.run(work())
    db.close()
    assert writers == {db.writer_thread.ident} and loop_thread not in writers
    # On SQLite the gateway's rows are the metering process's to write (the tests below).
    inserted = any(sql.startswith("INSERT INTO invocations") for sql in statements)
    assert inserted == is_database_url(database_url)


def test_one_failing_write_of_a_batch_fails_alone(database_url):
    db = Database(database_url)

    async def work():
        repos = Repositories(db)
        user = await repos.users.create("alice", "d", STAMP)
        api = await _api(repos, user, "a")
        now = time.time()
        await repos.invocations.add(_row(0, api, "a", now), 1024, None, False)
        # Queued together (one batch), one of them reuses a taken invocation id.
        rows = [_row(n, api, "a", now + n) for n in range(1, 9)] + [_row(0, api, "a", now)]
        outcomes = await asyncio.gather(
            *(repos.invocations.add(r, 1024, None, False) for r in rows), return_exceptions=True
        )
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(failed) == 1 and isinstance(failed[0], IntegrityError)
        assert len(repos.invocations.page(api, 50)) == 9  # the first and the other eight
        assert repos.usage.by_api(user, time.strftime("%Y-%m", time.gmtime(now)))["a"].calls == 9
        # And the writer goes on.
        await repos.invocations.add(_row(99, api, "a", now), 1024, None, False)
        assert len(repos.invocations.page(api, 50)) == 10

    asyncio.run(work())
    db.close()


def test_deleting_a_large_api_commits_chunk_by_chunk_and_other_writes_go_between(database_url):
    db = Database(database_url)

    async def work():
        repos = Repositories(db)
        user = await repos.users.create("alice", "d", STAMP)
        big, other = await _api(repos, user, "big"), await _api(repos, user, "other")
        rows = 6 * invocations.CHUNK_ROWS
        now = time.time()
        await _add(repos, [_row(n, big, "big", now - n) for n in range(rows)])
        lines = [(big, None, None, 1.0, "stdout", "x")] * (3 * logs.CHUNK_ROWS)
        await repos.logs.add(lines, None, 0)
        commits = db.commits
        deleting = asyncio.ensure_future(repos.apis.delete(big))
        await asyncio.sleep(0)  # the delete queues its first chunk
        await repos.invocations.add(_row(0, other, "other", now), 1024, None, False)
        # Committed while the big API is still being deleted: queued behind one chunk, not
        # behind the whole history.
        assert not deleting.done()
        await deleting
        assert db.commits - commits >= 6 + 3 + 1
        assert repos.invocations.page(big, 10) == [] and repos.logs.read(big) == []
        assert repos.apis.get(big) is None
        assert [i.id for i in repos.invocations.page(other, 10)] == [f"inv{other}-0"]
        # The counts of the deleted API stay (they are what the quota counted).
        assert repos.usage.by_api(user, time.strftime("%Y-%m"))["big"].calls > 0

    asyncio.run(work())
    db.close()


# -- the metering process (SQLite) ------------------------------------------------------------
@pytest.fixture
def db(tmp_path):
    """A Database on a SQLite file of the test's own (its metering process is the subject)."""
    db = Database(tmp_path / "platform.db")
    yield db
    db.close()


def _hold_write_lock(path) -> sqlite3.Connection:
    """Another connection holding SQLite's write lock: writers wait for it (busy timeout)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    return conn


async def _handed_over() -> None:
    for _ in range(5):  # the calls run, queue their rows, and the turn hands them over
        await asyncio.sleep(0)


def _adds(repos: Repositories, rows: list[InvocationRow]) -> list[asyncio.Future]:
    return [asyncio.ensure_future(repos.invocations.add(r, 1024, None, False)) for r in rows]


async def _alice(db: Database) -> tuple[Repositories, int, int]:
    """The repositories, user alice and her API ``a``."""
    repos = Repositories(db)
    user = await repos.users.create("alice", "d", STAMP)
    return repos, user, await _api(repos, user, "a")


async def _stuck(repos: Repositories, rows: list[InvocationRow]):
    """Calls whose rows reach the metering process and wait there, behind another connection
    holding the write lock; that connection and the calls' futures."""
    blocker = _hold_write_lock(repos.db.path)
    adds = _adds(repos, rows)
    await _handed_over()
    return blocker, adds


def _release(blocker: sqlite3.Connection) -> None:
    blocker.execute("ROLLBACK")
    blocker.close()


def test_a_killed_metering_process_fails_its_calls_clearly_and_the_next_calls_get_a_new_one(
    db,
):
    async def work():
        repos, user, api = await _alice(db)
        now = time.time()
        await _add(repos, [_row(n, api, "a", now + n) for n in range(10)])
        first = db.meters[asyncio.get_running_loop()].pid
        assert first is not None and first != os.getpid()
        # Calls whose rows wait in the metering process (for the write lock), one batch per
        # loop turn, all sent without waiting for one another. Then it dies.
        blocker = _hold_write_lock(db.path)
        sent: list[asyncio.Future] = []
        for turn in range(6):
            rows = [_row(n, api, "a", now + n) for n in range(100 + 10 * turn, 105 + 10 * turn)]
            sent.extend(_adds(repos, rows))
            await _handed_over()
        await asyncio.sleep(0.2)
        assert not any(f.done() for f in sent)
        os.kill(first, signal.SIGKILL)
        outcomes = await asyncio.wait_for(asyncio.gather(*sent, return_exceptions=True), 10)
        _release(blocker)
        assert all(isinstance(o, MeterStopped) for o in outcomes), outcomes
        assert "metering process ended (exit code -9)" in str(outcomes[0])
        # The next calls start another process and are committed.
        await _add(repos, [_row(n, api, "a", now + n) for n in range(60, 70)])
        second = db.meters[asyncio.get_running_loop()].pid
        assert second not in (None, first)
        kept = [*range(10), *range(60, 70)]
        ids = {i.id for i in repos.invocations.page(api, 200)}
        assert ids == {f"inv{api}-{n}" for n in kept}
        month = time.strftime("%Y-%m", time.gmtime(now))
        assert repos.usage.by_api(user, month)["a"].calls == len(kept)  # none of the failed

    asyncio.run(work())


def test_a_write_queued_after_the_gateways_rows_is_committed_after_them(db):
    # An API deleted while its last calls' rows are still being written leaves none of them
    # behind: the deletion waits for the rows handed over before it.

    async def work():
        repos, _, api = await _alice(db)
        now = time.time()
        blocker, adds = await _stuck(repos, [_row(n, api, "a", now + n) for n in range(200)])
        deleting = asyncio.ensure_future(repos.apis.delete(api))
        await asyncio.sleep(0.3)
        _release(blocker)
        assert await asyncio.gather(*adds) == [None] * 200
        await deleting
        assert db.query_one("SELECT COUNT(*) FROM invocations")[0] == 0
        assert repos.apis.get(api) is None

    asyncio.run(work())


def test_closing_the_database_commits_and_answers_what_was_handed_over(db):
    async def work():
        repos, _, api = await _alice(db)
        blocker, adds = await _stuck(repos, [_row(n, api, "a", time.time()) for n in range(50)])
        threading.Timer(0.3, _release, (blocker,)).start()
        meter = db.meters[asyncio.get_running_loop()].pid
        db.close()  # in the loop's thread, as Platform.stop does
        assert await asyncio.gather(*adds) == [None] * 50
        return meter

    meter = asyncio.run(work())
    assert not psutil.pid_exists(meter) or psutil.Process(meter).status() == psutil.STATUS_ZOMBIE
    conn = sqlite3.connect(db.path)
    assert conn.execute("SELECT COUNT(*) FROM invocations").fetchone()[0] == 50
    conn.close()


def test_closing_after_the_loop_read_part_of_an_answer_still_answers_every_call(db):
    async def work():
        repos, _, api = await _alice(db)
        blocker, adds = await _stuck(repos, [_row(n, api, "a", time.time()) for n in range(20)])
        meter = db.meters[asyncio.get_running_loop()]
        _release(blocker)
        # The answer reaches the pipe while the loop is held here (no turn runs), and the loop
        # has taken its first bytes, as one read of the pipe can stop inside a frame.
        answers = meter._proc.stdout.fileno()
        assert select.select([answers], [], [], 10)[0]
        meter._received += os.read(answers, 2)
        db.close()
        assert await asyncio.gather(*adds) == [None] * 20

    asyncio.run(work())


def _framed(rows: int) -> bytes:
    return metering._frame([("item",)] * rows)


@pytest.fixture
def pipe():
    r, w = os.pipe()
    yield r, w
    os.close(r)
    os.close(w)


def test_under_load_the_metering_process_waits_a_little_for_more_calls_to_commit_with(
    pipe, monkeypatch
):
    # Frames arriving a fraction of a commit apart (the moving average of their gaps is
    # small): a small group waits for the next frame rather than committing alone. The wait
    # is made long here so that only a lost frame could fail the test.
    monkeypatch.setattr(metering, "COMMIT_DELAY", 1.5)
    r, w = pipe
    os.write(w, _framed(2))
    threading.Timer(0.05, os.write, (w, _framed(3))).start()
    batches, ended = metering._take(r, bytearray(), [0.0001, time.monotonic()])
    assert [len(b) for b in batches] == [2, 3] and not ended


def test_a_lone_call_or_a_full_group_is_committed_at_once(pipe, monkeypatch):
    monkeypatch.setattr(metering, "COMMIT_DELAY", 1.5)
    r, w = pipe
    # Frames far apart (low load: the last came 10 s ago): the one there is taken alone.
    os.write(w, _framed(1))
    started = time.monotonic()
    batches, _ = metering._take(r, bytearray(), [1.0, time.monotonic() - 10])
    assert [len(b) for b in batches] == [1]
    # A group of GROUP_ROWS rows already: no wait either, however close the frames came.
    os.write(w, _framed(metering.GROUP_ROWS))
    batches, _ = metering._take(r, bytearray(), [0.0001, time.monotonic()])
    assert [len(b) for b in batches] == [metering.GROUP_ROWS]
    assert time.monotonic() - started < metering.COMMIT_DELAY  # neither waited
    # The end of stdin ends the wait with what was taken (a pipe of its own: its writing end
    # is closed meanwhile).
    r2, w2 = os.pipe()
    try:
        os.write(w2, _framed(1))
        threading.Timer(0.05, os.close, (w2,)).start()
        batches, ended = metering._take(r2, bytearray(), [0.0001, time.monotonic()])
    finally:
        os.close(r2)
    assert [len(b) for b in batches] == [1] and ended


# -- counters ---------------------------------------------------------------------------------
def _scan(db: Database, api_id: int, month: str) -> tuple[list[int], list[float | None]]:
    """Calls per day and p50/p95/p99 of an API in a month, from its whole history."""
    rows = db.query(
        "SELECT ts, latency_ms FROM invocations WHERE api_id = ? AND month = ? AND counted = 1",
        (api_id, month),
    )
    year, mon = (int(p) for p in month.split("-"))
    days = [0] * calendar.monthrange(year, mon)[1]
    for r in rows:
        days[time.gmtime(r["ts"]).tm_mday - 1] += 1
    values = sorted(r["latency_ms"] for r in rows)
    ps = []
    for p in (50, 95, 99):
        if not values:
            ps.append(None)
            continue
        exact = values[max(1, math.ceil(p / 100 * len(values))) - 1]
        ps.append(upper_edge(bucket_of(exact)))
    return days, ps


def _monthly_scan(db: Database, user_id: int, month: str) -> dict[str, tuple[int, int, int]]:
    rows = db.query(
        "SELECT api_name, SUM(counted), SUM(CASE WHEN counted = 1 AND status != 200 THEN 1 ELSE 0"
        " END), SUM(CASE WHEN status >= 500 AND counted = 0 THEN 1 ELSE 0 END)"
        " FROM invocations WHERE user_id = ? AND month = ?"
        " GROUP BY api_name",
        (user_id, month),
    )
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_counters_equal_a_full_scan_across_months_and_after_a_delete(database_url):
    db = Database(database_url)
    rng = random.Random(13)
    months = ["2026-01", "2026-02", "2026-12", "2027-01"]
    # Around month ends (Jan 31 / Feb 1, Dec 31 / Jan 1) and across the days of the month.
    times = [
        _ts(2026, 1, 31, 23) + 3599.5,
        _ts(2026, 2, 1, 0),
        _ts(2026, 12, 31, 23) + 3599.9,
        _ts(2027, 1, 1, 0) + 0.1,
    ]
    times += [_ts(2026, m, d, h) for m in (1, 2, 12) for d in (1, 2, 15, 28) for h in (0, 23)]

    async def work():
        repos = Repositories(db)
        alice = await repos.users.create("alice", "a", STAMP)
        bob = await repos.users.create("bob", "b", STAMP)
        apis = {
            "a": (await _api(repos, alice, "a"), alice),
            "b": (await _api(repos, alice, "b"), alice),
            "c": (await _api(repos, bob, "c"), bob),
        }
        rows = []
        for n in range(3000):
            name = rng.choice("abc")
            api_id, user_id = apis[name]
            status, counted = rng.choice(
                [(200, True)] * 6 + [(500, True), (502, False), (504, False), (400, False)]
            )
            rows.append(
                _row(
                    n,
                    api_id,
                    name,
                    rng.choice(times) + rng.random(),
                    user_id,
                    status=status,
                    counted=counted,
                    latency_ms=rng.lognormvariate(2, 1.5),
                )
            )
        await _add(repos, rows)

        def check(names):
            for month in months:
                for user_id in (alice, bob):
                    counted = {
                        name: (c.calls, c.errors, c.failures)
                        for name, c in repos.usage.by_api(user_id, month).items()
                    }
                    assert {k: v for k, v in counted.items() if k in names} == {
                        k: v for k, v in _monthly_scan(db, user_id, month).items() if k in names
                    }
                    per_day = repos.usage.calls_per_day(user_id, month)
                    for name in names:
                        api_id, owner = apis[name]
                        if owner != user_id:
                            continue
                        days, ps = _scan(db, api_id, month)
                        assert per_day.get(name, [0] * len(days)) == days
                        latency = repos.usage.latency([api_id], month)[api_id]
                        assert [latency.p50_ms, latency.p95_ms, latency.p99_ms] == ps
                        assert latency.sampled == sum(days)

        check("abc")
        before = {m: repos.usage.by_api(alice, m).get("b") for m in months}
        await repos.apis.delete(apis["b"][0])
        check("ac")  # the others are untouched
        # The deleted API's latencies went with it; its counts stay, by name.
        assert repos.usage.latency([apis["b"][0]], "2026-01")[apis["b"][0]].sampled == 0
        assert {m: repos.usage.by_api(alice, m).get("b") for m in months} == before
        assert sum(repos.usage.calls_per_day(alice, "2026-02")["b"]) == before["2026-02"].calls
        # A new API of the same name continues the month's counts, with latencies of its own.
        again = await _api(repos, alice, "b")
        await _add(repos, [_row(9999, again, "b", times[1], alice, latency_ms=2.0)])
        assert repos.usage.by_api(alice, "2026-02")["b"].calls == before["2026-02"].calls + 1
        assert repos.usage.latency([again], "2026-02")[again].sampled == 1

    asyncio.run(work())
    db.close()


# -- the other repositories on both backends --------------------------------------------------
def test_plans_groups_and_user_flags_round_trip(database_url):
    db = Database(database_url)

    async def work():
        repos = Repositories(db)
        alice = await repos.users.create("alice", "a", STAMP)
        bob = await repos.users.create("bob", "b", STAMP)
        limits = dict(max_apis=None, monthly_calls=50000, rate_limit_per_second=2.5)
        await repos.plans.put_plan("team", {**limits, "rate_limit_burst": 10}, STAMP)
        await repos.plans.put_plan("team", {**limits, "rate_limit_burst": 20}, STAMP)  # upsert
        (plan,) = repos.plans.plans()
        assert (plan["name"], plan["max_apis"], plan["monthly_calls"]) == ("team", None, 50000)
        assert (plan["rate_limit_per_second"], plan["rate_limit_burst"]) == (2.5, 20)
        await repos.plans.put_group("staff", "team", False, [bob, alice, bob], STAMP)
        await repos.plans.put_group("staff", None, True, None, STAMP)  # keeps plan and members
        await repos.plans.set_user_groups(bob, ["ops", "staff"], STAMP)
        assert repos.plans.groups() == {"ops": None, "staff": "team"}
        assert repos.plans.memberships() == {alice: ["staff"], bob: ["ops", "staff"]}
        await repos.plans.set_user(bob, plan="team", is_admin=True, disabled=False)
        row = repos.users.by_id(bob)
        assert (row.plan, bool(row.is_admin), bool(row.disabled)) == ("team", True, False)
        assert [u.name for u in repos.users.all()] == ["alice", "bob"]

    asyncio.run(work())
    db.close()
