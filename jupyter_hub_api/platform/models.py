"""The platform's typed records (pydantic v2): what the repositories of ``store/`` read and
write, and the build record a client sends to deploy.

Rows come out of SQLite as these models (``model_validate`` of a row's mapping); the control
plane answers with their ``model_dump()``. The hot path's write record, :class:`InvocationRow`,
is a slotted dataclass instead: it is built once per gateway call and never validated (every
field comes from the gateway itself), and a model costs several microseconds more per call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import UsageError
from ..project.names import check_api_name

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class _Row(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


# -- state ------------------------------------------------------------------------------------
class UserRecord(_Row):
    """A row of ``users``."""

    id: int
    name: str
    token_hash: str | None = None
    created_at: str
    # Migration step 3: the user's own plan (None: none), admin, disabled.
    plan: str | None = None
    is_admin: bool = False
    disabled: bool = False


class ApiRecord(_Row):
    """A row of ``apis`` (with its owner's name where the query joined it)."""

    id: int
    user_id: int
    name: str
    live_version_id: int | None = None
    created_at: str
    updated_at: str
    user: str | None = None


class VersionRecord(_Row):
    """A row of ``versions``: one deployed build of an API."""

    id: int
    api_id: int
    seq: int
    build_id: str
    version: str
    record: dict[str, Any]
    dir: str
    python: str
    status: Literal["starting", "live", "standby", "failed"]
    error: str | None = None
    created_at: str
    deployed_at: str | None = None

    @field_validator("record", mode="before")
    @classmethod
    def _json(cls, value):
        if isinstance(value, str):
            return json.loads(value)
        return value

    @property
    def runtime(self) -> dict[str, Any]:
        """The ``runtime`` section of the version's ``hub_config.json``."""
        return (self.record.get("config") or {}).get("runtime") or {}


class VersionInfo(BaseModel):
    """A version as the control plane lists it."""

    version_number: int
    build_id: str
    version: str
    status: str
    error: str | None = None
    created_at: str
    deployed_at: str | None = None
    live: bool
    changes: list[str] = []  # ui (issue 11): what it changed from the version before
    runtime: dict[str, float | int] = {}  # ui (issue 11): its scaling and limits


class KeyInfo(BaseModel):
    """An API key without its secret."""

    id: str
    name: str
    prefix: str
    masked: str
    enabled: bool
    created_at: str
    last_used_at: str | None = None


class KeyEntry(_Row):
    """What the gateway needs to know about a key (its verification table)."""

    id: str
    user_id: int
    hash: str
    enabled: bool


class Invocation(BaseModel):
    """One call of an API as its history keeps it."""

    id: str
    ts: float
    time: str
    status: int
    counted: bool
    latency_ms: float | None = None
    version_id: int | None = None
    key_id: str | None = None
    input: str | None = None
    input_truncated: bool
    output: str | None = None
    output_truncated: bool
    error_type: str | None = None
    error_message: str | None = None
    mode: str = "sync"
    state: str | None = None


class LogLine(BaseModel):
    """One line a handler printed."""

    id: int
    version_id: int | None = None
    invocation_id: str | None = None
    ts: float
    stream: str
    line: str


# -- usage ------------------------------------------------------------------------------------
class UsageCounts(BaseModel):
    """Counted calls, the counted ones that were not a 200, and the uncounted 5xx."""

    calls: int = 0
    errors: int = 0
    failures: int = 0


class LatencySummary(BaseModel):
    """Percentiles (ms) of an API's counted calls in a month, from its latency histogram."""

    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    sampled: int = 0


class ApiState(BaseModel):
    """What the dashboard shows of an API in a month beyond its route and engine status:
    counts, latency, counted calls per day (one per day of the month, index 0 = day 1), and
    its times. An API that was deleted but has counts this month has ``deleted`` set."""

    name: str
    deleted: bool = False
    counts: UsageCounts = Field(default_factory=UsageCounts)
    latency: LatencySummary = Field(default_factory=LatencySummary)
    calls_per_day: list[int] = Field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None
    deployed_at: str | None = None


@dataclass(slots=True)
class InvocationRow:
    """One invocation as the gateway saw it (the hot path's write record)."""

    id: str
    user_id: int
    api_id: int
    api_name: str
    version_id: int | None
    key_id: str | None
    ts: float
    month: str
    status: int
    counted: bool
    latency_ms: float
    input: bytes
    output: bytes | None
    error_type: str | None = None
    error_message: str | None = None


# -- the build record a client sends ----------------------------------------------------------
class FileEntry(BaseModel):
    """One file of a build: its path in the build, digest and size."""

    model_config = ConfigDict(extra="allow")

    path: str = Field(min_length=1)
    sha256: str = Field(pattern=_SHA_RE.pattern)
    size: int = Field(ge=0, strict=True)

    @field_validator("path")
    @classmethod
    def _inside(cls, path: str) -> str:
        if path.startswith(("/", "\\")) or ".." in PurePosixPath(path).parts:
            raise ValueError("the path leaves the build")
        return path


class BuildEnvironment(BaseModel):
    """The Python and requirements of a build."""

    model_config = ConfigDict(extra="allow")

    python: str = Field(strict=True)
    requirements: str = Field("", strict=True)


# -- console (issue 11): what the build read of the handler (project/input_schema.py) --
class HandlerInfo(BaseModel):
    """A build record's ``handler``: the input's JSON Schema and whether the handler streams."""

    model_config = ConfigDict(extra="forbid")

    input_schema: dict[str, Any] | None = None
    input_source: Literal["hub_config", "decorator", "type_hints"] | None = None
    streams: bool = Field(False, strict=True)


# -- end console --


class BuildRecord(BaseModel):
    """A build record as ``hub build`` writes it; the platform deploys from it."""

    model_config = ConfigDict(extra="allow")

    build_id: str = Field(pattern=_SHA_RE.pattern, strict=True)
    name: str
    version: str | int | float
    environment: BuildEnvironment
    config: dict[str, Any] = Field(default_factory=dict)
    code: list[FileEntry]
    model: list[FileEntry]
    handler: HandlerInfo | None = None  # console (issue 11)


_MESSAGES = {
    "build_id": "The build record has no valid build_id (64 hex digits).",
    "version": "The build record has no version.",
    "environment": "The build record has no environment.python.",
    "environment.requirements": "environment.requirements must be text.",
    "config": "The build record's config must be an object.",
    # console (issue 11)
    "handler": "The build record's handler must be {input_schema, input_source, streams}.",
}


def check_record(record: Any) -> dict:
    """Validate the shape of a build record sent by a client (it is untrusted input).

    Returns the record as sent (a dict); raises a :class:`UsageError` of one sentence naming
    the first bad field.
    """
    if not isinstance(record, dict):
        raise UsageError("The deployment needs a build record (a JSON object).", type="bad_record")
    check_api_name(record.get("name"), field="name")
    try:
        BuildRecord.model_validate(record)
    except ValidationError as err:
        raise _record_error(record, err.errors()[0]) from None
    if not any(e["path"] == "main.py" for e in record["code"]):
        raise UsageError(
            "The build has no src/main.py; an API needs a main.py with a @hub_handler function.",
            type="bad_record",
            field="code",
        )
    return record


def _record_error(record: dict, error: dict) -> UsageError:
    loc = [str(part) for part in error["loc"]]
    top = loc[0] if loc else "record"
    if top in ("code", "model"):
        if len(loc) == 1:
            message = f"The build record has no {top} list."
        else:
            entry = record[top][int(loc[1])]
            message = f"The build record has a bad {top} entry: {str(entry)[:120]}."
    else:
        message = (
            _MESSAGES.get(".".join(loc[:2]))
            or _MESSAGES.get(top)
            or (f"The build record's {'.'.join(loc)} is not valid: {error['msg']}.")
        )
    return UsageError(message, type="bad_record", field=top)
