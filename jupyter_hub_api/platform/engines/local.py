"""The local engine: each deployed version runs in worker processes on this machine.

A worker is ``<spec.python> -m hub._worker`` in its own process group, with ``src/`` as working
directory and ``MODEL_DIR`` set, inside the sandbox of ``sandbox.py`` when bubblewrap works
(read-only version and environment, private /tmp and HOME, a PID namespace that ends with it),
and watched against its memory limit by ``limits.py``. It talks to the engine over one Unix socketpair with the
length-prefixed frames of ``hub._protocol``; its file descriptors 1 and 2 are pipes the engine
reads too (output of C code and subprocesses). Everything here runs on the platform's event loop:
no threads, no locks, no polling. Queued requests are dispatched straight from the callback that
receives the previous answer, so a busy worker never waits for a task switch.

Per version (a :class:`_Pool`): one request at a time per worker; up to ``max_workers``
workers, started when requests wait; a FIFO queue beyond that; idle workers stop after
``idle_seconds`` down to ``min_workers``. A failed load is remembered and retried only after a
back-off (1 s, doubling to 30 s), so a broken ``main.py`` never becomes a crash loop.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from hub import _protocol as P

from .base import Engine, InvocationResult, LogCallback, UnknownVersionError, VersionSpec
from .limits import MB, MemoryWatch, memory_message
from .sandbox import Sandbox, Scratch

__all__ = ["LocalEngine"]

log = logging.getLogger(__name__)

STARTING, IDLE, BUSY, GONE = "starting", "idle", "busy", "gone"

_BACKOFF_FIRST, _BACKOFF_MAX = 1.0, 30.0
_RETIRE_GRACE = 2.0  # seconds a worker gets to exit after its socket is closed
_EXIT_GRACE = 0.5  # seconds between a worker closing its socket and us killing it
_DRAIN_GRACE = 0.2  # seconds to read what an exited worker wrote last
# When every worker is busy and the handler is fast, queued requests are sent ahead to a busy
# worker, to wait in its socket instead of in the queue: the worker starts the next one the
# moment it answers, without a round trip through the event loop, and both sides handle several
# frames per wake-up. That is what lets one worker keep up with a busy gateway. The work sent
# ahead to a worker is bounded by its expected duration (moving average of its invocations):
# at most _AHEAD_BUDGET seconds of it and _MAX_AHEAD requests, so a request never waits long
# behind another while a worker is free; handlers slower than the budget get none. Requests
# sent ahead that never started are re-queued if their worker dies.
_AHEAD_BUDGET = 0.001
_MAX_AHEAD = 7

# The platform's own environment must not leak into a worker: its Python path would expose the
# product's dependencies, and its secrets are not the handler's business.
_DROPPED_ENV = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH"}
_SECRET_ENV = re.compile(r"TOKEN|SECRET|PASSW|API_?KEY|CREDENTIAL|PRIVATE", re.IGNORECASE)


def _now() -> float:
    return time.perf_counter()


def worker_environment(spec: VersionSpec) -> dict[str, str]:
    """The environment of a worker: the platform's minus Python paths and secrets, plus
    ``spec.env`` and ``MODEL_DIR``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _DROPPED_ENV and not _SECRET_ENV.search(key) and not key.startswith("HUB_")
    }
    env.update(spec.env)
    env["MODEL_DIR"] = str(spec.model_dir)
    env["HUB_API"] = spec.api
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "it stopped answering"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit code {returncode}"


def _live_groups(groups: set[int]) -> set[int]:
    """The process groups among ``groups`` that still have a process that is not a zombie.

    Zombies do not count: a killed grandchild is reparented to init, which may reap it late.
    """
    proc = "/proc"
    if not os.path.isdir(proc):  # not Linux: any member, zombie or not
        live = set()
        for pgid in groups:
            try:
                os.killpg(pgid, 0)
                live.add(pgid)
            except (ProcessLookupError, PermissionError):
                pass
        return live
    live = set()
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z" and int(fields[2]) in groups:
            live.add(int(fields[2]))
    return live


class _Job:
    """One invocation, queued or running."""

    __slots__ = ("invocation_id", "body", "future", "enqueued", "started", "cold")

    def __init__(self, invocation_id: str, body: bytes, future: asyncio.Future, cold: bool):
        self.invocation_id = invocation_id
        self.body = body
        self.future = future
        self.enqueued = _now()
        self.started = 0.0
        self.cold = cold

    def finish(self, result: InvocationResult) -> None:
        if self.started:
            result.duration_ms = (_now() - self.started) * 1000.0
            result.wait_ms = (self.started - self.enqueued) * 1000.0
        else:
            result.wait_ms = (_now() - self.enqueued) * 1000.0
        result.cold_start = self.cold
        if not self.future.done():
            self.future.set_result(result)


class _FrameProtocol(asyncio.Protocol):
    """Reads frames from a worker's socket."""

    def __init__(self, worker: _Worker) -> None:
        self.worker = worker
        self.buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Here, not after create_unix_connection() returns: uvloop may deliver the worker's
        # first frame (READY, which sends it a queued request) before the awaiting code resumes.
        self.worker.transport = transport  # type: ignore[assignment]
        self.worker.open_streams += 1

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        if not buffer:
            # Fast path: usually one whole frame arrives in one read.
            size = len(data)
            if size >= P.HEADER_SIZE:
                kind, length = P.HEADER.unpack_from(data)
                end = P.HEADER_SIZE + length
                if end == size:
                    self.worker.on_frame(kind, data[P.HEADER_SIZE :])
                    return
        buffer += data
        while len(buffer) >= P.HEADER_SIZE:
            kind, length = P.HEADER.unpack_from(buffer)
            end = P.HEADER_SIZE + length
            if len(buffer) < end:
                return
            payload = bytes(buffer[P.HEADER_SIZE : end])
            del buffer[:end]
            self.worker.on_frame(kind, payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.on_socket_lost()
        self.worker.stream_closed()


class _PipeReader:
    """Reads a worker's fd 1 or 2 line by line.

    With ``loop.add_reader`` and ``os.read``, not ``connect_read_pipe``: uvloop's pipe transport
    closes the descriptor and then its file object closes the same number again, which closes
    whatever another thread opened under that number meanwhile (seen: a new worker's socket,
    a folder being deleted). Here the file object is closed once, by :meth:`close`.
    """

    def __init__(self, worker: _Worker, stream: str, pipe) -> None:
        self.worker = worker
        self.stream = stream
        self.pipe = pipe
        self.fd = pipe.fileno()
        self.partial = b""
        self.closed = False
        os.set_blocking(self.fd, False)

    def start(self) -> None:
        """Begin reading on the worker's event loop."""
        self.worker.loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            self.data_received(data)
        else:
            self.close()

    def data_received(self, data: bytes) -> None:
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            self.worker.emit(self.stream, line.decode("utf-8", "replace"))

    def drain_now(self) -> None:
        """Read what is already in the pipe, and end a pending partial line.

        Called before an answer is passed on: the event loop may see the socket's answer before
        the pipe's data, and this output belongs to the invocation that is ending. (The pipe is
        non-blocking; an end of file found here is seen again by the reader, which closes.)
        """
        while True:
            try:
                data = os.read(self.fd, 65536)
            except (BlockingIOError, InterruptedError, OSError):
                break
            if not data:
                break
            self.data_received(data)
        self._end_line()

    def _end_line(self) -> None:
        if self.partial:
            self.worker.emit(self.stream, self.partial.decode("utf-8", "replace"))
            self.partial = b""

    def close(self) -> None:
        """Stop reading and close the pipe (once)."""
        if self.closed:
            return
        self.closed = True
        self._end_line()
        try:
            self.worker.loop.remove_reader(self.fd)
        except (ValueError, OSError):
            pass
        # Forget the descriptor before it is closed: its number may soon name another file.
        self.worker.pipe_closed(self.fd)
        self.pipe.close()
        # Later, as a transport's connection_lost would be: close() is called from the exit
        # handling itself, which must not be re-entered.
        self.worker.loop.call_soon(self.worker.stream_closed)


class _Worker:
    """One worker process and the invocation it is running."""

    def __init__(
        self, pool: _Pool, proc: subprocess.Popen, sock: socket.socket, scratch: Scratch
    ) -> None:
        self.pool = pool
        self.scratch = scratch
        self.memory_exceeded = False
        self.engine = pool.engine
        self.loop = pool.engine.loop
        self.proc = proc
        self.pid = proc.pid
        self.sock = sock
        self.state = STARTING
        # Sent and not yet answered, oldest first: the head is running, the others (only for
        # fast handlers, see _AHEAD_BUDGET) wait in the worker's socket.
        self.jobs: deque[_Job] = deque()
        self.outbox: list[bytes] = []  # frames sent ahead, written at the end of the loop turn
        self.average = _AHEAD_BUDGET  # moving average of its invocations, seconds
        self.transport: asyncio.Transport | None = None
        self.pipes: list[_PipeReader] = []
        self.timer: asyncio.TimerHandle | None = None
        self.spawned = _now()
        self.idle_since = 0.0
        self.returncode: int | None = None
        self.exited = self.loop.create_future()
        self.stderr_tail: deque[str] = deque(maxlen=8)
        self.import_seconds = 0.0
        self.load_timed_out = False
        self.retiring = False
        self.open_streams = 0  # socket and pipes connected and not yet at their end
        # What the worker writes to fd 1 and 2 directly (C code, subprocesses) arrives on pipes
        # the event loop may read after the answer that followed it on the socket: before an
        # answer is passed on, one poll() tells whether the pipes hold output of that invocation.
        self.pipe_protocols: dict[int, _PipeReader] = {}
        self.pipe_poll = select.poll()
        self.pidfd: int | None = None
        self.load_timer = self.loop.call_later(pool.spec.load_timeout_seconds, self._load_timed_out)

    # -- set-up and tear-down ---------------------------------------------------------------

    async def attach(self) -> None:
        """Connect the socket and the output pipes to the event loop, watch for the exit."""
        loop = self.loop
        try:
            await loop.create_unix_connection(lambda: _FrameProtocol(self), sock=self.sock)
            for stream, pipe in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
                reader = _PipeReader(self, stream, pipe)
                self.pipes.append(reader)
                self.pipe_protocols[reader.fd] = reader
                self.pipe_poll.register(reader.fd, select.POLLIN)
                self.open_streams += 1
                reader.start()
        except Exception as exc:  # noqa: BLE001 - a worker we cannot talk to is a dead worker
            log.warning("cannot attach worker %s: %s", self.pid, exc)
            self.kill()
        self._watch_exit()
        if self.returncode is None:
            self.engine.memory.add(self.pid, self.pool.spec.memory_mb, self.over_memory)

    def _watch_exit(self) -> None:
        try:
            self.pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self.pidfd = None
        if self.pidfd is not None:
            try:
                self.loop.add_reader(self.pidfd, self._on_exit)
                return
            except (NotImplementedError, OSError):
                os.close(self.pidfd)
                self.pidfd = None

        # No pidfd (old kernel, other OS): one waiting thread per worker.
        def wait() -> None:
            try:
                self.proc.wait()
            finally:
                if not self.loop.is_closed():
                    self.loop.call_soon_threadsafe(self._on_exit)

        threading.Thread(target=wait, name=f"hub-worker-wait-{self.pid}", daemon=True).start()

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (what its handler started, too)."""
        if self.returncode is not None:
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def retire(self) -> None:
        """Ask the worker to exit (it does on EOF); kill it if it has not after a grace."""
        self.retiring = True
        if self.transport is not None:
            self.transport.close()
        if self.returncode is None:
            self.loop.call_later(_RETIRE_GRACE, self.kill)

    def _on_exit(self) -> None:
        if self.pidfd is not None:
            self.loop.remove_reader(self.pidfd)
            os.close(self.pidfd)
            self.pidfd = None
        # The leader is a zombie until reaped, so its group id is still valid: end what the
        # handler left running.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.returncode = self.engine.sandbox.returncode(self.proc.wait())
        self.engine.memory.discard(self.pid)
        # What it wrote just before exiting (an answer, the last stderr lines that explain a
        # crash) may still be unread: finish when its socket and pipes are drained, or soon.
        if self.open_streams > 0:
            self.loop.call_later(_DRAIN_GRACE, self._finish_exit)
        else:
            self._finish_exit()

    def stream_closed(self) -> None:
        """The socket or one of the pipes reached its end."""
        self.open_streams -= 1
        if self.open_streams <= 0 and self.returncode is not None:
            self._finish_exit()

    def _finish_exit(self) -> None:
        if self.exited.done():
            return
        if self.transport is not None:
            self.transport.close()
        for fd in list(self.pipe_protocols):
            self.pipe_closed(fd)
        for pipe in self.pipes:
            pipe.close()
        self.engine.processes.discard(self)
        self.loop.call_later(1.0, self.engine.forget_group, self.pid)
        try:
            self.loop.run_in_executor(None, self.scratch.remove)
        except RuntimeError:  # the loop's executor is shutting down
            self.scratch.remove()
        self.gone(_describe_exit(self.returncode))
        self.exited.set_result(self.returncode)

    def on_socket_lost(self) -> None:
        # The process is exiting (or closed its socket): the exit status, which makes the
        # clearer message, follows at once; kill it if it does not. (A worker we retire gets
        # the longer grace retire() gave it.)
        if self.returncode is None and not self.retiring:
            self.loop.call_later(_EXIT_GRACE, self.kill)

    def gone(self, reason: str) -> None:
        """The worker is no longer usable: fail what it was doing, let the pool replace it."""
        if self.state == GONE:
            return
        was = self.state
        self.state = GONE
        self.load_timer.cancel()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        pool = self.pool
        if was == STARTING:
            if self.memory_exceeded:
                message = memory_message(pool.spec.memory_mb, loading=True)
            elif self.load_timed_out:
                seconds = pool.spec.load_timeout_seconds
                message = (
                    f"Importing src/main.py of {pool.spec.api} took longer than its load timeout "
                    f"of {seconds:g} s; make the import faster or raise the load timeout."
                )
            elif any(
                "No module named 'hub'" in line or "No module named hub" in line
                for line in self.stderr_tail
            ):
                message = (
                    f"The environment of {pool.spec.api} ({pool.spec.python}) cannot import the "
                    "hub runtime; build the API again to recreate its environment."
                )
            else:
                tail = f" Last output: {self.stderr_tail[-1]}" if self.stderr_tail else ""
                message = (
                    f"The worker of {pool.spec.api} stopped ({reason}) while importing "
                    f"src/main.py; see the API's logs.{tail}"
                )
            pool.on_load_failed(self, message)
        self.outbox.clear()
        jobs, self.jobs = self.jobs, deque()
        if jobs:
            if self.memory_exceeded:
                result = InvocationResult(
                    "crashed",
                    error_type="MemoryLimit",
                    error_message=memory_message(pool.spec.memory_mb),
                )
            else:
                result = InvocationResult(
                    "crashed",
                    error_type="WorkerCrashed",
                    error_message=f"The worker running this request stopped ({reason}) before "
                    "answering; the request was not completed, and the worker is replaced.",
                )
            jobs.popleft().finish(result)
            pool.requeue(jobs)  # sent ahead but never started: another worker runs them
        self.kill()
        pool.on_worker_gone(self)

    def over_memory(self, rss: int) -> None:
        """The memory watchdog found the worker past its limit: stop it, fail its request."""
        if self.state == GONE:
            return
        self.memory_exceeded = True
        self.emit(
            "stderr",
            f"The worker used {rss // MB} MB, more than the memory limit of "
            f"{self.pool.spec.memory_mb} MB (runtime.memory_mb); it was stopped.",
        )
        self.gone("past its memory limit")

    # -- invocations ------------------------------------------------------------------------

    def start(self, job: _Job) -> None:
        """Send ``job`` to this worker: it runs now if the worker is idle, else right after
        the invocation(s) already sent."""
        jobs = self.jobs
        jobs.append(job)
        self.state = BUSY
        frame = P.invoke_frame(job.invocation_id, job.body)
        if len(jobs) == 1:
            job.started = _now()
            if self.timer is None:
                self._arm_timer(job)
            self.transport.write(frame)  # the worker is waiting for it: at once
            return
        # Sent ahead: the worker is busy anyway, so the frames of one event-loop turn go out
        # in one write (one system call, one wake-up) at the end of the turn.
        self.outbox.append(frame)
        if len(self.outbox) == 1:
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        if self.outbox and self.state != GONE and self.transport is not None:
            self.transport.write(b"".join(self.outbox))
        self.outbox.clear()

    def can_take_more(self) -> bool:
        """True when another request may be sent ahead to this busy worker."""
        average = self.average
        if average >= _AHEAD_BUDGET:
            return False
        allowed = (
            _MAX_AHEAD if average * _MAX_AHEAD <= _AHEAD_BUDGET else int(_AHEAD_BUDGET / average)
        )
        return len(self.jobs) <= allowed

    def _arm_timer(self, head: _Job) -> None:
        # One timer per worker, re-armed only when it fires: cheaper than a timer per request.
        timeout = self.pool.spec.timeout_seconds
        if timeout and timeout > 0:
            delay = head.started + timeout - _now()
            self.timer = self.loop.call_later(max(delay, 0.0), self._check_timeout)

    def _check_timeout(self) -> None:
        self.timer = None
        if not self.jobs or self.state == GONE:
            return
        head = self.jobs[0]
        seconds = self.pool.spec.timeout_seconds
        if _now() - head.started < seconds - 0.001:
            self._arm_timer(head)
            return
        self.jobs.popleft()
        # What was sent ahead never started: it goes back to the queue, not down with the worker.
        ahead, self.jobs = self.jobs, deque()
        self.pool.requeue(ahead)
        head.finish(
            InvocationResult(
                "timeout",
                error_type="Timeout",
                error_message=f"The handler ran past its timeout of {seconds:g} s; its worker was "
                "stopped and is replaced.",
            )
        )
        self.emit(
            "stderr",
            f"Invocation timed out after {seconds:g} s; worker stopped.",
            head.invocation_id,
        )
        self.gone("timed out")

    def _load_timed_out(self) -> None:
        if self.state == STARTING:
            self.load_timed_out = True
            self.gone("load timeout")

    def on_frame(self, kind: int, payload: bytes) -> None:
        """Handle one frame from the worker."""
        if self.state == GONE and kind in (P.READY, P.LOAD_FAILED, P.RESULT, P.ERROR):
            return  # a worker being stopped: nothing it says changes anything
        if kind == P.RESULT:
            self._answer(InvocationResult("ok", output_json=payload))
        elif kind == P.ERROR:
            error = json.loads(payload)
            self._answer(
                InvocationResult(
                    "error",
                    error_type=error["type"],
                    error_message=error["message"],
                    http_status=error.get("status"),
                )
            )
        elif kind in P.LOG_STREAMS:
            stream = P.LOG_STREAMS[kind]
            invocation_id = self.jobs[0].invocation_id if self.jobs else None
            text = payload.decode("utf-8", "replace")
            for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
                self.emit(stream, line, invocation_id)
        elif kind == P.READY:
            self.load_timer.cancel()
            self.drain_pipes()  # what the import wrote is not the first invocation's
            info = json.loads(payload)
            self.pool.on_ready(self, _now() - self.spawned, info)
        elif kind == P.LOAD_FAILED:
            self.load_timer.cancel()
            self.drain_pipes()
            error = json.loads(payload)
            self.state = GONE
            self.pool.on_load_failed(self, error["message"])
            self.retire()
            self.pool.on_worker_gone(self)

    def _answer(self, result: InvocationResult) -> None:
        jobs = self.jobs
        if not jobs:  # nothing outstanding (cannot happen with a well-behaved worker)
            return
        self.drain_pipes()
        job = jobs.popleft()
        now = _now()
        self.average = 0.8 * self.average + 0.2 * (now - job.started)
        job.finish(result)
        if jobs:
            jobs[0].started = now  # the next one sent ahead starts running now
            self.pool.top_up(self)
        else:
            self.pool.release(self)

    def pipe_closed(self, fd: int) -> None:
        if self.pipe_protocols.pop(fd, None) is not None:
            self.pipe_poll.unregister(fd)

    def drain_pipes(self) -> None:
        """Pass on what the worker already wrote to fd 1 and 2 (one poll() when nothing)."""
        if not self.pipe_protocols:
            return
        for fd, _ in self.pipe_poll.poll(0):
            pipe = self.pipe_protocols.get(fd)
            if pipe is not None:
                pipe.drain_now()

    def emit(self, stream: str, line: str, invocation_id: str | None = ...) -> None:  # type: ignore[assignment]
        """Pass one line of the handler's output to the platform's ``on_log``."""
        if invocation_id is ...:
            invocation_id = self.jobs[0].invocation_id if self.jobs else None
        if stream == "stderr":
            self.stderr_tail.append(line)
        callback = self.engine.on_log
        if callback is None:
            return
        try:
            callback(self.pool.spec.version_id, invocation_id, stream, line)
        except Exception:  # noqa: BLE001 - a logging failure must not break serving
            log.exception("on_log callback failed")


class _LoadFailed(Exception):
    pass


class _Pool:
    """The workers and the queue of one deployed version."""

    def __init__(self, engine: LocalEngine, spec: VersionSpec) -> None:
        self.engine = engine
        self.loop = engine.loop
        self.spec = spec
        self.workers: list[_Worker] = []  # starting, idle and busy
        self.idle: list[_Worker] = []  # oldest first; the most recently used is taken first
        self.queue: deque[_Job] = deque()
        self.warmers: list[asyncio.Future] = []
        self.load_error: str | None = None
        self.retry_at = 0.0
        self.backoff = 0.0
        self.retry_timer: asyncio.TimerHandle | None = None
        self.idle_timer: asyncio.TimerHandle | None = None
        self.last_load_seconds = 0.0
        self.last_import_seconds = 0.0
        self.pings = False
        self.draining: asyncio.Future | None = None
        self.closed = False
        self.leaving = False  # undeploy() has begun (draining, then closing)

    # -- counts -------------------------------------------------------------------------------

    def count(self, state: str) -> int:
        return sum(1 for worker in self.workers if worker.state == state)

    def loaded(self) -> bool:
        return bool(self.idle) or any(worker.state in (IDLE, BUSY) for worker in self.workers)

    # -- requests -----------------------------------------------------------------------------

    def submit(self, job: _Job) -> None:
        """Run ``job`` on an idle worker, or queue it (starting a worker when allowed)."""
        if self.idle and not self.queue:
            self.idle.pop().start(job)
            return
        self.queue.append(job)
        if len(self.workers) < self.spec.max_workers:
            if not self.workers and self.in_backoff():
                self.fail_queue(self.load_error or "The API could not be loaded.")
                return
            self.scale_up()
        else:
            # Every worker exists and is busy: send ahead to a fast one, if any.
            for worker in self.workers:
                if worker.state == BUSY and worker.can_take_more():
                    self.top_up(worker)
                    return

    def top_up(self, worker: _Worker) -> None:
        """Send queued requests ahead to busy ``worker`` while it is fast and has room."""
        queue = self.queue
        while queue and worker.can_take_more():
            job = queue.popleft()
            if not job.future.done():  # skip requests whose caller went away
                worker.start(job)

    def requeue(self, jobs) -> None:
        """Put requests that a dead worker never started back at the head of the queue."""
        self.queue.extendleft(reversed(jobs))

    def release(self, worker: _Worker) -> None:
        """``worker`` has nothing left to do: give it the next queued request(s), or park it."""
        if self.closed and not self.queue:
            self.remove(worker)
            worker.state = GONE
            worker.retire()
            self.check_drained()
            return
        queue = self.queue
        while queue:
            job = queue.popleft()
            if not job.future.done():  # skip requests whose caller went away
                worker.start(job)
                self.top_up(worker)
                return
        worker.state = IDLE
        worker.idle_since = _now()
        self.idle.append(worker)
        if self.idle_timer is None and len(self.workers) > self.spec.min_workers:
            self.idle_timer = self.loop.call_later(self.spec.idle_seconds, self.reap_idle)
        self.check_drained()

    def fail_queue(
        self, message: str, status: str = "error", error_type: str = "LoadError"
    ) -> None:
        queue, self.queue = self.queue, deque()
        for job in queue:
            job.finish(InvocationResult(status, error_type=error_type, error_message=message))
        self.check_drained()

    # -- scaling ------------------------------------------------------------------------------

    def in_backoff(self) -> bool:
        return self.load_error is not None and _now() < self.retry_at

    def scale_up(self) -> None:
        """Start the workers the queue, warm() callers and min_workers call for."""
        if self.closed or self.engine.stopping or len(self.workers) >= self.spec.max_workers:
            return
        starting = self.count(STARTING)
        need = max(
            len(self.queue) - starting,
            self.spec.min_workers - len(self.workers),
            1 if self.warmers and not self.workers else 0,
        )
        if need <= 0:
            return
        if self.in_backoff():
            if self.spec.min_workers and self.retry_timer is None:
                self.retry_timer = self.loop.call_later(
                    self.retry_at - _now(), self._retry_after_backoff
                )
            return
        while need > 0 and len(self.workers) < self.spec.max_workers:
            if not self.engine.spawn(self):
                return
            need -= 1

    def _retry_after_backoff(self) -> None:
        self.retry_timer = None
        self.scale_up()

    def reap_idle(self) -> None:
        """Stop workers idle for ``idle_seconds``, oldest first, down to ``min_workers``."""
        self.idle_timer = None
        now = _now()
        limit = self.spec.idle_seconds
        while self.idle and len(self.workers) > self.spec.min_workers:
            oldest = self.idle[0]
            left = oldest.idle_since + limit - now
            if left > 0.001:
                self.idle_timer = self.loop.call_later(left, self.reap_idle)
                return
            self.idle.pop(0)
            self.remove(oldest)
            oldest.state = GONE
            oldest.retire()

    # -- worker events ------------------------------------------------------------------------

    def on_ready(self, worker: _Worker, load_seconds: float, info: dict) -> None:
        self.load_error = None
        self.backoff = 0.0
        self.last_load_seconds = load_seconds
        worker.import_seconds = info.get("import_seconds", 0.0)
        self.last_import_seconds = worker.import_seconds
        self.pings = bool(info.get("ping"))  # a 2021-style handler: a GET calls it with 'PING'
        warmers, self.warmers = self.warmers, []
        for future in warmers:
            if not future.done():
                future.set_result(load_seconds)
        self.release(worker)

    def on_load_failed(self, worker: _Worker | None, message: str) -> None:
        self.load_error = message
        self.backoff = min(max(self.backoff * 2, _BACKOFF_FIRST), _BACKOFF_MAX)
        self.retry_at = _now() + self.backoff
        if worker is not None:
            self.remove(worker)
        if any(w.state != GONE for w in self.workers):
            return  # another worker may still load and serve the queue
        warmers, self.warmers = self.warmers, []
        for future in warmers:
            if not future.done():
                future.set_exception(_LoadFailed(message))
        self.fail_queue(message)
        self.scale_up()  # only schedules a retry (min_workers) while backing off

    def on_worker_gone(self, worker: _Worker) -> None:
        self.remove(worker)
        if self.queue or len(self.workers) < self.spec.min_workers:
            self.scale_up()
        self.check_drained()

    def remove(self, worker: _Worker) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
        if worker in self.idle:
            self.idle.remove(worker)

    # -- draining and closing -----------------------------------------------------------------

    def busy(self) -> bool:
        return bool(self.queue) or any(w.state == BUSY for w in self.workers)

    def check_drained(self) -> None:
        if self.draining is not None and not self.draining.done() and not self.busy():
            self.draining.set_result(None)

    async def close(self, drain: bool) -> None:
        """Stop taking requests (after the running and queued ones when ``drain``)."""
        if drain and self.busy():
            if self.draining is None:
                self.draining = self.loop.create_future()
            await asyncio.shield(self.draining)
        elif self.draining is not None and not self.draining.done():
            self.draining.set_result(None)  # stop() overrides an undeploy still draining
        if self.closed:
            return
        self.closed = True
        for timer in (self.idle_timer, self.retry_timer):
            if timer is not None:
                timer.cancel()
        workers = list(self.workers)
        for worker in workers:
            if worker.state == BUSY:
                worker.gone("its API version was removed")  # fails its running request
            elif worker.state == STARTING:
                worker.state = GONE
                worker.kill()
            else:
                worker.state = GONE
                worker.retire()
        self.workers.clear()
        self.idle.clear()
        message = f"The API version {self.spec.version_id} was removed before this request ran."
        self.fail_queue(message, status="crashed", error_type="Undeployed")
        warmers, self.warmers = self.warmers, []
        for future in warmers:
            if not future.done():
                future.set_exception(_LoadFailed("The API version was removed while loading."))
        await asyncio.gather(*(w.exited for w in workers), return_exceptions=True)

    def status(self) -> dict:
        loaded = self.loaded()
        starting = self.count(STARTING)
        if loaded:
            state = "ready"
        elif starting:
            state = "loading"
        elif self.load_error:
            state = "failed"
        else:
            state = "cold"
        return {
            "state": state,
            "workers": len(self.workers),
            "busy": self.count(BUSY),
            "queued": len(self.queue),
            "load_error": None if loaded else self.load_error,
            "min_workers": self.spec.min_workers,
            "max_workers": self.spec.max_workers,
            "pings": self.pings,
        }


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
        self.memory = MemoryWatch()
        self.pools: dict[str, _Pool] = {}
        self.processes: set[_Worker] = set()  # every worker process not yet reaped
        self._groups: set[int] = set()  # process groups of the workers started, for stop()
        self.stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.stopping = False
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

    async def stop(self) -> None:
        self.stopping = True
        pools, self.pools = list(self.pools.values()), {}
        await asyncio.gather(*(pool.close(drain=False) for pool in pools), return_exceptions=True)
        # Whatever is still alive (e.g. a worker retired earlier) ends now.
        leftovers = list(self.processes)
        for worker in leftovers:
            worker.kill()
        if leftovers:
            await asyncio.gather(*(w.exited for w in leftovers), return_exceptions=True)
        await self.memory.stop()
        await self._groups_gone()

    async def _groups_gone(self, timeout: float = 2.0) -> None:
        """Wait (briefly) until what the handlers started, killed with their group, is gone."""
        deadline = _now() + timeout
        while self._groups and _now() < deadline:
            self._groups = _live_groups(self._groups)
            if self._groups:
                await asyncio.sleep(0.01)
        self._groups.clear()

    def forget_group(self, pgid: int) -> None:
        """A worker exited: drop its group once nothing of it is left (keeps the set small)."""
        if not _live_groups({pgid}):
            self._groups.discard(pgid)

    async def deploy(self, spec: VersionSpec) -> None:
        if spec.max_workers < 1:
            from jupyter_hub_api.errors import UsageError

            raise UsageError(
                f"max_workers of {spec.api} must be at least 1, not {spec.max_workers}.",
                type="bad_config",
                field="runtime.max_workers",
            )
        pool = self.pools.get(spec.version_id)
        if pool is not None and not pool.leaving:
            pool.spec = spec
        else:
            pool = self.pools[spec.version_id] = _Pool(self, spec)
        pool.scale_up()

    def _pool(self, version_id: str) -> _Pool:
        pool = self.pools.get(version_id)
        if pool is None or pool.closed:
            raise UnknownVersionError(version_id)
        return pool

    async def warm(self, version_id: str) -> dict:
        pool = self._pool(version_id)
        load_seconds = 0.0
        if not pool.loaded():
            future = self.loop.create_future()
            pool.warmers.append(future)
            if not any(w.state == STARTING for w in pool.workers) and pool.in_backoff():
                pool.warmers.remove(future)
            else:
                pool.scale_up()
                try:
                    load_seconds = await future
                except _LoadFailed:
                    pass
        import_seconds = pool.last_import_seconds if load_seconds else 0.0
        return {**pool.status(), "load_seconds": load_seconds, "import_seconds": import_seconds}

    async def invoke(self, version_id: str, body: bytes, invocation_id: str) -> InvocationResult:
        pool = self._pool(version_id)
        future = self.loop.create_future()
        job = _Job(invocation_id, body, future, cold=not pool.loaded())
        pool.submit(job)
        try:
            return await future
        except asyncio.CancelledError:
            # The caller went away: a queued request is dropped; a running one finishes
            # and its answer is discarded.
            try:
                pool.queue.remove(job)
            except ValueError:
                pass
            pool.check_drained()
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

    # -- processes ----------------------------------------------------------------------------

    def spawn(self, pool: _Pool) -> bool:
        """Start one worker for ``pool``; on failure record a load error and return False."""
        spec = pool.spec
        problem = None
        if not spec.src_dir.is_dir():
            problem = f"The source folder of {spec.api} is missing ({spec.src_dir}); build and deploy the API again."
        elif not spec.model_dir.is_dir():
            problem = f"The model folder of {spec.api} is missing ({spec.model_dir}); build and deploy the API again."
        elif not os.path.exists(spec.python):
            problem = (
                f"The Python of {spec.api} is missing ({spec.python}); build the API again to "
                "recreate its environment."
            )
        if problem is None:
            sandbox = self.sandbox
            scratch = Scratch(self._scratch_dir)
            parent = child = None
            try:
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
                problem = _start_problem(spec, exc)
            finally:
                if child is not None:
                    child.close()
        if problem is not None:
            pool.on_load_failed(None, problem)
            return False
        parent.setblocking(False)
        worker = _Worker(pool, proc, parent, scratch)
        pool.workers.append(worker)
        self.processes.add(worker)
        self._groups.add(proc.pid)
        self.loop.create_task(worker.attach())
        return True


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
