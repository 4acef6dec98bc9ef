"""Where jobs are kept: SQLite for the records, one append-only JSONL file of events per job.

The database is small and local, so calls are synchronous and quick; the event files can be
large (a build prints thousands of lines), so reading them is meant to run in a thread.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any

from ...errors import HubError
from .models import FINAL_STATES, Job, JobKind, JobState, make_event, utc_now

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    project TEXT NOT NULL,
    state TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    exit_code INTEGER,
    pid INTEGER,
    event_count INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    result TEXT,
    rerun_of TEXT
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);
CREATE INDEX IF NOT EXISTS jobs_project ON jobs (project, state);
"""

_COLUMNS = (
    "id kind project state params created_at started_at finished_at exit_code pid "
    "event_count error result rerun_of"
).split()
_JSON_COLUMNS = {"params", "error", "result"}


class JobStore:
    """The job records (``<dir>/jobs.db``) and their event logs (``<dir>/events/<id>.jsonl``)."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.events_dir = self.directory / "events"
        self.events_dir.mkdir(parents=True, exist_ok=True)
        # The logs may hold paths and error messages of the user's projects: owner only.
        os.chmod(self.directory, 0o700)
        self._db = sqlite3.connect(self.directory / "jobs.db", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    # -- records ------------------------------------------------------------------------------
    def save(self, job: Job) -> None:
        """Insert or replace the whole record of ``job``."""
        row = job.to_dict()
        values = [json.dumps(row[c]) if c in _JSON_COLUMNS else row[c] for c in _COLUMNS]
        marks = ",".join("?" * len(_COLUMNS))
        self._db.execute(
            f"INSERT OR REPLACE INTO jobs ({','.join(_COLUMNS)}) VALUES ({marks})", values
        )

    def get(self, job_id: str) -> Job | None:
        """The record of ``job_id``, or None."""
        cur = self._db.execute(f"SELECT {','.join(_COLUMNS)} FROM jobs WHERE id = ?", (job_id,))
        row = cur.fetchone()
        return _to_job(row) if row else None

    def list(
        self,
        *,
        project: str | None = None,
        states: Iterable[JobState] | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Records, newest first, optionally of one project and/or some states only."""
        where, args = [], []
        if project is not None:
            where.append("project = ?")
            args.append(project)
        if states is not None:
            states = list(states)
            where.append(f"state IN ({','.join('?' * len(states))})")
            args.extend(s.value for s in states)
        sql = f"SELECT {','.join(_COLUMNS)} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        args.append(limit)
        return [_to_job(r) for r in self._db.execute(sql, args)]

    def delete(self, job_id: str) -> None:
        """Remove a record and its event log."""
        self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        self.events_path(job_id).unlink(missing_ok=True)

    def mark_interrupted(self) -> list[Job]:
        """Mark every job left queued, running or cancelling by a previous server as interrupted.

        Called once at start: those jobs' server is gone, so nobody will ever finish them. Each
        gets a last ``state`` event in its log so the log itself says what happened.
        """
        active = [s for s in JobState if s not in FINAL_STATES]
        jobs = self.list(states=active, limit=1_000_000)
        for job in jobs:
            log = EventLog(self.events_path(job.id))
            job.state = JobState.INTERRUPTED
            job.finished_at = utc_now()
            job.error = {
                "type": "interrupted",
                "message": "The Jupyter server stopped while this job was running; run it again.",
            }
            log.append({"event": "state", "state": job.state.value})
            job.event_count = log.count
            job.pid = None
            log.close()
            self.save(job)
        return jobs

    def prune(self, keep: int) -> int:
        """Forget ended jobs beyond the newest ``keep`` (records and logs); return how many."""
        final = [s.value for s in FINAL_STATES]
        marks = ",".join("?" * len(final))
        rows = self._db.execute(
            f"SELECT id FROM jobs WHERE state IN ({marks}) ORDER BY created_at DESC, rowid DESC "
            "LIMIT -1 OFFSET ?",
            (*final, keep),
        ).fetchall()
        for (job_id,) in rows:
            self.delete(job_id)
        return len(rows)

    # -- events -------------------------------------------------------------------------------
    def events_path(self, job_id: str) -> Path:
        """The JSONL event log of ``job_id``."""
        return self.events_dir / f"{job_id}.jsonl"

    def open_log(self, job_id: str) -> EventLog:
        """An appender for the event log of ``job_id``."""
        return EventLog(self.events_path(job_id))

    def read_events(self, job_id: str, offset: int = 0, limit: int | None = None) -> list[dict]:
        """Stored events of ``job_id`` from ``offset`` on (at most ``limit`` of them)."""
        return read_events(self.events_path(job_id), offset, limit)


class EventLog:
    """One job's append-only event log; every event gets the next offset and a timestamp.

    A write that fails (a full disk) does not raise: the log keeps ``error`` and writes no
    more, so the file stays a prefix of the job's events (a torn last line is skipped by
    readers) while offsets go on for live readers. The job manager then stops the job.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = _count_lines(path)
        self.error: OSError | None = None
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open while the job runs

    def append(self, fields: dict[str, Any], flush: bool = True) -> tuple[dict[str, Any], str]:
        """Store one event; return it (with its ``offset`` and ``time``) and its JSON text.

        Flushed at once unless ``flush`` is false (then call :meth:`flush` after the batch), so
        a reader of the file (another tab after a reload) is never behind.
        """
        event = make_event(self.count, fields)
        text = json.dumps(event, default=str)
        if self.error is None:
            try:
                self._file.write(text + "\n")
                if flush:
                    self._file.flush()
            except OSError as err:
                self._fail(err)
        self.count += 1
        return event, text

    def flush(self) -> None:
        """Write buffered events to the file."""
        if self.error is None:
            try:
                self._file.flush()
            except OSError as err:
                self._fail(err)

    def close(self) -> None:
        """Close the file."""
        if self.error is None:
            try:
                self._file.close()
            except OSError as err:
                self.error = err

    def _fail(self, err: OSError) -> None:
        self.error = err
        with contextlib.suppress(OSError):
            self._file.close()  # flushes once more, fails again, but closes the descriptor


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` (from a file or from SQLite) means the disk or the quota is full."""
    if isinstance(err, OSError):
        return err.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(err, sqlite3.OperationalError) and "full" in str(err)


def store_full_error(directory: Path) -> HubError:
    """The 507 for a job that cannot be recorded because the job store's disk is full."""
    return HubError(
        f"The disk holding the job store ({directory}) is full, so the job could not be "
        "recorded; free some space there and start it again.",
        type="disk_full",
        status=507,
    )


def read_events(path: Path, offset: int = 0, limit: int | None = None) -> list[dict]:
    """Events of a JSONL log from ``offset``; a torn last line (a crash mid-write) is skipped."""
    return [json.loads(text) for text in read_event_texts(path, offset, limit)]


def read_event_texts(path: Path, offset: int = 0, limit: int | None = None) -> list[str]:
    """The JSON texts of the events of a log from ``offset`` (without their newlines)."""
    if not path.exists():
        return []
    stop = None if limit is None else offset + limit
    out = []
    with open(path, encoding="utf-8") as f:
        for line in islice(f, offset, stop):
            if not line.endswith("\n"):
                break  # torn: the writer died mid-line
            out.append(line[:-1])
    return out


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _to_job(row: tuple) -> Job:
    data = dict(zip(_COLUMNS, row, strict=True))
    for c in _JSON_COLUMNS:
        data[c] = json.loads(data[c]) if data[c] is not None else None
    data["kind"] = JobKind(data["kind"])
    data["state"] = JobState(data["state"])
    data["params"] = data["params"] or {}
    return Job(**data)
