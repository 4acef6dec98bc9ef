"""Process control of the local engine: start a worker, watch it exit, kill its group.

A worker is ``<spec.python> -m hub._worker --fd N`` in its own process group (session), inside
the sandbox of ``sandbox.py`` when bubblewrap works, with one end of a socketpair as fd ``N``
and pipes as fd 1 and 2. :class:`Launcher` starts workers and keeps track of them (and of their
process groups) until every one, and what its handler started, is gone; :class:`WorkerProcess`
is one of them. Finding what is left of a group is the product's one psutil scan (``processes.live_groups``).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ...processes import live_groups
from .base import VersionSpec
from .environ import worker_environment
from .limits import MemoryWatch
from .sandbox import Sandbox, Scratch

__all__ = ["LaunchError", "Launcher", "WorkerProcess", "describe_exit", "kill_group"]

log = logging.getLogger(__name__)

_FORGET_DELAY = 1.0  # seconds after a worker's exit before its group is checked for leftovers


class LaunchError(Exception):
    """A worker could not be started; the message is the version's load error."""


def kill_group(pgid: int) -> None:
    """SIGKILL process group ``pgid`` (nothing if it is gone)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def describe_exit(returncode: int | None) -> str:
    """How a worker ended, for messages: ``"killed by SIGKILL"``, ``"exit code 3"``..."""
    if returncode is None:
        return "it stopped answering"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit code {returncode}"


class WorkerProcess:
    """One started worker process: its socket end, its output pipes, its scratch folders.

    Its owner calls :meth:`watch_exit` once, and :meth:`release` when it is done with it
    (after the exit); :attr:`finished` is then set.
    """

    def __init__(
        self, launcher: Launcher, proc: subprocess.Popen, sock: socket.socket, scratch: Scratch
    ) -> None:
        self.launcher = launcher
        self.loop = launcher.loop
        self.proc = proc
        self.pid = proc.pid
        self.sock = sock
        self.scratch = scratch
        self.returncode: int | None = None  # as if it had not been wrapped in the sandbox
        self.finished: asyncio.Future = self.loop.create_future()
        self._pidfd: int | None = None
        self._on_exit: Callable[[], None] | None = None

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (what its handler started, too)."""
        if self.returncode is None:
            kill_group(self.pid)

    def watch_memory(self, limit_mb: int, over_limit: Callable[[int], None]) -> None:
        """Call ``over_limit(rss)`` (once) if the process tree passes ``limit_mb`` (0: never)."""
        if self.returncode is None:
            self.launcher.memory.add(self.pid, limit_mb, over_limit)

    def watch_exit(self, on_exit: Callable[[], None]) -> None:
        """Call ``on_exit()`` on the event loop once the process has exited and been reaped
        (:attr:`returncode` is then set): with a pidfd, or a waiting thread where there is none."""
        self._on_exit = on_exit
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self._pidfd = None
        if self._pidfd is not None:
            try:
                self.loop.add_reader(self._pidfd, self._exited)
                return
            except (NotImplementedError, OSError):
                os.close(self._pidfd)
                self._pidfd = None

        def wait() -> None:
            try:
                self.proc.wait()
            finally:
                if not self.loop.is_closed():
                    self.loop.call_soon_threadsafe(self._exited)

        threading.Thread(target=wait, name=f"hub-worker-wait-{self.pid}", daemon=True).start()

    def _exited(self) -> None:
        if self._pidfd is not None:
            self.loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        # The leader is a zombie until reaped, so its group id is still valid: end what the
        # handler left running.
        kill_group(self.pid)
        self.returncode = self.launcher.sandbox.returncode(self.proc.wait())
        self.launcher.memory.discard(self.pid)
        if self._on_exit is not None:
            self._on_exit()

    def release(self) -> None:
        """The owner is done with the exited process: delete its scratch folders, forget it."""
        if self.finished.done():
            return
        launcher = self.launcher
        launcher.live.discard(self)
        self.loop.call_later(_FORGET_DELAY, launcher.forget_group, self.pid)
        try:
            self.loop.run_in_executor(None, self.scratch.remove)
        except RuntimeError:  # the loop's executor is shutting down
            self.scratch.remove()
        self.finished.set_result(self.returncode)


class Launcher:
    """Starts worker processes and keeps track of them until they, and their groups, are gone.

    ``scratch_dir`` holds the workers' private /tmp and HOME; ``sandbox`` wraps their command.
    """

    def __init__(
        self, sandbox: Sandbox, scratch_dir: Path, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.sandbox = sandbox
        self.scratch_dir = scratch_dir
        self.loop = loop
        self.memory = MemoryWatch()
        self.live: set[WorkerProcess] = set()  # every worker process not yet released
        self.groups: set[int] = set()  # process groups of the workers started, for stop()
        self.stopping = False  # no worker is started once stop() has begun

    def spawn(self, spec: VersionSpec, template: bool = False) -> WorkerProcess:
        """Start one worker of ``spec``; raise :class:`LaunchError` saying why it cannot.

        ``template``: the worker may become the version's template (``template.py``).
        """
        if not spec.src_dir.is_dir():
            raise LaunchError(
                f"The source folder of {spec.api} is missing ({spec.src_dir}); build and deploy "
                "the API again."
            )
        if not spec.model_dir.is_dir():
            raise LaunchError(
                f"The model folder of {spec.api} is missing ({spec.model_dir}); build and deploy "
                "the API again."
            )
        if not os.path.exists(spec.python):
            raise LaunchError(
                f"The Python of {spec.api} is missing ({spec.python}); build the API again to "
                "recreate its environment."
            )
        sandbox = self.sandbox
        scratch = Scratch(self.scratch_dir)
        parent = child = None
        try:
            sandbox.prepare(scratch, spec)  # -- tenants: its uid, src copy, plan limits --
            parent, child = socket.socketpair()
            argv = [
                str(spec.python),
                "-m",
                "hub._worker",
                "--fd",
                str(child.fileno()),
                "--api",
                spec.api,
                "--timeout",
                repr(float(spec.timeout_seconds or 0)),
            ]
            if spec.warmup is not None:  # the pool sends the warm-up call first
                argv += ["--warmup", "1"]
            if template:
                argv += ["--template", "1"]
            proc = subprocess.Popen(
                sandbox.command(argv, spec.src_dir, spec.model_dir, spec.python, scratch),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(child.fileno(),),
                start_new_session=True,  # its own process group, killed as a whole
                cwd=spec.src_dir,
                env={**worker_environment(spec), **sandbox.environment(scratch)},
            )
        except OSError as exc:
            if parent is not None:
                parent.close()
            scratch.remove()
            raise LaunchError(_start_problem(spec, exc)) from None
        finally:
            if child is not None:
                child.close()
        parent.setblocking(False)
        process = WorkerProcess(self, proc, parent, scratch)
        self.live.add(process)
        self.groups.add(proc.pid)
        return process

    async def stop(self) -> None:
        """Kill what is still alive, wait until it is released and its groups are gone."""
        self.stopping = True
        leftovers = list(self.live)
        for process in leftovers:
            process.kill()
        if leftovers:
            await asyncio.gather(*(p.finished for p in leftovers), return_exceptions=True)
        await self.memory.stop()
        await self._groups_gone()

    async def _groups_gone(self, timeout: float = 2.0) -> None:
        """Wait (briefly) until what the handlers started, killed with their group, is gone."""
        deadline = time.monotonic() + timeout
        while self.groups and time.monotonic() < deadline:
            self.groups = live_groups(self.groups)
            if self.groups:
                await asyncio.sleep(0.01)
        self.groups.clear()

    def forget_group(self, pgid: int) -> None:
        """A worker exited: drop its group once nothing of it is left (keeps the set small)."""
        if pgid in self.groups and not live_groups({pgid}):
            self.groups.discard(pgid)


# What a failure to start a worker means when the machine, not the API, is out of something.
_EXHAUSTED = {
    errno.EMFILE: "open files",
    errno.ENFILE: "open files",
    errno.ENOMEM: "memory",
    errno.EAGAIN: "processes",
}


def _start_problem(spec: VersionSpec, exc: OSError) -> str:
    """The load error of a worker that could not be started (a socketpair or the exec)."""
    what = _EXHAUSTED.get(exc.errno)
    if what:
        return (
            f"Cannot start a worker of {spec.api}: the platform is out of {what} "
            f"({exc.strerror}); nothing is wrong with the API, retry once connections or "
            "processes are freed."
        )
    return (
        f"Cannot start a worker of {spec.api} with {spec.python}: {exc.strerror or exc}; "
        "build the API again to recreate its environment."
    )
