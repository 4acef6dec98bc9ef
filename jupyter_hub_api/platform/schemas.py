"""The wire shapes of the platform's HTTP API, as pydantic models.

The control plane validates what it takes (query parameters, JSON bodies) with the request
models and answers with the response models; ``openapi.py`` builds the OpenAPI document from
them, and ``src/api/`` gets its TypeScript types from that document. Response models forbid
fields they do not declare, so an answer cannot carry a field the document does not describe.

A request model may name, per field, the error ``type`` and the one sentence a bad value gets
(:attr:`Request.refusals`); other bad values get a sentence made from pydantic's error.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)

# -- requests ---------------------------------------------------------------------------------


class Request(BaseModel):
    """A request model: query parameters or a JSON body."""

    model_config = ConfigDict(extra="ignore")
    # field -> (error type, the sentence a bad value of it gets)
    refusals: ClassVar[dict[str, tuple[str, str]]] = {}


class InvocationsQuery(Request):
    limit: int = Field(50, ge=1, le=1000, description="at most this many, newest first")
    before: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="page: invocations before this ts"
    )


class LogsQuery(Request):
    after: int = Field(0, ge=0, description="return lines with id > after")
    limit: int = Field(500, ge=1, le=5000)
    tail: int | None = Field(None, ge=0, le=100000, description="start with the last n lines")
    invocation_id: str | None = Field(None, description="only the lines of this invocation")
    follow: bool = Field(
        False, description="stream NDJSON lines as they are printed (blank lines keep alive)"
    )


class UsageQuery(Request):
    month: str | None = Field(
        None, pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", examples=["2026-11"], description="YYYY-MM"
    )
    refusals = {"month": ("bad_request", "month must be a year and a month, like 2026-11.")}


class DeploymentQuery(Request):
    after: int = Field(0, ge=0, description="events after this index")
    wait: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="long-poll seconds for news (at most 30)"
    )


class KeyCreate(Request):
    name: StrictStr = Field("key", pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
    refusals = {
        "name": ("bad_name", "A key name has 1-64 letters, digits, spaces, '.', '_' or '-'.")
    }


class KeyUpdate(Request):
    enabled: StrictBool
    refusals = {"enabled": ("bad_request", 'Send {"enabled": true} or {"enabled": false}.')}


class Rollback(Request):
    version: StrictStr | StrictInt | None = Field(
        None, description="number, label or build-id prefix; default the version live before"
    )


# -- ui (issue 11): the panel's scaling and limits of an API --
def _count(value):
    """A JSON number with no fraction is a count (5.0 is 5, as JSON Schema's integer)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class RuntimeUpdate(Request):
    """Some of an API's runtime settings (at least one); the live version is deployed again
    with them. A setting not sent is left as it is; null is not a setting."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    min_workers: Annotated[StrictInt, BeforeValidator(_count)] = Field(
        None, ge=0, le=64, description="kept loaded when idle"
    )
    max_workers: Annotated[StrictInt, BeforeValidator(_count)] = Field(
        None, ge=1, le=64, description="at most this many"
    )
    idle_seconds: StrictFloat = Field(None, ge=0, description="an idle worker stops after it")
    timeout_seconds: StrictFloat = Field(None, gt=0, le=3600, description="one call, then 504")
    async_timeout_seconds: StrictFloat = Field(
        None, gt=0, le=86400, description="one asynchronous call (Prefer: respond-async), then 504"
    )
    memory_mb: Annotated[StrictInt, BeforeValidator(_count)] = Field(
        None, ge=0, le=1048576, description="per worker; 0 = none"
    )


# -- end ui --


class UserCreate(Request):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$", description="a project-style name")


# -- plans and admin (plans.py) --------------------------------------------------------------

_PLAN_NAME = r"^[a-z][a-z0-9_-]{0,39}$"
_GROUP_NAME = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$"


def _whole(value):
    """A JSON number with no fraction (7501.0 is 7501, as JSON Schema's integer); bools stay
    refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = Annotated[StrictInt, Field(ge=0, le=10**12), BeforeValidator(_whole)]
Burst = Annotated[StrictInt, Field(ge=1, le=1_000_000), BeforeValidator(_whole)]


class PlanLimits(Request):
    """Some of a plan's limits; a field not sent keeps its value, null means no limit."""

    model_config = ConfigDict(extra="forbid")
    max_apis: WholeNumber | None = Field(None, description="APIs a user may have at once")
    monthly_calls: WholeNumber | None = Field(None, description="answered POSTs per month")
    rate_limit_per_second: StrictFloat | None = Field(
        None, ge=0, allow_inf_nan=False, description="per key; 0 or null: no rate limit"
    )
    rate_limit_burst: Burst = 100
    refusals = {
        "max_apis": (
            "bad_plan",
            "max_apis must be a whole number from 0 to 10^12, or null.",
        ),
        "monthly_calls": (
            "bad_plan",
            "monthly_calls must be a whole number from 0 to 10^12, or null (no limit).",
        ),
        "rate_limit_per_second": (
            "bad_plan",
            "rate_limit_per_second must be a number of 0 or more (0 or null: no limit).",
        ),
        "rate_limit_burst": ("bad_plan", "rate_limit_burst must be a whole number from 1."),
    }


class PlanChange(PlanLimits):
    """Some of the limits of the caller's plan (at least one)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})


class AdminApisQuery(Request):
    user: str | None = Field(None, description="only this user's APIs")


class UserChange(Request):
    """What an admin changes of a user; a field not sent is left as it is."""

    model_config = ConfigDict(extra="forbid")
    plan: StrictStr | None = Field(None, description="the user's own plan; null: none")
    groups: list[Annotated[str, Field(pattern=_GROUP_NAME)]] | None = Field(
        None, description="the user's groups (all of them; created when new)"
    )
    is_admin: StrictBool | None = None
    disabled: StrictBool | None = Field(None, description="a disabled user's APIs answer 403")
    refusals = {
        "plan": (
            "bad_request",
            "plan must be the name of a plan (see `hub admin plans`), or null.",
        ),
        "groups": (
            "bad_request",
            "groups must be a list of group names (1-64 letters, digits, spaces, '.', '_', '-').",
        ),
        "is_admin": ("bad_request", "is_admin must be true or false."),
        "disabled": ("bad_request", "disabled must be true or false."),
    }


class GroupChange(Request):
    model_config = ConfigDict(extra="forbid")
    plan: StrictStr | None = Field(None, description="the group's plan; null: none")
    members: list[StrictStr] | None = Field(None, description="user names (all of them)")
    refusals = {
        "plan": ("bad_request", "plan must be the name of a plan, or null."),
        "members": ("bad_request", "members must be a list of user names."),
    }


class DeploymentCreate(Request):
    record: dict[str, Any] = Field(description="the build record of ARCHITECTURE.md")
    refusals = {"record": ("bad_record", "The deployment needs a build record (a JSON object).")}


# -- answers ----------------------------------------------------------------------------------


class Answer(BaseModel):
    """A response model (no field the document does not describe)."""

    # An answer always has its defaulted fields: the document lists them as required.
    model_config = ConfigDict(
        extra="forbid", from_attributes=True, json_schema_serialization_defaults_required=True
    )


class ErrorDetail(Answer):
    type: str = Field(examples=["not_found"])
    message: str = Field(examples=["You have no API called 'iris'. See `hub status`."])
    field: str | None = Field(None, exclude_if=lambda v: v is None, description="the bad field")


class Error(Answer):
    """The control plane's one error shape (ARCHITECTURE.md (wire format))."""

    error: ErrorDetail


class Health(Answer):
    status: Literal["ok"]
    service: Literal["hub-platform"]
    version: str
    instance: str = Field(description="names the platform's data directory")


class Readiness(Answer):
    status: Literal["ready", "starting"]
    service: Literal["hub-platform"]
    version: str | None = Field(None, exclude_if=lambda v: v is None, description="when ready")


class Plan(Answer):
    name: str = Field(examples=["free"])
    max_apis: int | None
    monthly_calls: int | None
    rate_limit_per_second: float
    rate_limit_burst: int


class Quota(Answer):
    plan: str
    monthly_calls: int | None
    used: int
    remaining: int | None
    max_apis: int | None
    apis: int
    rate_limit_per_second: float


class Me(Answer):
    user: str
    plan: Plan
    month: str = Field(examples=["2026-11"])
    calls_this_month: int
    gateway_url: str


class Latency(Answer):
    """Percentiles of this month's answered calls (milliseconds)."""

    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    sampled: int


class LiveVersion(Answer):
    version: str
    version_number: int
    build_id: str
    deployed_at: str | None


class ApiSummary(Answer):
    """One API with its status, live version and this month's usage."""

    name: str
    user: str
    endpoint: str = Field(examples=["http://127.0.0.1:8470/alice/iris"])
    status: str = Field(
        description="the engine's state: cold (scaled to zero; the next call loads it), "
        "loading, ready, failed; no_version when nothing is deployed"
    )
    workers: int
    busy: int
    load_error: str | None
    live_version: LiveVersion | None
    month: str
    calls_this_month: int
    errors_this_month: int = Field(description="counted calls where the handler raised")
    failures_this_month: int = Field(description="crashes and timeouts (not counted)")
    error_rate: float = Field(description="(errors + failures) / (calls + failures)")
    latency: Latency
    calls_per_day: list[int] = Field(
        default_factory=list,
        description="counted calls on each day of `month` (index 0 = day 1)",
    )
    created_at: str | None
    updated_at: str | None
    quota_spent: bool = Field(
        False,
        description="the owner's monthly quota is used up: POSTs answer 429 until the 1st "
        "(UTC) or a plan with more calls (`hub plan`)",
    )


# -- console (issue 11): the live version's input schema and streaming, for the test console --
class HandlerInput(Answer):
    """What the live version's handler takes and how it answers (read at build time)."""

    input_schema: dict[str, Any] | None = Field(
        description="a JSON Schema of the request body: hub_config.json's input_schema, else "
        "@hub_handler(input_schema=...) in main.py, else made from the type hint of the handler's first parameter; null when there is neither",
        examples=[{"type": "array", "items": {"type": "array", "items": {"type": "number"}}}],
    )
    input_source: Literal["hub_config", "decorator", "type_hints"] | None = Field(
        description="where input_schema comes from"
    )
    streams: bool = Field(
        description="the handler is a generator: `Accept: text/event-stream` streams its outputs"
    )


# -- end console --


class ApiDetail(ApiSummary):
    quota: Quota
    # console (issue 11): null for a build made before builds recorded it, or no live version
    handler: HandlerInput | None = None


class ApiList(Answer):
    apis: list[ApiSummary]
    quota: Quota


class ApiDeleted(Answer):
    api: str
    deleted: Literal[True]


class Version(Answer):
    version_number: int
    version: str
    build_id: str
    status: str = Field(description="starting, live, standby or failed")
    error: str | None
    created_at: str
    deployed_at: str | None
    live: bool
    # -- ui (issue 11) --
    changes: list[str] = Field(
        default_factory=list,
        description="what this version changed from the one before it, in short phrases "
        "('first version', 'src/main.py changed', 'model/model.joblib added', 'requirements "
        "changed', 'settings changed', 'nothing changed')",
        examples=[["src/main.py changed", "settings changed"]],
    )
    runtime: dict[str, float | int] = Field(
        default_factory=dict,
        description="its scaling and limits as it runs: min_workers, max_workers, "
        "idle_seconds, timeout_seconds, async_timeout_seconds, memory_mb (PATCH .../runtime "
        "changes them)",
    )
    # -- end ui --


class Versions(Answer):
    api: str
    versions: list[Version]


class DeployResult(Answer):
    api: str
    user: str
    endpoint: str
    version: str
    version_number: int
    build_id: str
    previous_version_number: int | None
    unchanged: bool


class Invocation(Answer):
    id: str
    ts: float
    time: str
    status: int
    counted: bool
    latency_ms: float | None
    version_id: int | None
    key_id: str | None
    input: str | None = Field(description="the JSON body, cut at capture_bytes")
    input_truncated: bool
    output: str | None = Field(description="the output JSON, cut at capture_bytes")
    output_truncated: bool
    error_type: str | None
    error_message: str | None
    mode: Literal["sync", "async"] = Field(
        description="async: submitted with Prefer: respond-async (its result kept to be fetched)"
    )
    state: Literal["queued", "running", "succeeded", "failed"] | None = Field(
        description="an async call's state (queued and running ones have status 202); null for sync"
    )


class Invocations(Answer):
    api: str
    invocations: list[Invocation]


class LogLine(Answer):
    id: int = Field(description="increasing; pass as `after` to read on")
    version_id: int | None
    invocation_id: str | None = Field(description="null for lines printed at import")
    ts: float
    stream: Literal["stdout", "stderr"]
    line: str


class Logs(Answer):
    api: str
    lines: list[LogLine]
    next: int = Field(description="pass as `after` to read on")


class ApiUsage(Answer):
    api: str
    deleted: bool
    calls: int
    errors: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    sampled: int


class Usage(Answer):
    month: str
    apis: list[ApiUsage]
    total_calls: int
    quota: Quota


class Key(Answer):
    id: str = Field(examples=["key_3f2a9c1b0d4e"])
    name: str
    prefix: str = Field(examples=["hub_J68xlhlT"])
    masked: str = Field(examples=["hub_J68xlhlT…"])
    enabled: bool
    created_at: str
    last_used_at: str | None


class Keys(Answer):
    keys: list[Key]


class KeyCreated(Answer):
    key: Key
    secret: str = Field(description="the key in full (only in this answer and in reveal)")


class KeyChanged(Answer):
    key: Key


class KeySecret(Answer):
    id: str
    secret: str


class KeyDeleted(Answer):
    id: str
    deleted: Literal[True]


class Deployment(Answer):
    id: str
    api: str
    build_id: str
    status: Literal["pending", "running", "done", "failed"]
    events: list[dict[str, Any]] = Field(
        description="step/log/progress events of ARCHITECTURE.md (CLI events) after index `after`"
    )
    next: int = Field(description="index to pass as `after` next time")
    result: DeployResult | None
    error: ErrorDetail | None


class DeploymentCreated(Answer):
    deployment: Deployment
    missing: list[str] = Field(description="sha256 digests of the blobs to upload")


class DeploymentAnswer(Answer):
    deployment: Deployment


class BlobStored(Answer):
    sha256: str
    stored: bool = Field(description="false when the platform had it already")


class MyPlan(Answer):
    """The caller's plan, where it comes from, and this month's use of it."""

    user: str
    plan: Plan
    source: Literal["user", "config", "group", "default"] = Field(
        description="the user's own plan, the config file's users entry, a group's, the default"
    )
    group: str | None = Field(description="the group whose plan it is (source group)")
    month: str
    quota: Quota
    quota_spent: bool
    renews_at: str = Field(description="when the monthly count starts again (UTC)")
    can_edit: bool = Field(description="the caller may change this plan's limits (admins)")
    users_on_plan: int = Field(description="users whose plan this is (an edit changes theirs)")


class PlanInfo(Plan):
    source: Literal["config", "database"] = Field(
        description="the config file's plan, or one created or edited through the API"
    )
    users: int = Field(description="users on this plan")
    default: bool


class Plans(Answer):
    default_plan: str
    plans: list[PlanInfo]


class AdminUser(Answer):
    name: str
    is_admin: bool
    disabled: bool
    plan: str
    plan_source: Literal["user", "config", "group", "default"]
    own_plan: str | None
    groups: list[str]
    created_at: str
    apis: int
    month: str
    calls_this_month: int
    monthly_calls: int | None
    remaining: int | None
    quota_spent: bool


class AdminUsers(Answer):
    month: str
    users: list[AdminUser]


class Group(Answer):
    name: str
    plan: str | None
    members: list[str]


class Groups(Answer):
    groups: list[Group]


class AdminApis(Answer):
    apis: list[ApiSummary]


class UserCreated(Answer):
    user: str
    token: str = Field(description="the user's control-plane token (shown this once)")
    plan: Plan


class Stopping(Answer):
    status: Literal["stopping"]


# -- the gateway's envelope (its code is raw ASGI; the document describes it from these) -----


class GatewayError(Answer):
    type: str = Field(
        description="bad_json, bad_request, missing_key, invalid_key, disabled_key, disabled_user, forbidden, "
        "not_found, payload_too_large, rate_limited, quota_exceeded, method_not_allowed, "
        "request_timeout, redeploying, too_many_connections, LoadError, or the handler's "
        "exception class (500), or the engine's reason for a crash (502) or timeout (504)"
    )
    message: str


class GatewayBody(BaseModel):
    """What the handler answered, or the error; GET adds the API's readiness."""

    model_config = ConfigDict(extra="allow")
    output: Annotated[Any, Field(description="the handler's result (any JSON value)")] = None
    invocation_id: str | None = None
    status: Literal["ready"] | None = Field(None, description="GET only")
    error: GatewayError | None = None


class Envelope(Answer):
    """Every gateway answer, success or error: the HTTP status equals ``statusCode``."""

    statusCode: int = Field(examples=[200])
    body: GatewayBody
