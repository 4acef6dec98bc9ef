"""Runs jobs: a queue with a concurrency limit, one project at a time, live events, cancel.

A job's *work* is either a ``hub ... --json`` subprocess (:class:`~.process.ProcessWork`) or an
in-process task (:class:`~.copy.CopyWork`). The :class:`JobManager` owns the states: it stores
every event as it arrives (the job's JSONL log), keeps the newest ones in memory for live
readers, and wakes the readers (:meth:`JobManager.follow`) and the job-list listeners.
Nothing here knows about HTTP.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ...errors import HubError
from .models import Job, JobKind, JobState, new_job_id, utc_now
from .process import Emit, ProcessWork
from .store import EventLog, JobStore, is_disk_full, read_event_texts, store_full_error

log = logging.getLogger(__name__)


# How many of the newest events of a running job stay in memory for live readers; a reader
# further behind (it reconnected late) reads the rest from the job's log file.
MEMORY_EVENTS = 20_000
# Events sent to a reader in one message at most.
BATCH = 1000


class Work(Protocol):
    """What a job does. ``run`` returns an exit code (0 success); ``terminate`` stops it soon."""

    async def run(self, emit: Emit) -> int: ...

    async def terminate(self, grace: float) -> None: ...


class Notifier:
    """Wakes every coroutine waiting for 'something changed' (single event loop, no lock)."""

    def __init__(self) -> None:
        self._future: asyncio.Future | None = None

    def wait(self) -> Awaitable[None]:
        """A future resolved at the next :meth:`notify`."""
        if self._future is None or self._future.done():
            self._future = asyncio.get_running_loop().create_future()
        return self._future

    def notify(self) -> None:
        """Wake all waiters."""
        if self._future is not None and not self._future.done():
            self._future.set_result(None)
        self._future = None


@dataclass
class ActiveJob:
    """A job that is queued or running, with its open log and its newest events in memory."""

    job: Job
    log: EventLog
    recent: collections.deque = field(
        default_factory=lambda: collections.deque(maxlen=MEMORY_EVENTS)
    )
    notifier: Notifier = field(default_factory=Notifier)
    work: Work | None = None
    task: asyncio.Task | None = None
    cancel_requested: bool = False
    closed: bool = False  # ended: its log file is closed
    version: int = 0  # bumped at every state change, so readers know to send the record

    @property
    def first_recent(self) -> int:
        """Offset of the oldest event still in memory."""
        return self.log.count - len(self.recent)


@dataclass
class RunnerSettings:
    """What the server's configuration decides (see ``server/app.py`` for the traits)."""

    root_dir: Path
    hub_command: list[str]
    job_commands: dict[str, list[str]]
    max_concurrent_jobs: int = 2
    time_limit: float = 3600.0
    cancel_grace: float = 3.0
    env: dict[str, str] = field(default_factory=dict)


class JobManager:
    """Accepts, queues, runs, cancels and follows jobs."""

    def __init__(self, store: JobStore, settings: RunnerSettings) -> None:
        self.store = store
        self.settings = settings
        self._active: dict[str, ActiveJob] = {}
        self._queue: collections.deque[str] = collections.deque()
        self._running: set[str] = set()
        self._list_listeners: set[Callable[[dict], None]] = set()
        self._work_factories: dict[JobKind, Callable[[Job], Work]] = {}
        # Records SQLite could not take (a full disk): answered from here, saved when it can.
        self._unsaved: dict[str, Job] = {}
        self._closing = False

    # -- set-up -------------------------------------------------------------------------------
    def start(self) -> list[Job]:
        """Mark the jobs a previous server left unfinished as interrupted; return them."""
        return self.store.mark_interrupted()

    def register_work(self, kind: JobKind, factory: Callable[[Job], Work]) -> None:
        """Use ``factory(job)`` to make the work of jobs of ``kind`` (instead of a subprocess)."""
        self._work_factories[kind] = factory

    async def shutdown(self) -> None:
        """Stop every active job (its process group too) and mark it interrupted."""
        self._closing = True
        self._queue.clear()
        actives = list(self._active.values())
        # All at once: the server's shutdown waits for the slowest group, not for their sum.
        grace = min(self.settings.cancel_grace, 2.0)
        await asyncio.gather(*(a.work.terminate(grace) for a in actives if a.work is not None))
        for active in actives:
            if active.task is not None:
                active.task.cancel()
            self._interrupt(active)
        self.store.close()

    def _interrupt(self, active: ActiveJob) -> None:
        self._finish(
            active,
            JobState.INTERRUPTED,
            error={
                "type": "interrupted",
                "message": "The Jupyter server stopped during this job; run it again.",
            },
        )

    # -- queries ------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        """The job ``job_id`` (live if active), or a 404."""
        active = self._active.get(job_id)
        if active is not None:
            return active.job
        job = self._unsaved.get(job_id) or self.store.get(job_id)
        if job is None:
            raise HubError(f"There is no job '{job_id}'.", type="no_such_job", status=404)
        return job

    def list(self, *, project: str | None = None, states=None, limit: int = 100) -> list[Job]:
        """Jobs, newest first; active ones with their live fields."""
        jobs = self.store.list(project=project, states=states, limit=limit)
        live = {**self._unsaved, **{i: a.job for i, a in self._active.items()}}
        return [live.get(j.id, j) for j in jobs]

    def active_jobs(self) -> list[Job]:
        """Jobs queued or running now."""
        return [a.job for a in self._active.values()]

    # -- commands -----------------------------------------------------------------------------
    def submit(
        self,
        kind: JobKind,
        project: str,
        params: dict[str, Any] | None = None,
        *,
        rerun_of: str | None = None,
    ) -> Job:
        """Queue a job; a 409 if another job of the same project is queued or running."""
        for active in self._active.values():
            if active.job.project == project:
                busy = active.job
                raise HubError(
                    f"Job {busy.id} ({busy.kind.value}) is already {busy.state.value} for project "
                    f"'{project or '.'}'; wait for it or cancel it first.",
                    type="project_busy",
                    status=409,
                )
        job = Job(
            id=new_job_id(), kind=kind, project=project, params=params or {}, rerun_of=rerun_of
        )
        try:
            active = ActiveJob(job=job, log=self.store.open_log(job.id))
        except OSError as err:
            if is_disk_full(err):
                raise store_full_error(self.store.directory) from None
            raise
        self._active[job.id] = active
        try:
            self._set_state(active, JobState.QUEUED)
            if job.id in self._unsaved:  # its record could not be inserted
                raise store_full_error(self.store.directory)
        except HubError:
            self._forget_unrecorded(active)
            raise
        self._queue.append(job.id)
        self._schedule()
        return job

    def rerun(self, job_id: str) -> Job:
        """Submit a new job that does what ``job_id`` did."""
        old = self.get(job_id)
        return self.submit(old.kind, old.project, dict(old.params), rerun_of=old.id)

    async def cancel(self, job_id: str) -> Job:
        """Cancel a job: a queued one at once, a running one by stopping its work.

        Returns the record in ``cancelling`` (or ``cancelled``) state; the work is stopped in
        the background (TERM to the process group, KILL after the grace period).
        """
        job = self.get(job_id)
        active = self._active.get(job_id)
        if active is None or job.state.is_final:
            raise HubError(
                f"Job {job_id} has already ended ({job.state.value}); there is nothing to cancel.",
                type="job_finished",
                status=409,
            )
        if active.cancel_requested:
            return job
        active.cancel_requested = True
        if job_id in self._queue:
            self._queue.remove(job_id)
            self._finish(active, JobState.CANCELLED)
            return job
        # Running, or about to start (its task is scheduled): _run sees cancel_requested.
        self._set_state(active, JobState.CANCELLING)
        if active.work is not None:
            asyncio.ensure_future(active.work.terminate(self.settings.cancel_grace))
        return job

    def delete(self, job_id: str) -> None:
        """Forget an ended job and its log."""
        job = self.get(job_id)
        if job.id in self._active:
            raise HubError(
                f"Job {job_id} is still {job.state.value}; cancel it before deleting it.",
                type="job_active",
                status=409,
            )
        self.store.delete(job_id)
        self._announce({"type": "deleted", "id": job_id})

    # -- following ----------------------------------------------------------------------------
    def add_list_listener(self, listener: Callable[[dict], None]) -> None:
        """Call ``listener(message)`` at every job created, changed or deleted."""
        self._list_listeners.add(listener)

    def remove_list_listener(self, listener: Callable[[dict], None]) -> None:
        """Stop calling ``listener``."""
        self._list_listeners.discard(listener)

    async def follow(self, job_id: str, offset: int = 0) -> AsyncIterator[tuple[str, Any]]:
        """Yield ``("events", [json_text, ...])`` from ``offset`` on and ``("job", Job)`` at changes.

        The first item is the job record; stored events follow, then live ones as they arrive.
        Ends after the record in its final state once every event has been yielded.
        """
        active = self._active.get(job_id)
        job = self.get(job_id)
        # Taken before the first yield: the job may change while the consumer sends it.
        sent_version = active.version if active is not None else 0
        yield "job", job
        if active is None:
            # Ended: everything is in the file.
            while True:
                texts = await asyncio.to_thread(
                    read_event_texts, self.store.events_path(job_id), offset, BATCH
                )
                if not texts:
                    return
                offset += len(texts)
                yield "events", texts
        while True:
            waiter = active.notifier.wait()
            if offset < active.first_recent:
                texts = await asyncio.to_thread(
                    read_event_texts,
                    active.log.path,
                    offset,
                    min(BATCH, active.first_recent - offset),
                )
                if not texts:  # cannot happen unless the file was removed under us
                    offset = active.first_recent
                    continue
                offset += len(texts)
                yield "events", texts
                continue
            if offset < active.log.count:
                start = offset - active.first_recent
                texts = [
                    active.recent[i] for i in range(start, min(start + BATCH, len(active.recent)))
                ]
                offset += len(texts)
                yield "events", texts
                continue
            if active.version != sent_version:
                sent_version = active.version
                yield "job", active.job
                if active.job.state.is_final:
                    return
                continue
            await waiter

    # -- internals ----------------------------------------------------------------------------
    def _save(self, job: Job) -> None:
        """Save the record; when the disk is full keep it in memory and retry at the next save."""
        self._unsaved[job.id] = job
        try:
            for pending in list(self._unsaved.values()):
                self.store.save(pending)
                del self._unsaved[pending.id]
        except (OSError, sqlite3.Error) as err:
            if not is_disk_full(err):
                raise
            log.warning(
                "Hub API: the disk of the job store is full; %d job record(s) kept in memory.",
                len(self._unsaved),
            )

    def _forget_unrecorded(self, active: ActiveJob) -> None:
        """Undo a submit whose first record or event could not be written (a 507): it was
        never inserted, so only its log file and its place in memory go."""
        self._active.pop(active.job.id, None)
        self._unsaved.pop(active.job.id, None)
        active.log.close()
        with contextlib.suppress(OSError):
            active.log.path.unlink()
        self._announce({"type": "deleted", "id": active.job.id})

    def _announce(self, message: dict) -> None:
        for listener in list(self._list_listeners):
            try:
                listener(message)
            except Exception:  # one broken listener must not stop a job
                log.exception("Hub API job-list listener failed")
                self._list_listeners.discard(listener)

    def _schedule(self) -> None:
        while (
            not self._closing
            and self._queue
            and len(self._running) < self.settings.max_concurrent_jobs
        ):
            job_id = self._queue.popleft()
            active = self._active[job_id]
            self._running.add(job_id)
            active.task = asyncio.ensure_future(self._run(active))

    async def _run(self, active: ActiveJob) -> None:
        job = active.job
        if active.cancel_requested:  # cancelled between leaving the queue and starting
            self._finish(active, JobState.CANCELLED)
            self._running.discard(job.id)
            self._schedule()
            return
        try:
            active.work = self._make_work(job)
            job.started_at = utc_now()
            self._set_state(active, JobState.RUNNING)
            if isinstance(active.work, ProcessWork):
                active.work.on_start = lambda pid: self._on_pid(active, pid)
            code = await active.work.run(lambda batch: self._emit(active, batch))
            job.exit_code = code
            if self._closing:  # stopped by the server's shutdown, not by anyone's cancel
                self._interrupt(active)
            elif active.log.error is not None:
                self._finish(active, JobState.FAILED, error=_log_error(self.store, active))
            elif active.cancel_requested:
                self._finish(active, JobState.CANCELLED)
            elif getattr(active.work, "timed_out", False):
                self._finish(
                    active,
                    JobState.FAILED,
                    error={
                        "type": "timeout",
                        "message": f"The job ran past its time limit of {self.settings.time_limit:g} s and was stopped.",
                    },
                )
            elif code == 0:
                self._finish(active, JobState.SUCCEEDED)
            else:
                self._finish(active, JobState.FAILED, error=job.error or _exit_error(code))
        except HubError as err:
            self._finish(active, JobState.FAILED, error=err.to_dict())
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the job must end in a state, whatever broke
            log.exception("Hub API job %s broke", job.id)
            self._finish(
                active,
                JobState.FAILED,
                error={"type": "internal_error", "message": f"The job could not run: {err}"},
            )
        finally:
            self._running.discard(job.id)
            self._schedule()

    def _make_work(self, job: Job) -> Work:
        factory = self._work_factories.get(job.kind)
        if factory is not None:
            return factory(job)
        args = self.settings.job_commands.get(job.kind.value)
        if args is None:
            raise HubError(
                f"No command is configured for jobs of kind '{job.kind.value}'.", type="bad_kind"
            )
        cwd = self.settings.root_dir / job.project
        if not (cwd / "hub_config.json").is_file():
            raise HubError(
                f"'{job.project or '.'}' is no longer a Hub API project (no hub_config.json).",
                type="not_a_project",
            )
        env = {
            **os.environ,
            # Line-by-line output from Python children, whatever they write to a pipe.
            "PYTHONUNBUFFERED": "1",
            "NO_COLOR": "1",
            "HUB_JOB_ID": job.id,
            **self.settings.env,
        }
        return ProcessWork(
            argv=[*self.settings.hub_command, *args],
            cwd=cwd,
            env=env,
            time_limit=self.settings.time_limit,
            grace=self.settings.cancel_grace,
        )

    def _on_pid(self, active: ActiveJob, pid: int) -> None:
        active.job.pid = pid
        self._save(active.job)
        self._announce({"type": "job", "job": active.job.to_dict()})

    def _emit(self, active: ActiveJob, batch: list[dict[str, Any]]) -> None:
        """Store a batch of events (one flush), keep them for live readers, wake the readers."""
        if active.closed:
            return  # late output of work stopped at shutdown: its log is closed
        for fields in batch:
            kind = fields.get("event")
            if kind == "result":
                active.job.result = {k: v for k, v in fields.items() if k != "event"}
            elif kind == "error":
                active.job.error = {k: v for k, v in fields.items() if k != "event"}
            _, text = active.log.append(fields, flush=False)
            active.recent.append(text)
        # Flushed before any reader runs (no await in between): a reload never misses a line.
        active.log.flush()
        active.job.event_count = active.log.count
        active.notifier.notify()
        if active.log.error is not None and not active.cancel_requested and active.work:
            # The log cannot be written (a full disk): stop the work; _run says why.
            log.warning(
                "Hub API job %s: its log cannot be written: %s", active.job.id, active.log.error
            )
            active.cancel_requested = True
            asyncio.ensure_future(active.work.terminate(self.settings.cancel_grace))

    def _set_state(self, active: ActiveJob, state: JobState) -> None:
        active.job.state = state
        self._emit(active, [{"event": "state", "state": state.value}])
        if state == JobState.QUEUED and active.log.error is not None:
            raise store_full_error(self.store.directory)  # a new job: nothing recorded yet
        active.version += 1
        self._save(active.job)
        active.notifier.notify()
        self._announce({"type": "job", "job": active.job.to_dict()})

    def _finish(self, active: ActiveJob, state: JobState, error: dict | None = None) -> None:
        if active.job.state.is_final:
            return
        job = active.job
        if error is not None:
            job.error = error
        if state == JobState.SUCCEEDED:
            job.error = None
        job.finished_at = utc_now()
        job.pid = None
        self._set_state(active, state)
        active.closed = True
        active.log.close()
        self._active.pop(job.id, None)


def _log_error(store: JobStore, active: ActiveJob) -> dict[str, Any]:
    err = active.log.error
    if err is not None and is_disk_full(err):
        why = f"the disk holding the job store ({store.directory}) is full"
        return {
            "type": "disk_full",
            "message": f"The job was stopped because {why} and its log could not be written; "
            "free some space there and run it again.",
        }
    return {
        "type": "log_failed",
        "message": f"The job was stopped because its log could not be written "
        f"({getattr(err, 'strerror', None) or err}); run it again.",
    }


def _exit_error(code: int) -> dict[str, Any]:
    return {
        "type": "exit_code",
        "message": f"The hub command ended with exit code {code}; its log says why.",
    }
