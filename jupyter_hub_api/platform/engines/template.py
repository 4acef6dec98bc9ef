"""Workers forked from a loaded template (copy-on-write, as gunicorn's preload does).

The first process of a version is started as a *template* (``hub._worker --template 1``, in the
same sandbox, as the same user, with the same limits as any worker). It imports ``main.py``
(and makes the warm-up call) and checks that it may be forked (``hub/_template.py``). Then:

- not fork-safe (threads of the handler alive after the import, CUDA initialised): its READY
  says why, it serves as an ordinary worker, and the pool starts every further worker fresh
  (the API's log says why, once);
- fork-safe: it serves no request. For each worker the pool needs, :meth:`Launcher.fork
  <.procs.Launcher.fork>` sends it a FORK frame carrying a new socket and two pipes; the child
  it forks is a process group of its own inside the template's sandbox, its READY comes with
  ``SCM_CREDENTIALS`` (its pid outside the sandbox's PID namespace: what the engine kills,
  watches for memory and names in messages), and from then on it is an ordinary
  :class:`~.worker.Worker`: one request at a time, its own logs, timeouts and memory limit.

A forked worker's exit status comes from the template (its parent), as a CHILD_EXIT frame. When
the template itself ends, its children end with it (the sandbox's PID namespace; without the
sandbox they notice their parent is gone within 0.5 s), and the pool starts a new template when
it needs workers again. The template is retired when the version scales to zero.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import struct
import types

from hub import _protocol as P
from hub._template import CHILD_EXIT, FORK

from .procs import LaunchError, kill_group
from .worker import Worker

__all__ = ["FORK_SUPPORTED", "TEMPLATE", "ForkedProcess", "ForkedWorker", "TemplateWorker"]

log = logging.getLogger(__name__)

TEMPLATE = "template"  # the state of a loaded template (it serves no request)
_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid
# SIGKILL: how the children of a template that ended were stopped (its sandbox's namespace).
_ORPHANED = -9

#: Whether this platform can fork workers from templates (Linux: SCM_CREDENTIALS, send_fds).
FORK_SUPPORTED = hasattr(socket, "SCM_CREDENTIALS") and hasattr(socket, "send_fds")


class TemplateWorker(Worker):
    """The first process of a version: a worker until its READY says it is a template."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.children: dict[int, ForkedProcess] = {}  # by the id sent in their FORK frame
        self._next_child = 0

    def on_frame(self, kind: int, payload: bytes) -> None:
        if kind == CHILD_EXIT:
            info = json.loads(payload)
            child = self.children.pop(int(info.get("id", -1)), None)
            if child is not None:
                child.child_exited(info.get("code"))
            return
        super().on_frame(kind, payload)

    def fork(self) -> ForkedProcess:
        """Ask the template for one more worker (raise :class:`LaunchError` if it cannot)."""
        launcher = self.process.launcher
        if launcher.stopping:
            raise LaunchError("The engine is stopping.")
        self._next_child += 1
        sock, stdout, stderr = fork_request(self.process.sock, self._next_child)
        child = ForkedProcess(launcher, sock, stdout, stderr)
        launcher.live.add(child)
        self.children[self._next_child] = child
        return child

    def orphan_children(self) -> None:
        """The template ended: so did its children (the sandbox's PID namespace)."""
        children, self.children = self.children, {}
        for child in children.values():
            child.child_exited(_ORPHANED)


class ForkedProcess:
    """A worker process forked by a template: what :class:`~.procs.WorkerProcess` offers a
    :class:`~.worker.Worker`, with the pid learned from its READY and the exit status from
    its template."""

    def __init__(self, launcher, sock: socket.socket, stdout, stderr) -> None:
        self.launcher = launcher
        self.loop = launcher.loop
        self.sock = sock
        self.proc = types.SimpleNamespace(stdout=stdout, stderr=stderr)
        self.pid: int | None = None  # outside the sandbox; known once its READY arrived
        self.returncode: int | None = None
        self.finished: asyncio.Future = self.loop.create_future()
        self._on_exit = None
        self._memory: tuple | None = None
        self._exited = False

    def identified(self, pid: int) -> None:
        self.pid = pid
        self.launcher.groups.add(pid)
        if self._memory is not None and not self._exited:
            self.launcher.memory.add(pid, *self._memory)

    def kill(self) -> None:
        """SIGKILL the worker's process group (before its READY: close its socket, it ends)."""
        if self._exited:
            return
        if self.pid is not None:
            kill_group(self.pid)
        else:
            self.sock.close()

    def watch_memory(self, limit_mb: int, over_limit) -> None:
        if self.pid is not None:
            self.launcher.memory.add(self.pid, limit_mb, over_limit)
        else:
            self._memory = (limit_mb, over_limit)

    def watch_exit(self, on_exit) -> None:
        self._on_exit = on_exit

    def child_exited(self, code: int | None) -> None:
        """Its template reaped it (``code`` as ``Popen.returncode`` would be)."""
        if self._exited:
            return
        self._exited = True
        if self.pid is not None:
            kill_group(self.pid)  # what its handler left running in its group
            self.launcher.memory.discard(self.pid)
        self.returncode = code if code is not None else _ORPHANED
        if self._on_exit is not None:
            self._on_exit()

    def release(self) -> None:
        if self.finished.done():
            return
        self.launcher.live.discard(self)
        if self.pid is not None:
            self.loop.call_later(1.0, self.launcher.forget_group, self.pid)
        self.finished.set_result(self.returncode)


class ForkedWorker(Worker):
    """A :class:`~.worker.Worker` whose process a template forked: it connects once its READY,
    sent with its credentials, named its pid."""

    async def connect(self) -> None:
        process: ForkedProcess = self.process
        sock = process.sock
        loop = self.loop
        answer: asyncio.Future = loop.create_future()

        def readable() -> None:
            try:
                data, ancillary, _flags, _addr = sock.recvmsg(
                    65536, socket.CMSG_SPACE(_CREDENTIALS.size)
                )
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, ancillary = b"", []
            loop.remove_reader(sock.fileno())
            if not answer.done():
                answer.set_result((data, ancillary))

        try:
            loop.add_reader(sock.fileno(), readable)
        except (OSError, ValueError):  # closed already (killed before it was ready)
            return
        try:
            data, ancillary = await answer
        except asyncio.CancelledError:
            if sock.fileno() >= 0:
                loop.remove_reader(sock.fileno())
            raise
        pid = None
        for level, kind, cdata in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = _CREDENTIALS.unpack(cdata[: _CREDENTIALS.size])[0]
        if not data or pid is None:
            # It ended (or the template did) before it was ready: its exit says the rest.
            return
        process.identified(pid)
        self.pid = pid
        await super().connect()
        while len(data) >= P.HEADER_SIZE:
            kind, size = P.HEADER.unpack_from(data)
            self.on_frame(kind, bytes(data[P.HEADER_SIZE : P.HEADER_SIZE + size]))
            data = data[P.HEADER_SIZE + size :]


def fork_request(
    template_sock: socket.socket, child_id: int
) -> tuple[socket.socket, object, object]:
    """Send the template a FORK frame with a new socket and pipes; our ends of them.

    Raises :class:`LaunchError` when the template cannot be asked (it ended, or the platform is
    out of descriptors)."""
    parent = child = None
    pipes: list[int] = []
    try:
        parent, child = socket.socketpair()
        parent.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        out_r, out_w = os.pipe()
        pipes += [out_r, out_w]
        err_r, err_w = os.pipe()
        pipes += [err_r, err_w]
        payload = json.dumps({"id": child_id}).encode()
        socket.send_fds(
            template_sock,
            [P.HEADER.pack(FORK, len(payload)) + payload],
            [child.fileno(), out_w, err_w],
        )
    except OSError as exc:
        if parent is not None:
            parent.close()
        for fd in pipes:
            os.close(fd)
        raise LaunchError(
            f"Cannot fork a worker from the loaded template: {exc.strerror or exc}."
        ) from None
    finally:
        if child is not None:
            child.close()
    os.close(out_w)
    os.close(err_w)
    parent.setblocking(False)
    return parent, os.fdopen(out_r, "rb", 0), os.fdopen(err_r, "rb", 0)
