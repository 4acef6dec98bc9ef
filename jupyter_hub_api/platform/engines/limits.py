"""The memory limit of a worker: a watchdog that samples the resident memory of its processes.

A worker's memory is the sum of the resident set sizes (RSS) of its process and every process
under it (with the sandbox, everything in its PID namespace; without, what has not detached).
The watchdog samples each limited worker every :data:`INTERVAL` seconds, in a thread so the
event loop never reads ``/proc``; a worker past its limit is told (``over_limit(rss)``) on the
event loop, and the engine kills it, answers its request and replaces it.

Why not a cgroup: a cgroup's ``memory.max`` would be exact, but needs a cgroup v2 hierarchy with
the memory controller delegated to the platform. Machines with hybrid cgroups (memory on v1, as
in many containers) have none, and a platform must not move its workers out of the cgroup its
own container manager put it in. The sampled RSS overshoots by what a handler allocates in one
interval (and counts shared pages once per process); it is enforced everywhere psutil runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import psutil

__all__ = ["MemoryWatch", "WorkerLimits", "cpu_message", "memory_message", "tree_rss"]

log = logging.getLogger(__name__)

INTERVAL = 0.2  # seconds between two samples of a worker's memory
MB = 1024 * 1024


def tree_rss(pid: int) -> int:
    """Bytes resident in memory of process ``pid`` and all its descendants (0 once it is gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:  # ended between the listing and the reading
            pass
    return total


def memory_message(limit_mb: int, loading: bool = False) -> str:
    """The sentence a request (or a failed load) gets when its worker passed the limit."""
    what = "while importing src/main.py" if loading else ""
    return (
        f"The worker was stopped{' ' + what if what else ''}: it used more than {limit_mb} MB, "
        "the API's memory limit; raise runtime.memory_mb in hub_config.json, or make the "
        "handler use less memory."
    )


class MemoryWatch:
    """Samples the memory of the workers it is given and reports those past their limit."""

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        # pid -> (limit in bytes, called on the event loop with the RSS when past the limit)
        self.watched: dict[int, tuple[int, Callable[[int], None]]] = {}
        self.task: asyncio.Task | None = None

    def add(self, pid: int, limit_mb: int, over_limit: Callable[[int], None]) -> None:
        """Watch process ``pid`` (and its descendants) against ``limit_mb`` megabytes."""
        if limit_mb <= 0:
            return
        self.watched[pid] = (limit_mb * MB, over_limit)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, pid: int) -> None:
        """Stop watching ``pid`` (it exited)."""
        self.watched.pop(pid, None)

    async def stop(self) -> None:
        """Stop sampling."""
        self.watched.clear()
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None

    async def _run(self) -> None:
        while self.watched:
            await asyncio.sleep(self.interval)
            pids = list(self.watched)
            try:
                sizes = await asyncio.to_thread(_sizes, pids)
            except RuntimeError:  # the default executor is shutting down with the loop
                return
            for pid, rss in zip(pids, sizes, strict=True):
                entry = self.watched.get(pid)
                if entry is not None and rss > entry[0]:
                    del self.watched[pid]
                    try:
                        entry[1](rss)
                    except Exception:  # noqa: BLE001 - the watchdog must keep watching
                        log.exception("memory limit callback failed")


def _sizes(pids: list[int]) -> list[int]:
    return [tree_rss(pid) for pid in pids]


# -- the plan's limits of one worker (tenants) -------------------------------------------------
@dataclass(frozen=True)
class WorkerLimits:
    """What one worker may use, from its user's plan (``None``: no limit).

    Set as resource limits (``setrlimit``, through util-linux's ``prlimit`` in front of the
    worker's command, so the spawn keeps ``vfork``): ``open_files`` is ``RLIMIT_NOFILE`` of
    every process (an ``open`` past it fails with EMFILE, "Too many open files");
    ``cpu_seconds`` is ``RLIMIT_CPU``, the CPU time one process may use over its life (past it
    the kernel stops it with SIGXCPU and the request gets 502 saying so: the wall-clock
    ``timeout_seconds`` bounds one request, this bounds what a worker burns in total, threads
    and background work included); ``processes`` is ``RLIMIT_NPROC``, which the kernel counts
    per uid: it is set only when the tenant has a uid of its own (a root platform), where it
    caps the processes and threads of all that user's workers together (a fork bomb gets
    EAGAIN); under one shared uid it would count the platform's own processes, so it is not
    set. ``memory_mb`` caps the API's ``runtime.memory_mb`` (the watchdog above).
    """

    memory_mb: int | None = None
    processes: int | None = None
    open_files: int | None = None
    cpu_seconds: int | None = None

    def prlimit_options(self, per_uid: bool) -> list[str]:
        """The options of ``prlimit`` that set these limits (soft = hard, so a handler cannot
        raise them; the CPU limit's hard value one second later, so SIGXCPU comes first)."""
        options = []
        if self.open_files:
            # The worker itself needs a few (its socket, pipes, the interpreter's imports).
            n = max(int(self.open_files), 16)
            options.append(f"--nofile={n}:{n}")
        if self.cpu_seconds:
            n = max(int(self.cpu_seconds), 1)
            options.append(f"--cpu={n}:{n + 1}")
        if self.processes and per_uid:
            n = max(int(self.processes), 4)
            options.append(f"--nproc={n}:{n}")
        return options

    def memory_cap(self, memory_mb: int) -> int:
        """``memory_mb`` of an API (0: none) capped by the plan's."""
        if not self.memory_mb:
            return memory_mb
        return min(memory_mb, self.memory_mb) if memory_mb else self.memory_mb


def cpu_message(cpu_seconds: int | None) -> str:
    """The sentence a request gets when its worker used up the plan's CPU time."""
    limit = f"{cpu_seconds} s" if cpu_seconds else "its limit"
    return (
        f"The worker was stopped: it used more than {limit} of CPU time, the limit of a worker "
        "on your plan (worker_cpu_seconds); make the handler use less CPU, or ask the "
        "platform's admin for a plan with more."
    )
