"""The engine interface: how the platform runs a deployed API version.

The platform (control plane + gateway) only ever talks to an :class:`Engine`. An engine receives
the description of one deployed version (:class:`VersionSpec`), loads it into workers on demand,
runs invocations and reports what the handler printed through :attr:`Engine.on_log`.

Contract details a caller must know:

- ``invoke`` never raises for anything the user's code does: a handler that raises, hangs, kills
  its process, fails at import or returns something JSON cannot carry all come back as an
  :class:`InvocationResult` with a ``status`` and an ``error_type``/``error_message``. It raises
  :class:`UnknownVersionError` only for a ``version_id`` that was never deployed (or was
  undeployed).
- ``output_json`` holds the handler's result already encoded as JSON (UTF-8, strict: no NaN), so
  the gateway can splice it into its envelope without decoding it again.
- The gateway maps ``status`` to HTTP: ok 200, error 500, crashed 502, timeout 504. A worker
  stopped for passing ``memory_mb`` is ``crashed`` with ``error_type == "MemoryLimit"`` (502:
  the worker died; the message names the limit and ``runtime.memory_mb``). A result with
  ``error_type == "InvalidJSON"`` means the request body was not JSON (400).
  ``error_type == "LoadError"`` means the API could not be loaded (its ``main.py`` failed at
  import, has no ``@hub_handler``, or its model folder is missing); the message says which.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from jupyter_hub_api.errors import HubError, UsageError
from jupyter_hub_api.runtime_defaults import RUNTIME_DEFAULTS

from .limits import WorkerLimits

__all__ = [
    "Engine",
    "InvocationResult",
    "ItemCallback",
    "LogCallback",
    "UnknownVersionError",
    "VersionSpec",
]

#: ``on_log(version_id, invocation_id, stream, line)``: ``invocation_id`` is ``None`` for what
#: the module printed at import (or a background thread printed between invocations);
#: ``stream`` is ``"stdout"`` or ``"stderr"``; ``line`` has no trailing newline.
LogCallback = Callable[[str, "str | None", str, str], None]

#: ``on_item(item_json)``: one output of a generator handler, as it is yielded (on the loop).
ItemCallback = Callable[[bytes], None]

InvocationStatus = Literal["ok", "error", "crashed", "timeout"]


@dataclass
class VersionSpec:
    """One deployed version of one API: everything an engine needs to run it."""

    # Unique among the deployed versions; the platform makes "<api id>:<version id>:<n>" (its
    # database ids, n counting activations: every deploy, rollback or start gets a new one).
    version_id: str
    api: str  # "<user>/<api-name>", for logs and messages
    src_dir: Path  # the working directory of the workers, and first on their sys.path
    model_dir: Path  # exposed to the handler as the MODEL_DIR environment variable
    python: Path  # interpreter of the API's environment (must be able to import `hub`)
    env: dict[str, str] = field(default_factory=dict)  # extra environment variables
    # The runtime settings (defaults: jupyter_hub_api/runtime_defaults.py, hub_config.json's).
    # Per invocation; past it: status "timeout", worker replaced.
    timeout_seconds: float = RUNTIME_DEFAULTS.timeout_seconds
    min_workers: int = RUNTIME_DEFAULTS.min_workers  # kept loaded when idle (0: scale to zero)
    max_workers: int = RUNTIME_DEFAULTS.max_workers  # requests beyond wait in a FIFO queue
    idle_seconds: float = RUNTIME_DEFAULTS.idle_seconds  # idle this long: stop (to min_workers)
    # Importing main.py longer than this is a load error.
    load_timeout_seconds: float = RUNTIME_DEFAULTS.load_timeout_seconds
    # Resident memory of a worker and its processes; past it: "crashed", error_type
    # "MemoryLimit", worker replaced (0 = no limit).
    memory_mb: int = RUNTIME_DEFAULTS.memory_mb
    cpus: float = RUNTIME_DEFAULTS.cpus  # reserved per worker where the engine schedules (Ray)
    gpus: float = RUNTIME_DEFAULTS.gpus  # GPUs reserved per worker (Ray; 0 = none)
    # -- fork: further workers forked from a loaded template; a call made before serving --
    fork: bool = RUNTIME_DEFAULTS.fork
    warmup: dict | None = None  # {"input": <JSON value>} (hub_config.json's runtime.warmup)
    # -- end fork --
    # -- tenants: whose workers these are, and what the user's plan lets one use --
    tenant: int | None = None  # the platform user's id: a uid of its own on a root platform
    limits: WorkerLimits | None = None  # open files, CPU time, processes (engines/limits.py)

    def check(self) -> None:
        """Raise :class:`UsageError` if an engine cannot run this spec (``deploy`` calls it)."""
        if self.max_workers < 1:
            raise UsageError(
                f"max_workers of {self.api} must be at least 1, not {self.max_workers}.",
                type="bad_config",
                field="runtime.max_workers",
            )


@dataclass
class InvocationResult:
    """The outcome of one invocation.

    ``duration_ms`` is the time the invocation spent in a worker (sending the request to the
    handler's answer), ``wait_ms`` the time before that spent waiting for a free worker,
    including a cold start (``cold_start`` is then true).
    """

    status: InvocationStatus
    output_json: bytes | None = None
    error_type: str | None = None
    error_message: str | None = None  # one or two sentences; the traceback goes to on_log
    duration_ms: float = 0.0
    wait_ms: float = 0.0
    cold_start: bool = False
    # The HTTP status the handler chose (a 2021-style handler's statusCode 400-599), else None.
    http_status: int | None = None
    # A generator handler's outputs, each JSON-encoded, in order (what it yielded before an
    # error too); None for a handler that returned. ``output_json`` is then their JSON list.
    items: list[bytes] | None = None

    @property
    def ok(self) -> bool:
        """True when the handler answered (``output_json`` is then set)."""
        return self.status == "ok"

    @property
    def http_code(self) -> int:
        """The HTTP status of this result on the wire (see the module's docstring)."""
        if self.http_status:
            return self.http_status
        if self.error_type == "InvalidJSON":
            return 400
        return _HTTP_OF_STATUS.get(self.status, 502)


_HTTP_OF_STATUS = {"ok": 200, "error": 500, "crashed": 502, "timeout": 504}


class UnknownVersionError(HubError):
    """The engine has no deployed version with this id."""

    def __init__(self, version_id: str) -> None:
        super().__init__(
            f"No deployed API version {version_id!r} in this engine.",
            type="not_found",
            status=404,
            exit_code=1,
        )
        self.version_id = version_id


class Engine(ABC):
    """Runs deployed API versions. All methods are called from the platform's event loop."""

    #: Set by the platform to receive what handlers print, line by line, as it happens.
    on_log: LogCallback | None = None

    @abstractmethod
    async def start(self) -> None:
        """Prepare the engine (called once, before any deploy)."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop every worker of every version (whole process groups) and forget them."""

    @abstractmethod
    async def deploy(self, spec: VersionSpec) -> None:
        """Register a version; start ``min_workers`` workers in the background (none if 0).

        Deploying an id that is already deployed replaces its spec for workers started later.
        """

    @abstractmethod
    async def warm(self, version_id: str) -> dict:
        """Make sure at least one worker is loaded, waiting for the import if needed.

        Returns :meth:`status` plus ``load_seconds`` (how long the load this call waited for
        took; 0.0 when a worker was already loaded) and ``import_seconds`` (the part of it spent
        importing the user's ``main.py``). When the load fails, ``state`` is
        ``"failed"`` and ``load_error`` says why; it does not raise.
        """

    @abstractmethod
    async def invoke(
        self,
        version_id: str,
        body: bytes,
        invocation_id: str,
        on_item: ItemCallback | None = None,
        timeout: float | None = None,  # async
    ) -> InvocationResult:
        """Run the handler on ``body`` (the raw JSON request body) and return its result.

        Starts a worker when none is loaded and waits for it (a cold start never fails the
        waking request); queues the request, first come first served, when every worker is busy.
        A generator handler's outputs are passed to ``on_item`` (each JSON-encoded) as they are
        yielded, where the engine can (the Ray engine: all at the end), and are also the
        result's ``items``. ``timeout`` (an asynchronous call's, ``async_timeout_seconds``)
        replaces the version's ``timeout_seconds`` for this call (on the Ray engine too: it goes
        with the request to the replica).
        """

    @abstractmethod
    async def undeploy(self, version_id: str, drain: bool = True) -> None:
        """Remove a version and stop its workers.

        With ``drain``, requests already running or queued finish first (requests arriving
        meanwhile are still served); without, they end with status ``"crashed"``. Once it has
        begun closing the workers, ``invoke`` raises :class:`UnknownVersionError`. Undeploying
        an unknown id does nothing.
        """

    @abstractmethod
    def status(self, version_id: str) -> dict:
        """``{"state": "cold|loading|ready|failed", "workers": n, "busy": n, "queued": n,
        "load_error": str | None}``; raises :class:`UnknownVersionError` for an unknown id."""

    def versions(self) -> list[str]:
        """The ids of the deployed versions."""
        return []
