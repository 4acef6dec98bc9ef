"""Small facts about local processes that several parts need."""

from __future__ import annotations

import os

import psutil


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_groups(groups: set[int]) -> set[int]:
    """The process groups among ``groups`` that still have a process that is not a zombie.

    One psutil scan of the process table, the only one in the product. Zombies do not count:
    they are dead, but where PID 1 does not reap orphans (some containers, or a killed
    grandchild reparented to init) they would keep a group "alive" for ``kill(0)`` forever.
    """
    live = set()
    for proc in psutil.process_iter(["status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            pgid = os.getpgid(proc.pid)
        except OSError:  # ended since the listing
            continue
        if pgid in groups:
            live.add(pgid)
    return live


def command_line(pid: int) -> list[str] | None:
    """The arguments ``pid`` was started with, or None when that cannot be read."""
    try:
        return psutil.Process(pid).cmdline()
    except (psutil.Error, OSError):
        return None
