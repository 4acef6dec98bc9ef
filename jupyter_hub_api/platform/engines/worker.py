"""One worker of the local engine: the state machine of a worker process and its invocations.

A worker is ``starting`` (importing ``main.py``) until its READY frame, then ``idle`` or
``busy`` (one invocation runs at a time; for fast handlers more wait in its socket, see
:data:`AHEAD_BUDGET`), and ``gone`` once it may no longer be used. It never calls the pool that
owns it but through :class:`WorkerOwner`; its process is a :class:`~.procs.WorkerProcess`, its
wire a :class:`~.protocol.FrameReader` and :class:`~.protocol.OutputPipes`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections import deque
from collections.abc import Callable, Iterable
from time import perf_counter as _now
from typing import Protocol

from hub import _protocol as P

from .base import InvocationResult, ItemCallback, VersionSpec
from .limits import MB, cpu_message, memory_message
from .procs import WorkerProcess, describe_exit
from .protocol import FrameReader, OutputPipes

__all__ = ["BUSY", "GONE", "IDLE", "STARTING", "Job", "Worker", "WorkerOwner"]

log = logging.getLogger(__name__)

STARTING, IDLE, BUSY, GONE = "starting", "idle", "busy", "gone"

_RETIRE_GRACE = 2.0  # seconds a worker gets to exit after its socket is closed
_EXIT_GRACE = 0.5  # seconds between a worker closing its socket and us killing it
_DRAIN_GRACE = 0.2  # seconds to read what an exited worker wrote last
# When every worker is busy and the handler is fast, queued requests are sent ahead to a busy
# worker, to wait in its socket instead of in the queue: the worker starts the next one the
# moment it answers, without a round trip through the event loop, and both sides handle several
# frames per wake-up. That is what lets one worker keep up with a busy gateway. The work sent
# ahead to a worker is bounded by its expected duration (moving average of its invocations):
# at most AHEAD_BUDGET seconds of it and MAX_AHEAD requests, so a request never waits long
# behind another while a worker is free; handlers slower than the budget get none. Requests
# sent ahead that never started are re-queued if their worker dies.
AHEAD_BUDGET = 0.001
MAX_AHEAD = 7
# A batch handler's worker waits for more requests only when its last batch had several and
# ended less than this long ago (see Worker._join).
_BATCH_MEMORY = 1.0

#: ``log(version_id, invocation_id, stream, line)``, as :data:`~.base.LogCallback`.
LogFunction = Callable[[str, "str | None", str, str], None]


class Job:
    """One invocation, queued or running; ``future`` gets its :class:`InvocationResult`."""

    __slots__ = (
        "invocation_id",
        "body",
        "future",
        "enqueued",
        "started",
        "cold",
        "on_item",
        "items",
        "timeout",  # -- async --
    )

    def __init__(
        self,
        invocation_id: str,
        body: bytes,
        future: asyncio.Future,
        cold: bool,
        on_item: ItemCallback | None = None,
        timeout: float | None = None,  # -- async: None = the version's timeout_seconds --
    ):
        self.invocation_id = invocation_id
        self.body = body
        self.future = future
        self.enqueued = _now()
        self.started = 0.0
        self.cold = cold
        self.on_item = on_item  # a generator handler's outputs go here as they come
        self.items: list[bytes] | None = None  # ... and are kept here
        self.timeout = timeout  # -- async: an asynchronous call's own limit --

    def add_item(self, item_json: bytes) -> None:
        """One output of a generator handler (an ITEM frame)."""
        if self.items is None:
            self.items = []
        self.items.append(item_json)
        if self.on_item is not None and not self.future.done():
            try:
                self.on_item(item_json)
            except Exception:  # noqa: BLE001 - the caller's trouble must not break the worker
                log.exception("on_item callback failed")

    def finish(self, result: InvocationResult) -> None:
        if self.started:
            result.duration_ms = (_now() - self.started) * 1000.0
            result.wait_ms = (self.started - self.enqueued) * 1000.0
        else:
            result.wait_ms = (_now() - self.enqueued) * 1000.0
        result.cold_start = self.cold
        if result.items is None and self.items is not None:
            result.items = self.items  # what a generator yielded before it failed
        if not self.future.done():
            self.future.set_result(result)


class WorkerOwner(Protocol):
    """What a worker tells the pool that owns it (all on the event loop)."""

    spec: VersionSpec  # read at each use: a redeploy of the same id replaces it

    def on_ready(self, worker: Worker, load_seconds: float, info: dict) -> None:
        """The worker loaded ``main.py`` (``info``: its READY frame) and is idle."""

    def on_load_failed(self, worker: Worker | None, message: str) -> None:
        """The worker could not load the API; ``message`` says why."""

    def on_worker_gone(self, worker: Worker) -> None:
        """The worker may no longer be used (after its request, if any, was answered)."""

    def release(self, worker: Worker) -> None:
        """The worker has nothing left to do: give it work or park it."""

    def top_up(self, worker: Worker) -> None:
        """The busy worker answered one request and may take more sent ahead."""

    def requeue(self, jobs: Iterable[Job]) -> None:
        """Jobs sent ahead to this worker that never started: run them elsewhere."""


class Worker:
    """One worker process and the invocation(s) it is running."""

    def __init__(self, owner: WorkerOwner, process: WorkerProcess, log_line: LogFunction) -> None:
        self.owner = owner
        self.process = process
        self.pid = process.pid
        self.loop = process.loop
        self.log_line = log_line
        self.memory_exceeded = False
        self.state = STARTING
        # Sent and not yet answered, oldest first: the head is running, the others (only for
        # fast handlers, see AHEAD_BUDGET) wait in the worker's socket.
        self.jobs: deque[Job] = deque()
        self.outbox: list[bytes] = []  # frames sent ahead, written at the end of the loop turn
        self.average = AHEAD_BUDGET  # moving average of its invocations, seconds
        self.transport: asyncio.Transport | None = None
        self.pipes: OutputPipes | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.timer_own = False  # -- async: armed for a job's own timeout (see _arm_timer)
        self.spawned = _now()
        self.idle_since = 0.0
        self.exited = self.loop.create_future()
        self.stderr_tail: deque[str] = deque(maxlen=8)
        self.import_seconds = 0.0
        self.load_timed_out = False
        self.retiring = False
        self.open_streams = 0  # socket and pipes connected and not yet at their end
        # A batch handler (READY's "batch"): (max_batch_size, max_wait seconds); see _join.
        self.batch: tuple[int, float] | None = None
        self.forming: list[Job] = []  # the batch being gathered, not yet sent
        self.batch_timer: asyncio.Handle | None = None
        self.last_batch = 0  # size of the last batch sent
        self.batch_ended = 0.0  # when its last answer came
        self.load_timer = self.loop.call_later(
            owner.spec.load_timeout_seconds, self._load_timed_out
        )

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    # -- set-up and tear-down ---------------------------------------------------------------

    def attach(self) -> None:
        """Read the output pipes and watch for the exit (at once); :meth:`connect` follows."""
        try:
            self.pipes = OutputPipes(
                self.loop,
                (("stdout", self.process.proc.stdout), ("stderr", self.process.proc.stderr)),
                self.emit,
                self.stream_closed,
            )
            self.open_streams += len(self.pipes.readers)
        except Exception as exc:  # noqa: BLE001 - a worker we cannot read is a dead worker
            log.warning("cannot read the output of worker %s: %s", self.pid, exc)
            self.kill()
        self.process.watch_exit(self._on_exit)
        self.process.watch_memory(self.owner.spec.memory_mb, self.over_memory)

    async def connect(self) -> None:
        """Connect the worker's socket to the event loop (its frames then arrive)."""
        try:
            await self.loop.create_unix_connection(
                lambda: FrameReader(self._socket_open, self.on_frame, self._socket_closed),
                sock=self.process.sock,
            )
        except Exception as exc:  # noqa: BLE001 - a worker we cannot talk to is a dead worker
            log.warning("cannot attach worker %s: %s", self.pid, exc)
            self.kill()

    def _socket_open(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.open_streams += 1

    def _socket_closed(self) -> None:
        # The process is exiting (or closed its socket): the exit status, which makes the
        # clearer message, follows at once; kill it if it does not. (A worker we retire gets
        # the longer grace retire() gave it.)
        if self.returncode is None and not self.retiring:
            self.loop.call_later(_EXIT_GRACE, self.kill)
        self.stream_closed()

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (what its handler started, too)."""
        self.process.kill()

    def retire(self) -> None:
        """Ask the worker to exit (it does on EOF); kill it if it has not after a grace."""
        self.retiring = True
        if self.transport is not None:
            self.transport.close()
        if self.returncode is None:
            self.loop.call_later(_RETIRE_GRACE, self.kill)

    def _on_exit(self) -> None:
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
        if self.pipes is not None:
            self.pipes.close()
        self.process.release()
        self.gone(describe_exit(self.returncode))
        self.exited.set_result(self.returncode)

    def gone(self, reason: str) -> None:
        """The worker is no longer usable: fail what it was doing, let the owner replace it."""
        if self.state == GONE:
            return
        was = self.state
        self.state = GONE
        self.load_timer.cancel()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        owner = self.owner
        spec = owner.spec
        if was == STARTING:
            owner.on_load_failed(self, self._load_failure(reason))
        self.outbox.clear()
        if self.batch_timer is not None:
            self.batch_timer.cancel()
            self.batch_timer = None
        forming, self.forming = self.forming, []
        if forming:
            owner.requeue(forming)  # gathered but never sent: another worker runs them
        jobs, self.jobs = self.jobs, deque()
        if jobs:
            if self.memory_exceeded:
                result = InvocationResult(
                    "crashed",
                    error_type="MemoryLimit",
                    error_message=memory_message(spec.memory_mb),
                )
            elif self.returncode == -signal.SIGXCPU:  # -- tenants: past the plan's CPU time --
                result = InvocationResult(
                    "crashed",
                    error_type="CpuLimit",
                    error_message=cpu_message(spec.limits.cpu_seconds if spec.limits else None),
                )
            else:
                result = InvocationResult(
                    "crashed",
                    error_type="WorkerCrashed",
                    error_message=f"The worker running this request stopped ({reason}) before "
                    "answering; the request was not completed, and the worker is replaced.",
                )
            if self.batch is not None:  # the whole batch was running
                for job in jobs:
                    job.finish(InvocationResult(**{**result.__dict__}))
                jobs.clear()
            else:
                jobs.popleft().finish(result)
            owner.requeue(jobs)  # sent ahead but never started: another worker runs them
        self.kill()
        owner.on_worker_gone(self)

    def _load_failure(self, reason: str) -> str:
        """The load error of a worker that ended (``reason``) while importing ``main.py``."""
        spec = self.owner.spec
        if self.memory_exceeded:
            return memory_message(spec.memory_mb, loading=True)
        if self.load_timed_out:
            return (
                f"Importing src/main.py of {spec.api} took longer than its load timeout "
                f"of {spec.load_timeout_seconds:g} s; make the import faster or raise the load "
                "timeout."
            )
        if any(
            "No module named 'hub'" in line or "No module named hub" in line
            for line in self.stderr_tail
        ):
            return (
                f"The environment of {spec.api} ({spec.python}) cannot import the hub runtime; "
                "build the API again to recreate its environment."
            )
        tail = f" Last output: {self.stderr_tail[-1]}" if self.stderr_tail else ""
        return (
            f"The worker of {spec.api} stopped ({reason}) while importing src/main.py; see the "
            f"API's logs.{tail}"
        )

    def over_memory(self, rss: int) -> None:
        """The memory watchdog found the worker past its limit: stop it, fail its request."""
        if self.state == GONE:
            return
        self.memory_exceeded = True
        self.emit(
            "stderr",
            f"The worker used {rss // MB} MB, more than the memory limit of "
            f"{self.owner.spec.memory_mb} MB (runtime.memory_mb); it was stopped.",
        )
        self.gone("past its memory limit")

    # -- invocations ------------------------------------------------------------------------

    def start(self, job: Job) -> None:
        """Send ``job`` to this worker: it runs now if the worker is idle, else right after
        the invocation(s) already sent (a batch handler's: in the next batch, see _join)."""
        if self.batch is not None:
            self._join(job)
            return
        jobs = self.jobs
        jobs.append(job)
        self.state = BUSY
        frame = P.invoke_frame(job.invocation_id, job.body)
        if len(jobs) == 1:
            job.started = _now()
            if self.timer is None:
                self._arm_timer(job)
            elif job.timeout or self.timer_own:  # -- async: a limit of its own, or was armed
                self.timer.cancel()  # for one: the timer must fire at this job's deadline
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
        """True when another request may be sent ahead to this busy worker (a batch
        handler's: join the batch it is gathering)."""
        if self.batch is not None:
            return not self.jobs and 0 < len(self.forming) < self.batch[0]
        if self.jobs and self.jobs[0].timeout:  # -- async: nothing waits behind a long call --
            return False
        average = self.average
        if average >= AHEAD_BUDGET:
            return False
        allowed = MAX_AHEAD if average * MAX_AHEAD <= AHEAD_BUDGET else int(AHEAD_BUDGET / average)
        return len(self.jobs) <= allowed

    def _arm_timer(self, head: Job) -> None:
        # One timer per worker, re-armed only when it fires: cheaper than a timer per request.
        # (With the version's one timeout, a timer armed for an earlier request always fires
        # before a later request's deadline; a job with a timeout of its own (an asynchronous
        # call) re-arms it when it starts and after it ends: timer_own.)
        timeout = head.timeout or self.owner.spec.timeout_seconds
        self.timer_own = bool(head.timeout)
        if timeout and timeout > 0:
            delay = head.started + timeout - _now()
            self.timer = self.loop.call_later(max(delay, 0.0), self._check_timeout)
        else:
            self.timer = None

    def _check_timeout(self) -> None:
        self.timer = None
        if not self.jobs or self.state == GONE:
            return
        head = self.jobs[0]
        limit = head
        if self.batch is not None and self.timer_own:  # -- async: a batch's most patient one
            limit = max(self.jobs, key=lambda job: job.timeout or 0.0)
        seconds = limit.timeout or self.owner.spec.timeout_seconds
        if _now() - head.started < seconds - 0.001:
            self._arm_timer(limit)
            return
        self.jobs.popleft()
        # What was sent ahead never started: it goes back to the queue, not down with the worker.
        # (A batch ran as a whole: every request of it timed out.)
        ahead, self.jobs = self.jobs, deque()
        timed_out = [head]
        if self.batch is not None:
            timed_out += ahead
        else:
            self.owner.requeue(ahead)
        for job in timed_out:
            job.finish(
                InvocationResult(
                    "timeout",
                    error_type="Timeout",
                    error_message=f"The handler ran past its timeout of {seconds:g} s; its "
                    "worker was stopped and is replaced.",
                )
            )
            self.emit(
                "stderr",
                f"Invocation timed out after {seconds:g} s; worker stopped.",
                job.invocation_id,
            )
        self.gone("timed out")

    def _load_timed_out(self) -> None:
        if self.state == STARTING:
            self.load_timed_out = True
            self.gone("load timeout")

    # -- batching (a batch handler) ----------------------------------------------------------

    def _join(self, job: Job) -> None:
        """Add ``job`` to the batch this worker is gathering; send it when it is complete.

        Adaptive: the batch goes out at once when it reaches ``max_batch_size``, and at the
        end of the event-loop turn in which it has as many requests as the last batch had (the
        concurrency the API just saw; queued requests still join in that turn). While the API has
        had no concurrent traffic (the last batch had one request, or ended more than a second
        ago) a request waits for nothing: the batch goes at the end of this event-loop turn,
        taking what is queued. Otherwise it waits for more at most ``max_wait_ms`` after its
        oldest request arrived.
        """
        forming = self.forming
        forming.append(job)
        self.state = BUSY
        size, wait = self.batch  # type: ignore[misc]
        count = len(forming)
        target = self.last_batch if _now() - self.batch_ended < _BATCH_MEMORY else 1
        if count >= size:
            self._send_batch()
        elif count == 1:
            delay = wait if target > 1 else 0.0
            self.batch_timer = self.loop.call_later(
                max(forming[0].enqueued + delay - _now(), 0.0), self._send_batch
            )
        elif count == target and self.batch_timer is not None:
            # As many as last time: go at the end of this turn (not now: the pool may be
            # moving more queued requests in, up to max_batch_size).
            self.batch_timer.cancel()
            self.batch_timer = self.loop.call_soon(self._send_batch)

    def _send_batch(self) -> None:
        if self.batch_timer is not None:
            self.batch_timer.cancel()
            self.batch_timer = None
        forming, self.forming = self.forming, []
        if self.state == GONE or self.transport is None:
            if forming:
                self.owner.requeue(forming)
            return
        live = [job for job in forming if not job.future.done()]  # callers still waiting
        if not live:
            self.owner.release(self)
            return
        now = _now()
        for job in live:
            job.started = now
        self.jobs.extend(live)
        self.last_batch = len(live)
        if self.timer is None or self.timer_own or any(job.timeout for job in live):
            if self.timer is not None:
                self.timer.cancel()
            # A batch is one call: it may run as long as its most patient request allows.
            self._arm_timer(max(live, key=lambda job: job.timeout or 0.0))
        self.transport.write(P.batch_frame([(job.invocation_id, job.body) for job in live]))

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
            text = payload.decode("utf-8", "replace")
            lines = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
            if self.batch is not None and len(self.jobs) > 1:
                for line in lines:  # printed during a batch: a line of each of its requests
                    self.emit(stream, line)
            else:
                invocation_id = self.jobs[0].invocation_id if self.jobs else None
                for line in lines:
                    self.emit(stream, line, invocation_id)
        elif kind == P.ITEM:
            if self.jobs:
                self.jobs[0].add_item(payload)
        elif kind == P.END:
            items = (self.jobs[0].items or []) if self.jobs else []
            output = b"[" + b",".join(items) + b"]"
            self._answer(InvocationResult("ok", output_json=output, items=items))
        elif kind == P.LOG_ONE_STDERR:
            (id_len,) = P.ID_LEN.unpack_from(payload)
            invocation_id = bytes(payload[2 : 2 + id_len]).decode()
            text = bytes(payload[2 + id_len :]).decode("utf-8", "replace")
            for line in text.rstrip("\n").split("\n"):
                self.emit("stderr", line, invocation_id)
        elif kind == P.READY:
            self.load_timer.cancel()
            self.drain_pipes()  # what the import wrote is not the first invocation's
            info = json.loads(payload)
            self.import_seconds = info.get("import_seconds", 0.0)
            batch = info.get("batch")
            if batch:
                self.batch = (int(batch["max_batch_size"]), float(batch["max_wait_ms"]) / 1000.0)
            self.owner.on_ready(self, _now() - self.spawned, info)
        elif kind == P.LOAD_FAILED:
            self.load_timer.cancel()
            self.drain_pipes()
            error = json.loads(payload)
            self.state = GONE
            self.owner.on_load_failed(self, error["message"])
            self.retire()
            self.owner.on_worker_gone(self)

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
            if self.batch is None:
                jobs[0].started = now  # the next one sent ahead starts running now
                if self.timer_own or jobs[0].timeout:  # -- async: the next one's deadline
                    if self.timer is not None:
                        self.timer.cancel()
                    self._arm_timer(jobs[0])
                self.owner.top_up(self)
        else:
            if self.timer_own and self.timer is not None:  # -- async: not for the next one
                self.timer.cancel()
                self.timer = None
            self.batch_ended = now
            self.owner.release(self)

    def drain_pipes(self) -> None:
        """Pass on what the worker already wrote to fd 1 and 2, before an answer: it belongs
        to the invocation that is ending."""
        if self.pipes is not None:
            self.pipes.drain()

    def emit(self, stream: str, line: str, invocation_id: str | None = ...) -> None:  # type: ignore[assignment]
        """Pass one line of the handler's output on (``invocation_id``: the running one's)."""
        if invocation_id is ...:
            if self.batch is not None and len(self.jobs) > 1:  # a running batch: each request
                for job in self.jobs:
                    self.emit(stream, line, job.invocation_id)
                return
            invocation_id = self.jobs[0].invocation_id if self.jobs else None
        if stream == "stderr":
            self.stderr_tail.append(line)
        self.log_line(self.owner.spec.version_id, invocation_id, stream, line)
