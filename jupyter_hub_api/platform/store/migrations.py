"""The schema of ``platform.db`` as a numbered list of migrations, applied when it is opened.

``PRAGMA user_version`` holds how many of :data:`MIGRATIONS` a database has had; opening it
runs the rest, each in its own transaction with the new version (so a crash mid-way leaves the
database at the last complete step). Migration 1 is the schema of the releases before this list
existed (all ``IF NOT EXISTS``), so their databases, at version 0, take it as a no-op. Append
new steps at the end; never change a released one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

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

#: Step ``n`` (1-based) brings a database from ``user_version`` n-1 to n.
MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [_V1, _v2_counters, _V3_PLANS]


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # One statement at a time: executescript() would commit the migration's transaction.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the steps ``conn``'s database lacks; return its version afterwards."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"platform.db is at schema version {version}, newer than this release knows "
            f"({len(MIGRATIONS)}); upgrade jupyter-hub-api to open it."
        )
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if isinstance(step, str):
                _run_script(conn, step)
            else:
                step(conn)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version = number
    return version
