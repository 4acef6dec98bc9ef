"""The workers and the queue of one deployed version: the local engine's scheduling.

One request at a time per worker; up to ``max_workers`` workers, started when requests wait;
a FIFO queue beyond that; idle workers stop after ``idle_seconds`` down to ``min_workers``.
Queued requests are dispatched straight from the callback that receives the previous answer,
so a busy worker never waits for a task switch. A failed load is remembered and retried only
after a back-off (1 s, doubling to 30 s), so a broken ``main.py`` never becomes a crash loop.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Iterable
from time import perf_counter as _now

from hub import _protocol as P

from .base import InvocationResult, VersionSpec
from .procs import Launcher, LaunchError
from .template import FORK_SUPPORTED, TEMPLATE, ForkedWorker, TemplateWorker
from .worker import BUSY, GONE, IDLE, STARTING, Job, LogFunction, Worker

__all__ = ["LoadFailed", "Pool"]

_BACKOFF_FIRST, _BACKOFF_MAX = 1.0, 30.0


class LoadFailed(Exception):
    """The load a :meth:`Pool.warm` caller waited for failed (the pool's ``load_error``)."""


class Pool:
    """The workers and the queue of one deployed version (a :class:`~.worker.WorkerOwner`).

    ``launcher`` starts its worker processes; ``log_line`` receives what they print.
    """

    def __init__(self, spec: VersionSpec, launcher: Launcher, log_line: LogFunction) -> None:
        self.spec = spec
        self.launcher = launcher
        self.loop = launcher.loop
        self.log_line = log_line
        self.workers: list[Worker] = []  # starting, idle and busy
        self.idle: list[Worker] = []  # oldest first; the most recently used is taken first
        self.queue: deque[Job] = deque()
        self.warmers: list[asyncio.Future] = []
        self.tasks: set[asyncio.Task] = set()  # workers connecting their sockets
        self.load_error: str | None = None
        self.retry_at = 0.0
        self.backoff = 0.0
        self.retry_timer: asyncio.TimerHandle | None = None
        self.idle_timer: asyncio.TimerHandle | None = None
        self.last_import_seconds = 0.0
        self.pings = False
        # The loaded template further workers fork from (template.py), and why they are
        # started fresh instead, once the template found it must not be forked.
        self.template: TemplateWorker | None = None
        self.fork_problem: str | None = None
        self.batching = False  # a batch handler (READY's "batch"): see Worker._join
        self.draining: asyncio.Future | None = None
        self.closed = False
        self.leaving = False  # undeploy() has begun (draining, then closing)

    # -- counts -------------------------------------------------------------------------------

    def count(self, state: str) -> int:
        return sum(1 for worker in self.workers if worker.state == state)

    def loaded(self) -> bool:
        return bool(self.idle) or any(worker.state in (IDLE, BUSY) for worker in self.workers)

    # -- requests -----------------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        """Run ``job`` on an idle worker, or queue it (starting a worker when allowed)."""
        # -- batching (batch helper): a worker gathering a batch takes the request into it.
        if self.batching:
            for worker in self.workers:
                if worker.forming and worker.can_take_more():
                    worker.start(job)
                    return
        # -- end batching
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

    def withdraw(self, job: Job) -> None:
        """The caller of ``job`` went away: drop it if still queued (a running one finishes
        and its answer is discarded)."""
        try:
            self.queue.remove(job)
        except ValueError:
            pass
        self.check_drained()

    async def warm(self) -> float:
        """Wait until a worker is loaded; the load's duration (0.0 if one already was).

        Raises :class:`LoadFailed` when the load fails; returns 0.0 at once while a failed
        load backs off.
        """
        if self.loaded():
            return 0.0
        if not any(w.state == STARTING for w in self.workers) and self.in_backoff():
            return 0.0
        future = self.loop.create_future()
        self.warmers.append(future)
        self.scale_up()
        return await future

    def top_up(self, worker: Worker) -> None:
        """Send queued requests ahead to busy ``worker`` while it is fast and has room."""
        queue = self.queue
        while queue and worker.can_take_more():
            job = queue.popleft()
            if not job.future.done():  # skip requests whose caller went away
                worker.start(job)

    def requeue(self, jobs: Iterable[Job]) -> None:
        """Put requests that a dead worker never started back at the head of the queue."""
        self.queue.extendleft(reversed(jobs))

    def release(self, worker: Worker) -> None:
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
        if self.closed or self.launcher.stopping or len(self.workers) >= self.spec.max_workers:
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
            if not self._spawn():
                return
            need -= 1

    def forks(self) -> bool:
        """Whether this version's further workers are forked from a loaded template."""
        spec = self.spec
        return FORK_SUPPORTED and spec.fork and spec.max_workers > 1 and not self.fork_problem

    def _spawn(self) -> bool:
        """Start (or fork) one worker; on failure record a load error and return False."""
        template = False
        if self.forks():
            if self.template is not None:
                try:
                    self._add(ForkedWorker(self, self.template.fork(), self.log_line))
                    return True
                except LaunchError as err:  # the template is ending: start a new one
                    self.log_line(self.spec.version_id, None, "stderr", str(err))
                    self._retire_template()
            if any(isinstance(w, TemplateWorker) and w.state == STARTING for w in self.workers):
                return False  # the template is loading: the workers fork from it when ready
            template = True
        try:
            process = self.launcher.spawn(self.spec, template=template)
        except LaunchError as err:
            self.on_load_failed(None, str(err))
            return False
        self._add((TemplateWorker if template else Worker)(self, process, self.log_line))
        return True

    def _add(self, worker: Worker) -> None:
        self.workers.append(worker)
        worker.attach()
        task = self.loop.create_task(self._connect(worker))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _connect(self, worker: Worker) -> None:
        await worker.connect()
        warmup = self.spec.warmup
        # A started (not forked) worker's first frame is the warm-up call (runtime.warmup).
        if warmup is not None and not isinstance(worker, ForkedWorker) and worker.transport:
            body = json.dumps(warmup.get("input"), separators=(",", ":")).encode()
            worker.transport.write(P.invoke_frame("warmup", body))

    def _retire_template(self) -> None:
        """Stop the template (its children, if any, end with it)."""
        template, self.template = self.template, None
        if template is not None:
            template.retire()

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
        if not self.workers:
            self._retire_template()  # scaled to zero: the template's memory is freed too

    # -- worker events ------------------------------------------------------------------------

    def on_ready(self, worker: Worker, load_seconds: float, info: dict) -> None:
        self.load_error = None
        self.backoff = 0.0
        if not info.get("forked"):
            self.last_import_seconds = worker.import_seconds
        # -- fork: a template that may fork serves no request; one that may not says why
        if info.get("template") and isinstance(worker, TemplateWorker):
            self.remove(worker)
            worker.state = TEMPLATE
            self.launcher.memory.discard(worker.pid)  # its tree holds its children
            self._retire_template()  # a previous one (if any) is no longer needed
            self.template = worker
            self.scale_up()
            return
        if info.get("fork_problem") and not self.fork_problem:
            self.fork_problem = str(info["fork_problem"])
            self.log_line(
                self.spec.version_id,
                None,
                "stderr",
                f"Further workers of {self.spec.api} are started fresh, not forked from this "
                f"loaded one: {self.fork_problem} (runtime.fork in hub_config.json).",
            )
        # -- end fork --
        self.pings = bool(info.get("ping"))  # a 2021-style handler: a GET calls it with 'PING'
        self.batching = bool(info.get("batch"))
        warmers, self.warmers = self.warmers, []
        for future in warmers:
            if not future.done():
                future.set_result(load_seconds)
        self.release(worker)
        if self.queue and self.fork_problem and info.get("fork_problem"):
            self.scale_up()  # the workers held back for the template start fresh now

    def on_load_failed(self, worker: Worker | None, message: str) -> None:
        self.load_error = message
        self.backoff = min(max(self.backoff * 2, _BACKOFF_FIRST), _BACKOFF_MAX)
        self.retry_at = _now() + self.backoff
        if worker is not None:
            self.remove(worker)
        if any(w.state != GONE for w in self.workers):
            return  # another worker may still load and serve the queue
        self._fail_warmers(message)
        self.fail_queue(message)
        self.scale_up()  # only schedules a retry (min_workers) while backing off

    def on_worker_gone(self, worker: Worker) -> None:
        self.remove(worker)
        if isinstance(worker, TemplateWorker):
            if worker is self.template:
                self.template = None
            worker.orphan_children()  # they ended with it (its sandbox's PID namespace)
        if self.queue or len(self.workers) < self.spec.min_workers:
            self.scale_up()
        self.check_drained()

    def remove(self, worker: Worker) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
        if worker in self.idle:
            self.idle.remove(worker)

    def _fail_warmers(self, message: str) -> None:
        warmers, self.warmers = self.warmers, []
        for future in warmers:
            if not future.done():
                future.set_exception(LoadFailed(message))

    # -- draining and closing -----------------------------------------------------------------

    def busy(self) -> bool:
        return bool(self.queue) or any(w.state == BUSY for w in self.workers)

    def check_drained(self) -> None:
        if self.draining is not None and not self.draining.done() and not self.busy():
            self.draining.set_result(None)

    async def close(self, drain: bool) -> None:
        """Stop taking requests (after the running and queued ones when ``drain``), stop the
        workers and wait until they have exited."""
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
        template = self.template
        self._retire_template()  # its exit ends (and reports) the children it forked
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
        self._fail_warmers("The API version was removed while loading.")
        if template is not None:
            workers.append(template)
        await asyncio.gather(*(w.exited for w in workers), return_exceptions=True)
        # Every worker has exited: a socket still connecting never will.
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

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
