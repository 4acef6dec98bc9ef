"""The Ray engine: each deployed version is a Ray Serve application on a Ray cluster.

A replica of the application (:class:`HubReplica`, a thin Serve deployment) owns one worker of
our own runtime through a :class:`~.local.LocalEngine` of one worker: the same
``<env python> -m hub._worker`` process, sandbox, scrubbed environment, memory limit, timeouts
(504, worker replaced), crash handling (502, worker replaced) and load errors (back-off) as on
the local engine. The built environment and the model files are read where the platform wrote
them (``$HUB_HOME`` must be the same shared folder on every node).

The platform keeps keys, quotas and metering and calls replicas through Serve's
``DeploymentHandle`` (no HTTP hop). Serve scales each application from ``min_workers`` to
``max_workers`` replicas (0 = scale to zero: the waking request waits at the handle); a
replica's CPUs, GPUs and memory come from the version's ``hub_config.json``. What a handler
prints comes back with its answer (lines printed outside an invocation, with the next answer)
and is passed to ``on_log`` then, with its invocation id.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import socket
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .base import (
    Engine,
    InvocationResult,
    ItemCallback,
    LogCallback,
    UnknownVersionError,
    VersionSpec,
)

__all__ = ["HubReplica", "RayEngine"]

log = logging.getLogger(__name__)

#: The application names of one platform start with this and a tag of its data directory.
APP_PREFIX = "hub"
_STATUS_EVERY = 2.0  # seconds between reads of the replica counts (serve.status())
# The platform's handles report their queued requests to Serve's autoscaler every second (its
# default, 10 s, is also how late a scale-up from 1 to N starts). Read when Serve is imported.
os.environ.setdefault("RAY_SERVE_HANDLE_AUTOSCALING_METRIC_PUSH_INTERVAL_S", "1")
_NOT_STARTED = (
    "No replica of {api} could be started on the Ray cluster within {seconds:g} s; check that "
    "a node has the CPUs, GPUs and memory its hub_config.json asks for (runtime.cpus, "
    "runtime.gpus, runtime.memory_mb) and that jupyter-hub-api is installed on the nodes."
)


def _spec_to_wire(spec: VersionSpec) -> dict:
    wire = asdict(spec)
    for name in ("src_dir", "model_dir", "python"):
        wire[name] = str(wire[name])
    return wire


def _spec_from_wire(wire: dict) -> VersionSpec:
    known = {f.name for f in fields(VersionSpec)}
    spec = VersionSpec(**{k: v for k, v in wire.items() if k in known})
    spec.src_dir, spec.model_dir, spec.python = (
        Path(spec.src_dir),
        Path(spec.model_dir),
        Path(spec.python),
    )
    return spec


class HubReplica:
    """One Serve replica: a local engine of one worker for one version.

    Runs in a Ray worker process of the cluster's Python (which has jupyter-hub-api and ray
    installed); the API's own worker runs with the version's environment, started by the local
    engine. Answers are plain dicts (an :class:`InvocationResult` and the log lines).
    """

    def __init__(self, wire: dict, hub_home: str, sandbox: bool | None, read_only: list[str]):
        os.environ["HUB_HOME"] = hub_home  # this process only: where the local engine looks
        self.spec = _spec_from_wire(wire)
        # One worker per replica: Serve scales replicas, each replica keeps its worker loaded.
        self.spec.min_workers = 1
        self.spec.max_workers = 1
        self.spec.idle_seconds = 10**9
        self.sandbox = sandbox
        self.read_only = [Path(p) for p in read_only]
        self.engine = None
        self.starting: asyncio.Task | None = None
        self.lines: dict[str | None, list[tuple[str, str]]] = {}
        self.served = 0

    def _on_log(self, version_id, invocation_id, stream, line) -> None:
        bucket = self.lines.setdefault(invocation_id, [])
        if len(bucket) < 10_000:  # a handler printing without end must not fill the replica
            bucket.append((stream, line))

    def _take(self, invocation_id: str | None) -> list:
        taken = [(None, s, line) for s, line in self.lines.pop(None, ())]
        if invocation_id is not None:
            taken += [(invocation_id, s, line) for s, line in self.lines.pop(invocation_id, ())]
        return taken

    async def _engine(self):
        if self.engine is None:
            if self.starting is None:
                self.starting = asyncio.get_running_loop().create_task(self._start())
            await asyncio.shield(self.starting)
        return self.engine

    async def _start(self) -> None:
        from jupyter_hub_api import paths

        from .local import LocalEngine

        engine = LocalEngine(
            on_log=self._on_log,
            sandbox=self.sandbox,
            read_only_paths=self.read_only,
            # Per node and per replica process: the node's own disk, swept by pid as usual.
            scratch_dir=paths.platform_dir() / "ray-workers" / socket.gethostname(),
        )
        await engine.start()
        await engine.deploy(self.spec)
        self.engine = engine

    async def warm(self) -> dict:
        engine = await self._engine()
        status = await engine.warm(self.spec.version_id)
        return {"status": status, "logs": self._take(None)}

    async def invoke(self, body: bytes, invocation_id: str, timeout: float | None = None) -> dict:
        engine = await self._engine()
        self.served += 1
        try:
            result = await engine.invoke(self.spec.version_id, body, invocation_id, timeout=timeout)
        except asyncio.CancelledError:
            self.lines.pop(invocation_id, None)
            raise
        answer = asdict(result)
        answer["first"] = self.served == 1
        answer["logs"] = self._take(invocation_id)
        return answer

    async def __del__(self) -> None:
        if self.engine is not None:
            await self.engine.stop()


@dataclass
class _Version:
    spec: VersionSpec
    app: str
    handle: object = None
    inflight: set = field(default_factory=set)  # DeploymentResponses not yet answered
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    replicas: int = 0
    loaded: bool = False  # a replica answered since the version last had none
    starting: int = 0
    load_error: str | None = None
    pings: bool = False
    leaving: bool = False
    closed: bool = False


def _start_limit(spec: VersionSpec, timeout: float | None) -> float:
    """How long a call waits at the handle: a replica's start (scale from zero, the load
    timeout), then the call itself (its own ``timeout``, else the version's), and 60 s."""
    call = spec.timeout_seconds if timeout is None else timeout
    return spec.load_timeout_seconds + call + 60


def app_name(tag: str, spec: VersionSpec) -> str:
    """The Serve application of a version: the API's name, sanitised, and a hash of the id."""
    api = re.sub(r"[^a-z0-9]+", "-", spec.api.lower()).strip("-")[:60] or "api"
    digest = hashlib.sha256(spec.version_id.encode()).hexdigest()[:10]
    return f"{APP_PREFIX}{tag}-{api}-{digest}"


class RayEngine(Engine):
    """Runs every deployed version as a Ray Serve application on the cluster at ``address``.

    ``address``: the Ray cluster (``host:port`` of its GCS, ``auto``, or ``None`` for the one
    of ``RAY_ADDRESS``). ``sandbox`` and ``read_only_paths`` are the local engine's, applied on
    the nodes. ``scratch_dir`` is accepted for the platform's sake and not used: the replicas
    keep their workers' scratch folders on their own node.
    """

    def __init__(
        self,
        address: str | None = None,
        on_log: LogCallback | None = None,
        sandbox: bool | None = None,
        read_only_paths=(),
        scratch_dir: Path | None = None,
        namespace: str = "jupyter-hub-api",
    ) -> None:
        self.address = address
        self.on_log = on_log
        self.sandbox = sandbox
        self.read_only = [str(p) for p in read_only_paths]
        self.namespace = namespace
        self.versions_: dict[str, _Version] = {}
        self._status_task: asyncio.Task | None = None
        self._tag = ""
        self._hub_home = ""

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        from jupyter_hub_api import paths

        self._hub_home = str(paths.hub_home())
        where = f"{socket.gethostname()}:{self._hub_home}"
        self._tag = hashlib.sha256(where.encode()).hexdigest()[:6]
        await asyncio.to_thread(self._connect)
        self._status_task = asyncio.get_running_loop().create_task(self._watch_status())

    def _connect(self) -> None:
        import ray
        from ray import serve

        if not ray.is_initialized():
            try:
                ray.init(
                    address=self.address or os.environ.get("RAY_ADDRESS") or "auto",
                    namespace=self.namespace,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                    configure_logging=False,
                )
            except (ConnectionError, RuntimeError) as exc:
                from jupyter_hub_api.errors import UsageError

                raise UsageError(
                    f"Cannot connect to the Ray cluster at {self.address or 'auto'}: {exc}",
                    type="bad_engine",
                    hint="Start it (ray start --head) or fix engine.address in the platform "
                    "config.",
                ) from exc
        # The gateway calls replicas through handles: Serve needs no HTTP proxy for us.
        serve.start(proxy_location="Disabled")
        # Applications a previous run of this platform left behind (it was killed) go now.
        for name in serve.status().applications:
            if name.startswith(f"{APP_PREFIX}{self._tag}-"):
                serve.delete(name, _blocking=False)

    async def stop(self) -> None:
        if self._status_task is not None:
            self._status_task.cancel()
            self._status_task = None
        versions, self.versions_ = list(self.versions_.values()), {}
        for version in versions:
            version.closed = True
            for response in list(version.inflight):
                response.cancel()
        if versions:
            await asyncio.to_thread(self._delete, [v.app for v in versions])

    @staticmethod
    def _delete(apps: list[str]) -> None:
        from ray import serve

        for app in apps:
            serve.delete(app, _blocking=False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            left = set(apps) & set(serve.status().applications)
            if not left:
                return
            time.sleep(0.2)
        log.warning("Ray Serve applications still being deleted: %s", ", ".join(sorted(left)))

    async def _watch_status(self) -> None:
        """Keep the replica counts of :meth:`status` fresh (it must answer at once)."""
        from ray import serve

        while True:
            await asyncio.sleep(_STATUS_EVERY)
            if not self.versions_:
                continue
            try:
                apps = (await asyncio.to_thread(serve.status)).applications
            except Exception:  # noqa: BLE001 - a missed reading is not an error
                log.debug("serve.status() failed", exc_info=True)
                continue
            for version in list(self.versions_.values()):
                app = apps.get(version.app)
                states: dict = {}
                if app is not None:
                    for deployment in app.deployments.values():
                        states = deployment.replica_states
                version.replicas = int(states.get("RUNNING", 0))
                if not version.replicas:
                    version.loaded = False
                version.starting = int(states.get("STARTING", 0)) + int(
                    states.get("PENDING_ALLOCATION", 0)
                )

    # -- versions -----------------------------------------------------------------------------

    async def deploy(self, spec: VersionSpec) -> None:
        spec.check()
        version = self.versions_.get(spec.version_id)
        if version is None or version.leaving:
            version = _Version(spec, app_name(self._tag, spec))
            version.idle.set()
            self.versions_[spec.version_id] = version
        version.spec = spec
        version.handle = await asyncio.to_thread(self._run, version)

    def _run(self, version: _Version):
        from ray import serve

        spec = version.spec
        actor_options: dict = {"num_cpus": spec.cpus}
        if spec.gpus:
            actor_options["num_gpus"] = spec.gpus
        if spec.memory_mb:
            actor_options["memory"] = spec.memory_mb * 1024 * 1024
        deployment = serve.deployment(
            HubReplica,
            name="hub",
            ray_actor_options=actor_options,
            # One request at a time per replica, as per worker on the local engine: the others
            # wait at the handle for the first free replica (a new one, when scaling up), not
            # behind a slow request in a busy replica.
            max_ongoing_requests=1,
            autoscaling_config={
                "min_replicas": spec.min_workers,
                "max_replicas": spec.max_workers,
                "target_ongoing_requests": 1,
                "upscale_delay_s": 1.0,
                "downscale_delay_s": max(spec.idle_seconds, 1.0),
                # Just above Serve's 10 s metrics interval (it warns below); handles report
                # every second (RAY_SERVE_HANDLE_AUTOSCALING_METRIC_PUSH_INTERVAL_S, above).
                "look_back_period_s": 11.0,
            },
            graceful_shutdown_timeout_s=spec.timeout_seconds + 5,
            health_check_period_s=10,
        )
        app = deployment.bind(_spec_to_wire(spec), self._hub_home, self.sandbox, self.read_only)
        return serve._run(app, name=version.app, route_prefix=None, _blocking=False)

    def _version(self, version_id: str) -> _Version:
        version = self.versions_.get(version_id)
        if version is None or version.closed:
            raise UnknownVersionError(version_id)
        return version

    def _emit(self, version: _Version, lines) -> None:
        callback = self.on_log
        if callback is None:
            return
        for invocation_id, stream, line in lines:
            try:
                callback(version.spec.version_id, invocation_id, stream, line)
            except Exception:  # noqa: BLE001 - a logging failure must not break serving
                log.exception("on_log callback failed")

    async def _call(self, version: _Version, method: str, *args, timeout: float | None = None):
        """Call ``method`` on a replica; waits for one to start (scale from zero).

        ``timeout``: the call's own limit in the replica (an asynchronous call's), which
        replaces the version's ``timeout_seconds`` there and so also in the wait here."""
        handle = getattr(version.handle, method)
        response = handle.remote(*args) if timeout is None else handle.remote(*args, timeout)
        version.inflight.add(response)
        version.idle.clear()
        limit = _start_limit(version.spec, timeout)
        try:
            return await asyncio.wait_for(response, limit)
        except asyncio.TimeoutError:
            response.cancel()
            raise
        finally:
            version.inflight.discard(response)
            if not version.inflight:
                version.idle.set()

    async def warm(self, version_id: str) -> dict:
        version = self._version(version_id)
        started = time.perf_counter()
        try:
            answer = await self._call(version, "warm")
        except Exception as exc:  # noqa: BLE001 - reported as a failed load, as documented
            version.load_error = self._failure(version, exc, loading=True).error_message
            return {**self.status(version_id), "load_seconds": 0.0, "import_seconds": 0.0}
        self._emit(version, answer["logs"])
        local = answer["status"]
        version.load_error = local.get("load_error")
        version.pings = bool(local.get("pings"))
        if local.get("state") == "ready":
            version.replicas = max(version.replicas, 1)
            version.loaded = True
        status = self.status(version_id)
        load_seconds = local.get("load_seconds", 0.0)
        if load_seconds:
            load_seconds = time.perf_counter() - started  # the replica's start included
        return {
            **status,
            "load_seconds": load_seconds,
            "import_seconds": local.get("import_seconds", 0.0),
        }

    async def invoke(
        self,
        version_id: str,
        body: bytes,
        invocation_id: str,
        on_item: ItemCallback | None = None,
        timeout: float | None = None,  # async
    ) -> InvocationResult:
        # A generator handler's outputs come back with the answer (a replica's call is one Ray
        # RPC), so on_item gets them all at the end: streamed requests work, but not as a stream.
        # A batch handler is served one request at a time (one request per replica: batches of
        # one). ``timeout`` (an asynchronous call's) goes with the request to the replica,
        # whose local engine applies it as on this machine.
        version = self._version(version_id)
        cold = version.replicas == 0
        started = time.perf_counter()
        try:
            answer = await self._call(version, "invoke", body, invocation_id, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - every failure of Ray is a result
            return self._failure(version, exc, timeout=timeout)
        self._emit(version, answer.pop("logs"))
        first = answer.pop("first")
        result = InvocationResult(**answer)
        result.cold_start = result.cold_start or (cold and first)
        result.wait_ms = max((time.perf_counter() - started) * 1000.0 - result.duration_ms, 0.0)
        if on_item is not None and result.items:
            for item in result.items:
                on_item(item)
        if result.error_type == "LoadError":
            version.load_error = result.error_message
        elif result.status in ("ok", "error"):
            version.load_error = None
            version.replicas = max(version.replicas, 1)
            version.loaded = True
        return result

    def _failure(
        self,
        version: _Version,
        exc: BaseException,
        loading: bool = False,
        timeout: float | None = None,
    ):
        """The result of a call that Ray, not the handler, could not complete."""
        from ray import exceptions as rex

        api = version.spec.api
        if version.closed:
            return InvocationResult(
                "crashed",
                error_type="Undeployed",
                error_message=f"The API version {version.spec.version_id} was removed before "
                "this request was answered.",
            )
        if isinstance(exc, asyncio.TimeoutError):
            seconds = _start_limit(version.spec, timeout)
            return InvocationResult(
                "error",
                error_type="LoadError",
                error_message=_NOT_STARTED.format(api=api, seconds=seconds),
            )
        if isinstance(exc, (rex.RayActorError, rex.ActorDiedError, rex.ActorUnavailableError)):
            return InvocationResult(
                "crashed",
                error_type="WorkerCrashed",
                error_message=f"The Ray replica running this request of {api} stopped before "
                "answering; the request was not completed, and the replica is replaced.",
            )
        log.warning("Ray call to %s failed: %r", api, exc)
        first = str(exc).strip().splitlines()[-1:] or [type(exc).__name__]
        return InvocationResult(
            "error" if loading else "crashed",
            error_type="LoadError" if loading else "WorkerCrashed",
            error_message=f"Ray could not run this request of {api}: {first[0][:300]}",
        )

    async def undeploy(self, version_id: str, drain: bool = True) -> None:
        version = self.versions_.get(version_id)
        if version is None:
            return
        version.leaving = True
        if drain:
            while version.inflight and not version.closed:
                await version.idle.wait()
        version.closed = True
        for response in list(version.inflight):
            response.cancel()
        if self.versions_.get(version_id) is version:
            del self.versions_[version_id]
        if not any(v.app == version.app for v in self.versions_.values()):
            await asyncio.to_thread(self._delete, [version.app])

    def status(self, version_id: str) -> dict:
        version = self._version(version_id)
        busy = len(version.inflight)
        if version.load_error:
            state = "failed"
        elif version.replicas and version.loaded:
            state = "ready"
        elif version.starting or version.replicas or busy:
            state = "loading"
        else:
            state = "cold"
        return {
            "state": state,
            "workers": version.replicas + version.starting,
            "busy": min(busy, version.replicas),
            "queued": max(busy - version.replicas, 0),
            "load_error": version.load_error,
            "min_workers": version.spec.min_workers,
            "max_workers": version.spec.max_workers,
            "pings": version.pings,
        }

    def versions(self) -> list[str]:
        return list(self.versions_)
