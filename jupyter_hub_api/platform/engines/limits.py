"""The memory limit of a worker: a watchdog that samples the resident memory of its processes.

A worker's memory is the sum of the resident set sizes (RSS) of its process and every process
under it (with the sandbox, everything in its PID namespace; without, what has not detached).
The watchdog samples each limited worker every :data:`INTERVAL` seconds, in a thread so the
event loop never reads ``/proc``; a worker past its limit is told (``over_limit(rss)``) on the
event loop, and the engine kills it, answers its request and replaces it. One full sample of all the
watched workers reads ``/proc/<pid>/stat`` of each process once (its parent and its RSS), so its
cost does not grow with the number of workers, and only every :data:`FULL_SCAN_EVERY`-th
sample is full (the others read the RSS of the processes each tree had then; so a process a
worker starts is counted within a second): a sample per worker with psutil's
``children(recursive=True)`` scanned every process of the machine once per worker, 13% of the
platform process's CPU under echo load with three workers (bench/profile_ours.py).

Why not a cgroup: a cgroup's ``memory.max`` would be exact, but needs a cgroup v2 hierarchy with
the memory controller delegated to the platform. Machines with hybrid cgroups (memory on v1, as
in many containers) have none, and a platform must not move its workers out of the cgroup its
own container manager put it in. The sampled RSS overshoots by what a handler allocates in one
interval (and counts shared pages once per process); it is enforced everywhere psutil runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import psutil

__all__ = ["MemoryWatch", "WorkerLimits", "cpu_message", "memory_message", "tree_rss"]

log = logging.getLogger(__name__)

INTERVAL = 0.2  # seconds between two samples of a worker's memory
# Every this many samples the whole process table is read again (finding processes a worker
# started since); in between only the processes of each worker's tree found then are read.
FULL_SCAN_EVERY = 5
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
        self._rounds = 0
        # root pid -> the pids of its tree at the last full scan (read by the sampling thread)
        self._trees: dict[int, list[int]] | None = None

    def _sample(self, pids: list[int], full: bool) -> list[int]:
        """(In a thread.) The tree RSS of each of ``pids``: from a full scan of the process
        table, or from the processes of each tree that the last full scan found."""
        if full or self._trees is None:
            sizes, self._trees = _sizes(pids)
            return sizes
        trees = self._trees
        out = []
        for root in pids:
            members = trees.get(root)
            if members is None:  # a worker added since the last full scan
                sizes, self._trees = _sizes(pids)
                return sizes
            out.append(sum(_rss(pid) for pid in members))
        return out

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
            self._rounds += 1
            full = self._rounds % FULL_SCAN_EVERY == 1 or self._trees is None
            try:
                sizes = await asyncio.to_thread(self._sample, pids, full)
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


def _sizes(pids: list[int]) -> tuple[list[int], dict[int, list[int]]]:
    """The tree RSS of each of ``pids`` from one reading of the process table, and the pids
    of each tree."""
    table = _process_table()
    if table is None:  # no Linux /proc: psutil, one tree at a time
        return [tree_rss(pid) for pid in pids], {}
    parents, rss = table
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    out = []
    trees = {}
    for root in pids:
        total = 0
        members = []
        stack = [root] if root in rss else []
        while stack:
            pid = stack.pop()
            members.append(pid)
            total += rss.get(pid, 0)
            stack.extend(children.get(pid, ()))
        out.append(total)
        trees[root] = members
    return out, trees


def _rss(pid: int) -> int:
    """Resident bytes of one process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _process_table() -> tuple[dict[int, int], dict[int, int]] | None:
    """Every process's parent and resident bytes, from ``/proc/<pid>/stat`` (None without
    ``/proc``). A process that ends while it is read is left out."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # pid (comm) state ppid ... : comm may hold spaces and ")", so split after the last ")"
        fields = stat[stat.rfind(b")") + 2 :].split()
        try:
            pid = int(name)
            parents[pid] = int(fields[1])
            rss[pid] = int(fields[21]) * _PAGE
        except (IndexError, ValueError):
            continue
    return parents, rss


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
