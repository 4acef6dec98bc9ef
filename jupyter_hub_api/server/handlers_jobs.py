"""``/hub-api/jobs``: start, list, follow, cancel and re-run jobs (the HTTP layer only).

The work lives in ``jobs/runner.py``; these handlers check input, call it, and write JSON.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from jupyter_server.auth.decorator import ws_authenticated
from tornado import web
from tornado.websocket import WebSocketClosedError

from ..errors import HubError, UsageError
from .base import HubAPIHandler, HubWebSocketHandler
from .jobs.models import CLIENT_KINDS, JobKind, JobState
from .paths import relative, resolve


def project_path(root: Path, rel, what: str = "project") -> str:
    """``rel`` checked to be a project folder inside the root; returned normalised."""
    if rel is None or rel == "":
        if not (root / "hub_config.json").is_file():
            raise UsageError(
                f"The server root is not a Hub API project; give the {what}'s folder relative "
                "to it.",
                type="not_a_project",
            )
    path = resolve(root, rel, what=what)
    if not path.is_dir():
        raise UsageError(f"The {what} '{rel}' is not a folder.", type="not_a_project")
    if not (path / "hub_config.json").is_file():
        raise UsageError(
            f"'{rel}' is not a Hub API project (it has no hub_config.json); create one with the launcher or 'hub init'.",
            type="not_a_project",
        )
    return relative(root, path)


class JobsHandler(HubAPIHandler):
    """``GET`` lists jobs (newest first); ``POST`` starts one and answers 202 at once."""

    @web.authenticated
    def get(self) -> None:
        project = self.get_argument("project", None)
        states = self.get_arguments("state")
        try:
            states = [JobState(s) for s in states] or None
        except ValueError:
            raise UsageError(
                f"Unknown state in {states}; use one of {', '.join(s.value for s in JobState)}.",
                type="bad_argument",
            ) from None
        if project is not None:
            project = relative(
                self.hub.root_dir, resolve(self.hub.root_dir, project, what="project")
            )
        limit = self.int_argument("limit", 100, minimum=1, maximum=1000)
        jobs = self.hub.jobs.list(project=project, states=states, limit=limit)
        self.write_json({"jobs": [j.to_dict() for j in jobs]})

    @web.authenticated
    def post(self) -> None:
        body = self.read_json()
        kind = body.get("kind")
        if not isinstance(kind, str) or kind not in {k.value for k in CLIENT_KINDS}:
            raise UsageError(
                f"Unknown job kind {kind!r}; use one of {', '.join(k.value for k in CLIENT_KINDS)}.",
                type="bad_kind",
            )
        project = project_path(self.hub.root_dir, body.get("project"))
        job = self.hub.jobs.submit(JobKind(kind), project)
        self.set_header("Location", self.request.path.rstrip("/") + "/" + job.id)
        self.write_json(job.to_dict(), status=202)


class JobHandler(HubAPIHandler):
    """``GET`` one job; ``DELETE`` cancels it while active (202) or forgets it when ended (204)."""

    @web.authenticated
    def get(self, job_id: str) -> None:
        self.write_json(self.hub.jobs.get(job_id).to_dict())

    @web.authenticated
    async def delete(self, job_id: str) -> None:
        job = self.hub.jobs.get(job_id)
        if job.state.is_active:
            job = await self.hub.jobs.cancel(job_id)
            self.write_json(job.to_dict(), status=202)
            return
        self.hub.jobs.delete(job_id)
        self.set_status(204)
        self.finish()


class JobCancelHandler(HubAPIHandler):
    """``POST``: cancel (TERM to the process group, KILL after the grace period)."""

    @web.authenticated
    async def post(self, job_id: str) -> None:
        job = await self.hub.jobs.cancel(job_id)
        self.write_json(job.to_dict(), status=202)


class JobRerunHandler(HubAPIHandler):
    """``POST``: a new job doing what this one did (202, with ``rerun_of``)."""

    @web.authenticated
    def post(self, job_id: str) -> None:
        job = self.hub.jobs.rerun(job_id)
        self.write_json(job.to_dict(), status=202)


class JobEventsHandler(HubWebSocketHandler):
    """A job's events from ``?offset=N``: a WebSocket that follows it live, or one JSON page.

    Over a WebSocket the server sends ``{"type": "job", "job": {...}}`` first and at every state
    change, and ``{"type": "events", "events": [...]}`` with each stored event (its ``offset``
    and ``time`` included), then live ones as they arrive; it closes after the final state. A
    plain ``GET`` answers ``{"job", "events", "next_offset"}`` with at most ``limit`` events.
    """

    @ws_authenticated
    async def get(self, job_id: str) -> None:
        upgrade = self.request.headers.get("Upgrade", "").lower() == "websocket"
        await self.check_authorized("execute" if upgrade else "read")
        self.job_id = job_id
        self.offset = self.int_argument("offset", 0)
        job = self.hub.jobs.get(job_id)  # 404 before any upgrade
        if not upgrade:
            await self._page(job)
            return
        await super().get(job_id)

    async def _page(self, job) -> None:
        limit = self.int_argument("limit", 1000, minimum=1, maximum=10_000)
        # Every event is flushed to the job's log as it arrives, so the file is the whole truth.
        events = await asyncio.to_thread(
            self.hub.jobs.store.read_events, job.id, self.offset, limit
        )
        job = self.hub.jobs.get(job.id)
        self.set_header("Content-Type", "application/json")
        self.finish(
            json.dumps(
                {"job": job.to_dict(), "events": events, "next_offset": self.offset + len(events)}
            )
        )

    async def open(self, job_id: str) -> None:  # type: ignore[override]
        super().open()
        self._follower = self.hub.jobs.follow(job_id, self.offset)
        self._pump_task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        try:
            async for kind, data in self._follower:
                if kind == "events":
                    message = '{"type":"events","events":[' + ",".join(data) + "]}"
                else:
                    message = json.dumps({"type": "job", "job": data.to_dict()})
                # Awaiting the write is the back-pressure: a slow client slows only itself.
                await self.write_message(message)
            self.close(1000, "job ended")
        except (WebSocketClosedError, HubError):
            pass

    def on_message(self, message) -> None:
        """Clients send nothing; the stream is one-way."""

    def on_close(self) -> None:
        task = getattr(self, "_pump_task", None)
        if task is not None:
            task.cancel()


class JobsWatchHandler(HubWebSocketHandler):
    """A WebSocket of job-list changes: ``{"type": "jobs", "jobs": [...]}`` first (newest 100),
    then ``{"type": "job", "job": {...}}`` at each created or changed job and
    ``{"type": "deleted", "id": ...}``, so the UI never polls."""

    @ws_authenticated
    async def get(self) -> None:
        await self.check_authorized("execute")
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise HubError(
                "jobs/watch is a WebSocket; connect with a WebSocket client (or list the jobs "
                "with GET /hub-api/jobs).",
                type="upgrade_required",
                status=426,
            )
        await super().get()

    def open(self) -> None:  # type: ignore[override]
        super().open()
        jobs = self.hub.jobs.list(limit=100)
        self.write_message(json.dumps({"type": "jobs", "jobs": [j.to_dict() for j in jobs]}))
        self.hub.jobs.add_list_listener(self._on_change)

    def _on_change(self, message: dict) -> None:
        try:
            self.write_message(json.dumps(message))
        except WebSocketClosedError:
            self.hub.jobs.remove_list_listener(self._on_change)

    def on_message(self, message) -> None:
        """Clients send nothing."""

    def on_close(self) -> None:
        self.hub.jobs.remove_list_listener(self._on_change)
