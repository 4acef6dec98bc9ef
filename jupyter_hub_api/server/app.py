"""The server extension as a Jupyter ``ExtensionApp``: its configuration and its life cycle.

Configure it like any Jupyter server option, e.g. in ``jupyter_server_config.py``::

    c.HubAPIApp.max_concurrent_jobs = 4
    c.HubAPIApp.job_time_limit = 7200
    c.HubAPIApp.jobs_dir = "/var/lib/hub-api/jobs"
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Float, Int, List, Unicode, default, validate

from .. import paths
from .extension import routes
from .jobs.copy import CopyWork, plan_copy
from .jobs.models import Job, JobKind
from .jobs.runner import JobManager, RunnerSettings
from .jobs.store import JobStore
from .platform_session import PlatformSession


@dataclass
class HubServices:
    """What the handlers use, kept in the tornado settings as ``hub_api``."""

    app: HubAPIApp
    jobs: JobManager
    root_dir: Path
    platform: PlatformSession


class HubAPIApp(ExtensionApp):
    """Jobs that run the ``hub`` CLI, their live logs, and the REST API of ``/hub-api/``."""

    name = "jupyter_hub_api"
    load_other_extensions = True

    jobs_dir = Unicode(
        config=True,
        help="Folder of the job database (jobs.db) and the jobs' event logs. "
        "Default: $HUB_HOME/jobs, so servers with different data directories never share it.",
    )
    max_concurrent_jobs = Int(
        2, config=True, help="Jobs running at the same time; more wait in the queue."
    )
    job_time_limit = Float(
        3600.0, config=True, help="Seconds a job may run before it is stopped and marked failed."
    )
    cancel_grace_period = Float(
        3.0,
        config=True,
        help="Seconds between SIGTERM and SIGKILL to a cancelled job's process group.",
    )
    hub_command = List(
        Unicode(),
        config=True,
        help="The command that runs the hub CLI, as an argument list. Default: this Python "
        "running jupyter_hub_api's CLI, so jobs use the same installation as the server.",
    )
    job_commands = Dict(
        default_value={
            "build": ["build", "--json"],
            "deploy": ["deploy", "--json"],
            "build+deploy": ["build", "--deploy", "--json"],
        },
        config=True,
        help="The hub arguments of each job kind; the job runs in the project's folder.",
    )
    project_search_depth = Int(
        4, config=True, help="How deep under the server root GET /hub-api/projects looks."
    )
    platform_autostart = Bool(
        True,
        config=True,
        help="Start the embedded platform when the deployments panel asks for it and it is "
        "not running (as every hub command does). Only for a loopback platform URL.",
    )
    invoke_timeout = Float(
        120.0, config=True, help="Seconds a test invocation from the panel may take."
    )
    job_history = Int(
        1000,
        config=True,
        help="Ended jobs (and their logs) kept; older ones are forgotten when the server starts.",
    )
    job_env = Dict(
        config=True, help="Extra environment variables for job processes (e.g. HUB_PLATFORM_URL)."
    )
    activity_interval = Float(
        30.0,
        config=True,
        help="Seconds between two marks of activity while jobs run. The server's last activity "
        "(what jupyterhub-singleuser reports to JupyterHub, whose idle culler reads it) then "
        "stays recent during a build, as it does while a kernel computes.",
    )

    @default("jobs_dir")
    def _default_jobs_dir(self) -> str:
        return str(paths.hub_home() / "jobs")

    @default("hub_command")
    def _default_hub_command(self) -> list[str]:
        return [sys.executable, "-m", "jupyter_hub_api.cli.main"]

    @validate("max_concurrent_jobs")
    def _check_concurrency(self, proposal):
        if proposal["value"] < 1:
            raise ValueError("HubAPIApp.max_concurrent_jobs must be at least 1.")
        return proposal["value"]

    def initialize_settings(self) -> None:
        """Open the job store, mark jobs a previous server left running as interrupted."""
        root = Path(os.path.realpath(_root_dir(self.serverapp)))
        store = JobStore(self.jobs_dir)
        jobs = JobManager(
            store,
            RunnerSettings(
                root_dir=root,
                hub_command=list(self.hub_command),
                job_commands={k: list(v) for k, v in self.job_commands.items()},
                max_concurrent_jobs=self.max_concurrent_jobs,
                time_limit=self.job_time_limit,
                cancel_grace=self.cancel_grace_period,
                env={str(k): str(v) for k, v in self.job_env.items()},
            ),
        )

        def copy_work(job: Job) -> CopyWork:
            # Planned again at run time: the files may have changed while the job was queued.
            items = plan_copy(
                root, root / job.project, job.params["files"], job.params.get("overwrite", False)
            )
            return CopyWork(root, job.project, items)

        jobs.register_work(JobKind.MODEL_FILES, copy_work)
        interrupted = jobs.start()
        pruned = store.prune(self.job_history)
        if pruned:
            self.log.info("Hub API: forgot %d old job(s) beyond job_history.", pruned)
        if interrupted:
            self.log.warning(
                "Hub API: %d job(s) of a previous server were marked interrupted.", len(interrupted)
            )
        self.settings["hub_api"] = HubServices(
            app=self,
            jobs=jobs,
            root_dir=root,
            platform=PlatformSession(autostart=self.platform_autostart),
        )

    async def _mark_activity(self) -> None:
        """While jobs run, keep ``hub_api_last_activity`` in the server's settings recent:
        ``ServerWebApplication.last_activity()`` counts every ``*_last_activity`` setting, and
        jupyterhub-singleuser sends that time to the hub every JUPYTERHUB_ACTIVITY_INTERVAL."""
        while True:
            services = self.settings.get("hub_api")
            if services is not None and services.jobs.active_jobs():
                self.serverapp.web_app.settings["hub_api_last_activity"] = datetime.now(
                    timezone.utc
                )
            await asyncio.sleep(self.activity_interval)

    async def _start_jupyter_server_extension(self, serverapp) -> None:  # noqa: D401 - hook
        """Start marking activity (jupyter_server calls this once the server's loop runs)."""
        self._activity_task = asyncio.ensure_future(self._mark_activity())

    def initialize_handlers(self) -> None:
        """Register the ``/hub-api/`` routes."""
        self.handlers.extend(routes())

    def current_activity(self) -> bool:
        """Busy while jobs run, so an idle-culler does not stop the server under a build."""
        services = self.settings.get("hub_api")
        return bool(services and services.jobs.active_jobs())

    async def stop_extension(self) -> None:
        """Stop running jobs (their process groups too) and mark them interrupted; close the
        platform session's connections."""
        task = getattr(self, "_activity_task", None)
        if task is not None:
            task.cancel()
        services = self.settings.get("hub_api")
        if services is not None:
            await services.jobs.shutdown()
            await services.platform.aclose()


def _root_dir(serverapp) -> str:
    contents = getattr(serverapp, "contents_manager", None)
    return getattr(contents, "root_dir", None) or serverapp.root_dir
