"""The local engine: each deployed version runs in worker processes on this machine.

The parts, each calling only the ones below it::

    LocalEngine (local.py)   the Engine interface: a Pool per deployed version
      Pool (pool.py)         scheduling: queue, scale up/down, back-off, drain
        Worker (worker.py)   the state machine of one worker and its invocations
          FrameReader, OutputPipes (protocol.py)   frames on its socket, lines on fd 1 and 2
          WorkerProcess, Launcher (procs.py)       start in the sandbox, exit, kill the group
            worker_environment (environ.py), Sandbox (sandbox.py), MemoryWatch (limits.py)

A worker tells its pool what happens through the small :class:`~.worker.WorkerOwner`
interface; a pool starts processes through the :class:`~.procs.Launcher` it is given.
Everything runs on the platform's event loop: no threads (but where a kernel has no pidfd),
no locks, no polling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path

from .base import (
    Engine,
    InvocationResult,
    ItemCallback,
    LogCallback,
    UnknownVersionError,
    VersionSpec,
)
from .pool import LoadFailed, Pool
from .procs import Launcher, WorkerProcess
from .sandbox import Sandbox, Scratch
from .worker import Job

__all__ = ["LocalEngine"]

log = logging.getLogger(__name__)


class LocalEngine(Engine):
    """Runs every deployed version in worker processes on this machine.

    ``sandbox``: ``None`` (default) runs workers in bubblewrap when it works here, ``False``
    never, ``True`` requires it. ``read_only_paths``: more folders a sandboxed worker may read
    (the data directory is hidden but for its runtime, environment and version). ``scratch_dir``
    holds the workers' private /tmp and HOME (default ``<platform dir>/workers``).
    """

    def __init__(
        self,
        on_log: LogCallback | None = None,
        sandbox: bool | None = None,
        read_only_paths: Iterable[Path] = (),
        scratch_dir: Path | None = None,
    ) -> None:
        self.on_log = on_log
        self._sandbox_option = sandbox
        self._read_only_paths = [Path(p) for p in read_only_paths]
        self._scratch_dir = Path(scratch_dir) if scratch_dir else None
        self.sandbox: Sandbox | None = None
        self.launcher: Launcher | None = None
        self.pools: dict[str, Pool] = {}

    @property
    def processes(self) -> set[WorkerProcess]:
        """Every worker process started and not yet released (empty once stopped)."""
        return self.launcher.live if self.launcher is not None else set()

    async def start(self) -> None:
        if self.sandbox is None:
            from jupyter_hub_api import paths

            home = paths.hub_home()
            if self._scratch_dir is None:
                self._scratch_dir = paths.platform_dir() / "workers"
            self.sandbox = await asyncio.to_thread(
                Sandbox,
                self._sandbox_option,
                hidden=[home, self._scratch_dir.parent],  # the data and the platform's state
                visible=[home / "runtime"],
                read_only=self._read_only_paths,
            )
            await asyncio.to_thread(Scratch.sweep, self._scratch_dir)
        self.launcher = Launcher(self.sandbox, self._scratch_dir, asyncio.get_running_loop())

    async def stop(self) -> None:
        if self.launcher is None:
            return
        self.launcher.stopping = True
        pools, self.pools = list(self.pools.values()), {}
        await asyncio.gather(*(pool.close(drain=False) for pool in pools), return_exceptions=True)
        # Whatever is still alive (e.g. a worker retired earlier) ends now.
        await self.launcher.stop()

    async def deploy(self, spec: VersionSpec) -> None:
        spec.check()
        pool = self.pools.get(spec.version_id)
        if pool is not None and not pool.leaving:
            pool.spec = spec
        else:
            pool = self.pools[spec.version_id] = Pool(spec, self.launcher, self._log)
        pool.scale_up()

    def _pool(self, version_id: str) -> Pool:
        pool = self.pools.get(version_id)
        if pool is None or pool.closed:
            raise UnknownVersionError(version_id)
        return pool

    async def warm(self, version_id: str) -> dict:
        pool = self._pool(version_id)
        try:
            load_seconds = await pool.warm()
        except LoadFailed:
            load_seconds = 0.0
        import_seconds = pool.last_import_seconds if load_seconds else 0.0
        return {**pool.status(), "load_seconds": load_seconds, "import_seconds": import_seconds}

    async def invoke(
        self,
        version_id: str,
        body: bytes,
        invocation_id: str,
        on_item: ItemCallback | None = None,
        timeout: float | None = None,  # async: an asynchronous call's own limit
    ) -> InvocationResult:
        pool = self._pool(version_id)
        job = Job(
            invocation_id, body, pool.loop.create_future(), not pool.loaded(), on_item, timeout
        )
        pool.submit(job)
        try:
            return await job.future
        except asyncio.CancelledError:
            pool.withdraw(job)
            raise

    async def undeploy(self, version_id: str, drain: bool = True) -> None:
        pool = self.pools.get(version_id)
        if pool is None:
            return  # already gone: undeploying is idempotent
        # Deploying the same id again while this one drains (a quick rollback) gets a new pool.
        pool.leaving = True
        await pool.close(drain)
        if self.pools.get(version_id) is pool:
            del self.pools[version_id]

    def status(self, version_id: str) -> dict:
        return self._pool(version_id).status()

    def versions(self) -> list[str]:
        return list(self.pools)

    def _log(self, version_id: str, invocation_id: str | None, stream: str, line: str) -> None:
        """Pass one line a worker printed to ``on_log`` (which may be set after start)."""
        callback = self.on_log
        if callback is None:
            return
        try:
            callback(version_id, invocation_id, stream, line)
        except Exception:  # noqa: BLE001 - a logging failure must not break serving
            log.exception("on_log callback failed")
