"""Helpers of the engine tests: polling with a deadline and looking at processes (psutil)."""

from __future__ import annotations

import asyncio
import time

import psutil


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02):
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


async def await_until(predicate, timeout: float = 10.0, interval: float = 0.02):
    """Async ``wait_until``: polls without blocking the engine's event loop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def children_of(pid: int) -> list[int]:
    """Direct child processes of ``pid``."""
    try:
        return [p.pid for p in psutil.Process(pid).children()]
    except psutil.NoSuchProcess:
        return []


def descendants(pid: int) -> list[int]:
    """Every process under ``pid`` (with the sandbox: bubblewrap and all in its namespace)."""
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def worker_pids(engine, version_id: str) -> list[int]:
    """Host pids of the Python worker processes of a version, sandboxed or not.

    A handler's ``os.getpid()`` is a pid of its sandbox's namespace, meaningless outside it.
    """
    pids = []
    for worker in engine.pools[version_id].workers:
        for pid in [worker.pid, *descendants(worker.pid)]:
            try:
                if "hub._worker" in psutil.Process(pid).cmdline() and "bwrap" not in (
                    psutil.Process(pid).name()
                ):
                    pids.append(pid)
            except psutil.NoSuchProcess:
                pass
    return pids
