"""The schema of the platform's database as a numbered list of migrations, applied when it is
opened, on SQLite (``platform.db``) and on PostgreSQL alike.

SQLite's ``PRAGMA user_version`` holds how many of :data:`MIGRATIONS` a database has had;
PostgreSQL's ``schema_migrations`` table has a row per applied step. Opening a database runs the
rest, each in its own transaction with the new version (so a crash mid-way leaves the database at
the last complete step; on PostgreSQL an advisory lock makes platforms that open one database at
once apply each step once). Migration 1 is the schema of the releases before this list existed
(all ``IF NOT EXISTS``), so their databases, at version 0, take it as a no-op. Append new steps
at the end; never change a released one.

A step is a string of DDL or a callable ``step(conn)`` (``conn.dialect`` is ``"sqlite"`` or
``"postgresql"``). Both dialects run it, so (the whole list is on the board and in
ARCHITECTURE.md's database part):

- types are written INTEGER, REAL, TEXT, BLOB; a generated id is ``id INTEGER PRIMARY KEY``. On
  PostgreSQL a DDL string is rewritten by :func:`pg_ddl` (BIGINT, DOUBLE PRECISION, BYTEA,
  identity columns); flags are INTEGER 0/1, times TEXT ISO-8601 or REAL epoch seconds;
- statements are split on ``;``; ``ALTER TABLE .. ADD COLUMN`` is fine, other ALTERs are not
  (SQLite has none: a new table, ``INSERT .. SELECT``, drop, rename);
- queries use ``?`` / ``:name`` placeholders, ``INSERT .. RETURNING id`` (never ``lastrowid``),
  the primary key (never ``rowid``), ``ON CONFLICT (..) DO UPDATE/NOTHING`` upserts, and only
  functions both have (no ``strftime``, ``IFNULL``, ``GROUP_CONCAT``, ``SUM(a = b)``).
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable

from ..db import POSTGRESQL
from .histogram import bucket_of

_V1 = """
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

_V2_TABLES = """
CREATE TABLE usage_daily (
    user_id   INTEGER NOT NULL,
    day       TEXT NOT NULL,
    api_name  TEXT NOT NULL,
    calls     INTEGER NOT NULL DEFAULT 0,
    errors    INTEGER NOT NULL DEFAULT 0,
    failures  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day, api_name)
);
CREATE TABLE latency_buckets (
    api_id  INTEGER NOT NULL,
    month   TEXT NOT NULL,
    bucket  INTEGER NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (api_id, month, bucket)
);
"""


def _v2_counters(conn: sqlite3.Connection) -> None:
    """Per-day counts and latency histograms, filled from the history an older release kept.

    (The monthly counts of that release stay as they were; its per-day counts and latencies
    were only ever computed from the history, so the history is what they are rebuilt from.)
    """
    _run_script(conn, _V2_TABLES)
    if conn.dialect == POSTGRESQL:
        _v2_fill_portably(conn)
        return
    conn.execute(
        "INSERT INTO usage_daily (user_id, day, api_name, calls, errors, failures)"
        " SELECT user_id, strftime('%Y-%m-%d', ts, 'unixepoch'), api_name, SUM(counted),"
        " SUM(counted = 1 AND status != 200), SUM(status >= 500 AND counted = 0)"
        " FROM invocations GROUP BY 1, 2, 3"
    )
    buckets: dict[tuple[int, str, int], int] = {}
    for api_id, month, latency in conn.execute(
        "SELECT api_id, month, latency_ms FROM invocations WHERE counted = 1"
    ):
        key = (api_id, month, bucket_of(latency))
        buckets[key] = buckets.get(key, 0) + 1
    conn.executemany(
        "INSERT INTO latency_buckets (api_id, month, bucket, count) VALUES (?, ?, ?, ?)",
        [(*key, n) for key, n in buckets.items()],
    )


def _v2_fill_portably(conn) -> None:
    """What ``_v2_counters`` fills, computed in Python (a PostgreSQL database created by an
    earlier step of this list; its history is empty unless step 1 ran alone)."""
    daily: dict[tuple, list[int]] = {}
    buckets: dict[tuple, int] = {}
    rows = conn.execute(
        "SELECT user_id, api_id, api_name, ts, month, status, counted, latency_ms FROM invocations"
    ).fetchall()
    for user_id, api_id, api_name, ts, month, status, counted, latency in rows:
        day = time.strftime("%Y-%m-%d", time.gmtime(ts))
        sums = daily.setdefault((user_id, day, api_name), [0, 0, 0])
        sums[0] += counted
        sums[1] += 1 if counted == 1 and status != 200 else 0
        sums[2] += 1 if status >= 500 and counted == 0 else 0
        if counted == 1:
            key = (api_id, month, bucket_of(latency))
            buckets[key] = buckets.get(key, 0) + 1
    conn.executemany(
        "INSERT INTO usage_daily (user_id, day, api_name, calls, errors, failures)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(*key, *sums) for key, sums in daily.items()],
    )
    conn.executemany(
        "INSERT INTO latency_buckets (api_id, month, bucket, count) VALUES (?, ?, ?, ?)",
        [(*key, n) for key, n in buckets.items()],
    )


def _v1(conn) -> None:
    """The schema of the releases before this list (``_V1``).

    On PostgreSQL ``keys`` also gets the ``rowid`` SQLite gives every table: keys are listed in
    the order they were made, and their ids are random.
    """
    _run_script(conn, _V1)
    if conn.dialect == POSTGRESQL:
        conn.execute("ALTER TABLE keys ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY")


# Step 3 (plans helper): plans and groups kept in the database (plans.py has the rules). A
# plan row overrides the config file's plan of that name; users.plan is a user's own plan
# (NULL: none), users.is_admin marks platform admins (the platform's own user always is one).
_V3_PLANS = """
CREATE TABLE plans (
    name                   TEXT PRIMARY KEY,
    max_apis               INTEGER,
    monthly_calls          INTEGER,
    rate_limit_per_second  REAL NOT NULL,
    rate_limit_burst       INTEGER NOT NULL,
    updated_at             TEXT NOT NULL
);
CREATE TABLE user_groups (
    name        TEXT PRIMARY KEY,
    plan        TEXT,
    created_at  TEXT NOT NULL
);
CREATE TABLE group_members (
    group_name  TEXT NOT NULL REFERENCES user_groups(name) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (group_name, user_id)
);
ALTER TABLE users ADD COLUMN plan TEXT;
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0
"""

# -- async: step 4, asynchronous invocations (store/async_calls.py) --
_V4_ASYNC = """
CREATE TABLE IF NOT EXISTS async_invocations (
    id                 TEXT PRIMARY KEY,
    user_id            INTEGER NOT NULL,
    api_id             INTEGER NOT NULL,
    api_name           TEXT NOT NULL,
    key_id             TEXT,
    month              TEXT NOT NULL,
    state              TEXT NOT NULL,
    input              BLOB,
    callback_url       TEXT,
    callback_ip        TEXT,
    version_id         INTEGER,
    created_at         REAL NOT NULL,
    started_at         REAL,
    finished_at        REAL,
    http_status        INTEGER,
    envelope           BLOB,
    callback_state     TEXT,
    callback_attempts  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS async_invocations_state ON async_invocations (state);
CREATE INDEX IF NOT EXISTS async_invocations_api ON async_invocations (api_id, created_at);
CREATE INDEX IF NOT EXISTS async_invocations_finished ON async_invocations (finished_at)
"""
# -- end async --

#: Step ``n`` (1-based) brings a database from version n-1 to n.
MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
    _v1,
    _v2_counters,
    _V3_PLANS,
    _V4_ASYNC,  # async
]


_PG_TYPES = [
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b"),
     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
]  # fmt: skip


def pg_ddl(script: str) -> str:
    """A DDL string of this list in PostgreSQL's words (SQLite's are 64-bit integers, 8-byte
    floats, and an ``INTEGER PRIMARY KEY`` numbers its rows)."""
    for pattern, word in _PG_TYPES:
        script = pattern.sub(word, script)
    return script


def _run_script(conn, script: str) -> None:
    # One statement at a time: executescript() would commit the migration's transaction.
    if conn.dialect == POSTGRESQL:
        script = pg_ddl(script)
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _run_step(conn, step) -> None:
    if isinstance(step, str):
        _run_script(conn, step)
    else:
        step(conn)


def _too_new(version: int, where: str) -> RuntimeError:
    return RuntimeError(
        f"{where} is at schema version {version}, newer than this release knows "
        f"({len(MIGRATIONS)}); upgrade jupyter-hub-api to open it."
    )


def migrate(conn) -> int:
    """Apply the steps ``conn``'s database lacks; return its version afterwards."""
    if conn.dialect == POSTGRESQL:
        return _migrate_postgresql(conn)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise _too_new(version, "platform.db")
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            _run_step(conn, step)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version = number
    return version


#: The advisory lock the platforms opening one PostgreSQL database take to migrate it.
PG_MIGRATION_LOCK = 0x4855_4250  # "HUBP"


def _migrate_postgresql(conn) -> int:
    while True:
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (PG_MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            version = conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
            ).fetchone()[0]
            if version > len(MIGRATIONS):
                raise _too_new(version, "The platform database")
            if version == len(MIGRATIONS):
                conn.execute("COMMIT")
                return version
            _run_step(conn, MIGRATIONS[version])
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                (version + 1, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
