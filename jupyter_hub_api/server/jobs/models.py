"""Typed job records, kinds and states, shared by the store, the runner and the handlers."""

from __future__ import annotations

import enum
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any


class JobState(str, enum.Enum):
    """Where a job is in its life. ``FINAL`` states never change again."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_final(self) -> bool:
        """True once the job can change no more."""
        return self in FINAL_STATES

    @property
    def is_active(self) -> bool:
        """True while the job is waiting or working (it holds its project)."""
        return not self.is_final


FINAL_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED}
)


class JobKind(str, enum.Enum):
    """What a job does. Every kind works on one project folder."""

    BUILD = "build"
    DEPLOY = "deploy"
    BUILD_DEPLOY = "build+deploy"
    MODEL_FILES = "model-files"


# The kinds a client may ask for with ``POST /hub-api/jobs``; model-file copies are started by
# ``POST /hub-api/projects/<path>/model-files`` because they need a file list.
CLIENT_KINDS = (JobKind.BUILD, JobKind.DEPLOY, JobKind.BUILD_DEPLOY)


def new_job_id() -> str:
    """A fresh, unguessable job id (32 hex digits)."""
    return uuid.uuid4().hex


def utc_now() -> str:
    """Now as ISO-8601 in UTC with microseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass
class Job:
    """One job record, as stored in SQLite and answered by the REST API.

    ``project`` is the project folder relative to the server root (``""`` for the root itself);
    ``params`` the kind-specific request (e.g. the files of a model-file copy); ``pid`` the
    process (and process group) id while a subprocess runs; ``event_count`` how many events
    its log holds (the next event's offset); ``error`` the last ``error`` event or why it ended
    badly; ``result`` the fields of its last ``result`` event.
    """

    id: str
    kind: JobKind
    project: str
    state: JobState = JobState.QUEUED
    params: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=utc_now)
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    pid: int | None = None
    event_count: int = 0
    error: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    rerun_of: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the REST API."""
        out = asdict(self)
        out["kind"] = self.kind.value
        out["state"] = self.state.value
        return out


def make_event(offset: int, fields: dict[str, Any]) -> dict[str, Any]:
    """An event of a job's log: the CLI's event (ARCHITECTURE.md (CLI events)) plus its offset and arrival time."""
    return {"offset": offset, "time": round(time.time(), 6), **fields}
