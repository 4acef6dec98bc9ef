"""The platform's configuration: plans (quotas and limits), request limits, engine defaults.

Read once at start from ``$HUB_PLATFORM_CONFIG`` or ``<platform dir>/config.json`` when it
exists; every field is optional and defaults to the reference guide's free tier::

    {
      "default_plan": "free",
      "plans": {"free": {"max_apis": 5, "monthly_calls": 1000,
                         "rate_limit_per_second": 50, "rate_limit_burst": 100}},
      "users": {"alice": {"plan": "pro"}},
      "max_body_bytes": 6291456,
      "max_blob_bytes": 21474836480,
      "capture_bytes": 4096,
      "engine": {"name": "local", "sandbox": null, "memory_mb": 4096, "timeout_seconds": 60,
                 "load_timeout_seconds": 600, "min_workers": 0, "max_workers": 2,
                 "idle_seconds": 300},
      (or "engine": {"name": "ray", "address": "10.0.0.5:6379"}: the Ray engine, docs/ray.md)
      "http": {"header_timeout_seconds": 10, "body_timeout_seconds": 30,
               "keep_alive_seconds": 20, "max_connections": null},
      "database": {"url": "postgresql://hub:secret@db.example/hub"}
    }

``database.url`` (or ``$HUB_DATABASE_URL``, which wins) keeps the platform's state in that
PostgreSQL database (the ``postgres`` extra) instead of the default ``platform.db`` SQLite file.

A plan value of ``null`` (or 0 for the rate limit) means "no limit". The ``engine`` section's
runtime settings (named and defaulting as in ``hub_config.json``'s ``runtime``, see
``runtime_defaults.py``; ``idle_timeout_seconds`` is still read as ``idle_seconds``) apply to
versions whose build record does not set them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import UsageError
from ..runtime_defaults import RUNTIME_DEFAULTS, Runtime
from .engines.limits import WorkerLimits

# -- tenants: the plan's limits of one worker (engines/limits.py WorkerLimits) --
WORKER_LIMIT_FIELDS = (
    "worker_memory_mb",
    "worker_processes",
    "worker_open_files",
    "worker_cpu_seconds",
)


@dataclass(frozen=True)
class Plan:
    """The limits of one plan.

    ``monthly_calls`` counts answered POSTs per user and calendar month (UTC); ``max_apis`` the
    APIs a user may have at once; the rate limit is a token bucket per API key.
    """

    name: str = "free"
    max_apis: int | None = 5
    monthly_calls: int | None = 1000
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 100
    # -- tenants: what one worker of the user may use (None: no limit; engines/limits.py) --
    worker_memory_mb: int | None = None  # caps the API's runtime.memory_mb
    worker_processes: int | None = None  # RLIMIT_NPROC of the user's uid (root platform)
    worker_open_files: int | None = None  # RLIMIT_NOFILE of each worker process
    worker_cpu_seconds: int | None = None  # RLIMIT_CPU: CPU time of a worker over its life

    def worker_limits(self) -> WorkerLimits:
        """The limits a worker of a user on this plan runs with."""
        return WorkerLimits(
            memory_mb=self.worker_memory_mb,
            processes=self.worker_processes,
            open_files=self.worker_open_files,
            cpu_seconds=self.worker_cpu_seconds,
        )

    # -- end tenants --

    def to_dict(self) -> dict:
        """The plan as JSON."""
        return {
            "name": self.name,
            "max_apis": self.max_apis,
            "monthly_calls": self.monthly_calls,
            "rate_limit_per_second": self.rate_limit_per_second,
            "rate_limit_burst": self.rate_limit_burst,
        }


@dataclass(frozen=True)
class EngineDefaults:
    """The engine, and the runtime of the APIs whose ``hub_config.json`` does not say otherwise."""

    name: str = "local"
    # memory_mb among them: resident memory one worker (with what it started) may use (0 = no
    # limit), enforced by the local engine (engines/limits.py).
    runtime: Runtime = RUNTIME_DEFAULTS
    # Workers in bubblewrap: None = when it works here, False = never, True = required.
    sandbox: bool | None = None
    # The Ray cluster of the ray engine ("host:port" of its head, or None: RAY_ADDRESS / auto).
    address: str | None = None


@dataclass(frozen=True)
class ConnectionLimits:
    """What one HTTP connection may hold of the process (see ``http.py``).

    ``max_connections`` of None is derived from the process's descriptor limit at start.
    """

    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    keep_alive_seconds: float = 20.0
    max_connections: int | None = None


@dataclass(frozen=True)
class PlatformConfig:
    """Everything the platform reads from its config file."""

    default_plan: str = "free"
    plans: dict[str, Plan] = field(default_factory=lambda: {"free": Plan()})
    user_plans: dict[str, str] = field(default_factory=dict)
    # 6 MiB, the payload limit of the serverless functions the guide's service ran on.
    max_body_bytes: int = RUNTIME_DEFAULTS.max_body_bytes
    max_blob_bytes: int = 20 * 1024**3
    # Inputs and outputs kept in the invocation history are cut past this many bytes.
    capture_bytes: int = 4096
    # History kept per API (older rows are pruned; monthly usage counters are kept apart).
    keep_invocations: int = 10_000
    keep_log_lines: int = 20_000
    engine: EngineDefaults = field(default_factory=EngineDefaults)
    http: ConnectionLimits = field(default_factory=ConnectionLimits)
    # -- postgres: a postgresql:// URL, or None for the embedded SQLite file (platform.db) --
    database_url: str | None = None
    # -- async: the "async" object (platform/async_invocations.py: retention, output size,
    # callback_allow networks, callback retries) --
    async_calls: dict = field(default_factory=dict)

    def plan_for(self, user: str) -> Plan:
        """The plan of ``user``."""
        name = self.user_plans.get(user, self.default_plan)
        return self.plans.get(name) or self.plans[self.default_plan]


def config_path() -> Path:
    """Where the config is read from."""
    env = os.environ.get("HUB_PLATFORM_CONFIG")
    return Path(env).expanduser() if env else paths.platform_dir() / "config.json"


def load_config(path: Path | None = None) -> PlatformConfig:
    """Read the config file (a missing file means all defaults); bad values raise UsageError."""
    path = path or config_path()
    if not path.exists():
        return PlatformConfig()
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UsageError(
            f"The platform config {path} is not valid JSON: {err}.",
            type="bad_config",
            hint="Fix the file or remove it to use the defaults.",
        ) from err
    if not isinstance(raw, dict):
        raise UsageError(f"The platform config {path} must be a JSON object.", type="bad_config")
    try:
        return parse_config(raw, str(path))
    except (TypeError, ValueError) as err:
        raise UsageError(
            f"The platform config {path} has a value of the wrong type: {err}.", type="bad_config"
        ) from None


def parse_config(raw: dict[str, Any], where: str = "config") -> PlatformConfig:
    """Build a :class:`PlatformConfig` from a decoded JSON object."""
    base = PlatformConfig()
    plans = dict(base.plans)
    for name, body in (raw.get("plans") or {}).items():
        if not isinstance(body, dict):
            raise UsageError(f"{where}: plans.{name} must be an object.", type="bad_config")
        known = {"max_apis", "monthly_calls", "rate_limit_per_second", "rate_limit_burst"}
        known |= set(WORKER_LIMIT_FIELDS)  # tenants
        unknown = set(body) - known
        if unknown:
            raise UsageError(
                f"{where}: plans.{name} has unknown field(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(known))}.",
                type="bad_config",
            )
        default = plans.get(name, Plan(name=name))
        plans[name] = Plan(
            name=name,
            max_apis=_opt_int(body, "max_apis", default.max_apis, where),
            monthly_calls=_opt_int(body, "monthly_calls", default.monthly_calls, where),
            rate_limit_per_second=float(
                body.get("rate_limit_per_second") or 0
                if "rate_limit_per_second" in body
                else default.rate_limit_per_second
            ),
            rate_limit_burst=int(body.get("rate_limit_burst") or default.rate_limit_burst),
            **{  # tenants
                key: _opt_int(body, key, getattr(default, key), where)
                for key in WORKER_LIMIT_FIELDS
            },
        )
    default_plan = raw.get("default_plan", base.default_plan)
    if default_plan not in plans:
        raise UsageError(
            f"{where}: default_plan {default_plan!r} is not in plans.", type="bad_config"
        )
    user_plans = {}
    for user, body in (raw.get("users") or {}).items():
        plan = body.get("plan") if isinstance(body, dict) else body
        if plan not in plans:
            raise UsageError(
                f"{where}: users.{user}.plan {plan!r} is not in plans.", type="bad_config"
            )
        user_plans[user] = plan
    eng = raw.get("engine") or {}
    runtime = {k: v for k, v in eng.items() if k not in ("env", "max_body_bytes")}
    runtime.setdefault("idle_seconds", eng.get("idle_timeout_seconds"))  # its former name
    engine = EngineDefaults(
        name=str(eng.get("name", base.engine.name)),
        runtime=base.engine.runtime.updated(runtime),
        sandbox=eng.get("sandbox", base.engine.sandbox),
        address=eng.get("address", base.engine.address),
    )
    if engine.address is not None and not isinstance(engine.address, str):
        raise UsageError(
            f"{where}: engine.address must be the Ray cluster's host:port, as a string.",
            type="bad_config",
        )
    if engine.runtime.memory_mb < 0 or engine.sandbox not in (None, True, False):
        raise UsageError(
            f"{where}: engine.memory_mb must be 0 (no limit) or more megabytes, and "
            "engine.sandbox true, false or null.",
            type="bad_config",
        )
    return PlatformConfig(
        http=_connection_limits(raw.get("http") or {}, where),
        default_plan=default_plan,
        plans=plans,
        user_plans=user_plans,
        max_body_bytes=int(raw.get("max_body_bytes", base.max_body_bytes)),
        max_blob_bytes=int(raw.get("max_blob_bytes", base.max_blob_bytes)),
        capture_bytes=int(raw.get("capture_bytes", base.capture_bytes)),
        keep_invocations=int(raw.get("keep_invocations", base.keep_invocations)),
        keep_log_lines=int(raw.get("keep_log_lines", base.keep_log_lines)),
        engine=engine,
        database_url=_database_url(raw.get("database"), where),  # postgres
        async_calls=_async_section(raw.get("async"), where),  # async
    )


# -- async --
def _async_section(body, where: str) -> dict:
    if body is None:
        return {}
    known = {
        "retention_days",
        "max_output_bytes",
        "callback_allow",
        "callback_attempts",
        "callback_backoff_seconds",
    }
    if not isinstance(body, dict) or set(body) - known:
        raise UsageError(
            f"{where}: async must be an object with only {', '.join(sorted(known))}.",
            type="bad_config",
        )
    import ipaddress

    for net in body.get("callback_allow") or []:
        try:
            ipaddress.ip_network(str(net), strict=False)
        except ValueError:
            raise UsageError(
                f"{where}: async.callback_allow has {net!r}, not a network; write e.g. "
                '"127.0.0.1/32" or "10.0.0.0/8".',
                type="bad_config",
            ) from None
    return dict(body)


# -- end async --


def _connection_limits(body: dict, where: str) -> ConnectionLimits:
    if not isinstance(body, dict):
        raise UsageError(f"{where}: http must be an object.", type="bad_config")
    base = ConnectionLimits()
    known = set(base.__dataclass_fields__)
    unknown = set(body) - known
    if unknown:
        raise UsageError(
            f"{where}: http has unknown field(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(known))}.",
            type="bad_config",
        )
    values = {}
    for name in known - {"max_connections"}:
        value = body.get(name, getattr(base, name))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise UsageError(
                f"{where}: http.{name} must be a number of seconds above 0.", type="bad_config"
            )
        values[name] = float(value)
    cap = body.get("max_connections")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise UsageError(
            f"{where}: http.max_connections must be a whole number above 0, or null.",
            type="bad_config",
        )
    return ConnectionLimits(max_connections=cap, **values)


def _opt_int(body: dict, key: str, default: int | None, where: str) -> int | None:
    if key not in body:
        return default
    value = body[key]
    if value is None:
        return None
    if not isinstance(value, int) or value < 0:
        raise UsageError(
            f"{where}: {key} must be a non-negative integer or null.", type="bad_config"
        )
    return value


# -- postgres: where the state is kept --------------------------------------------------------
def _database_url(body: Any, where: str) -> str | None:
    if body is None:
        return None
    if not isinstance(body, dict) or set(body) - {"url"}:
        raise UsageError(
            f'{where}: database must be an object like {{"url": "postgresql://..."}}.',
            type="bad_config",
        )
    return check_database_url(body.get("url"), f"{where}: database.url")


def check_database_url(url: Any, what: str) -> str | None:
    """``url`` if it names a PostgreSQL database (None or "" mean the SQLite file)."""
    if url is None or url == "":
        return None
    if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
        raise UsageError(
            f"{what} must be a postgresql:// URL (leave it out to keep the state in the "
            "platform's own SQLite file).",
            type="bad_config",
        )
    return url


def database_url(config: PlatformConfig) -> str | None:
    """The PostgreSQL database of the platform: ``$HUB_DATABASE_URL``, else the config's."""
    env = os.environ.get("HUB_DATABASE_URL")
    if env:
        return check_database_url(env, "HUB_DATABASE_URL")
    return config.database_url
