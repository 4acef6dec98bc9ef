"""The routes of the server extension, all under ``<base_url>/hub-api/``.

``server/openapi.yaml`` documents every one of them; keep the two in step.
"""

from __future__ import annotations

from .base import NotFoundHandler
from .handlers_files import FilesHandler
from .handlers_jobs import (
    JobCancelHandler,
    JobEventsHandler,
    JobHandler,
    JobRerunHandler,
    JobsHandler,
    JobsWatchHandler,
)
from .handlers_platform import (
    ApiHandler,
    ApisHandler,
    InvocationsHandler,
    InvokeHandler,
    KeyHandler,
    KeyRevealHandler,
    KeysHandler,
    KeyStateHandler,
    LogsHandler,
    MeHandler,
    RollbackHandler,
    UsageHandler,
    VersionsHandler,
)
from .handlers_projects import (
    ModelFilesHandler,
    ProjectConfigHandler,
    ProjectsHandler,
    TemplatesHandler,
)
from .status import StatusHandler

NAMESPACE = "hub-api"

_JOB = r"(?P<job_id>[^/]+)"
_PROJECT = r"(?P<project>.+)"
_API = r"(?P<name>[^/]+)"
_KEY = r"(?P<key_id>[^/]+)"


def routes() -> list[tuple]:
    """The (pattern, handler) pairs of the extension, relative to the server's base URL.

    Order matters: the first pattern that matches wins (``jobs/watch`` before ``jobs/<id>``);
    the last one answers every other path under the namespace with a JSON 404.
    """
    pairs = [
        ("status", StatusHandler),
        ("jobs", JobsHandler),
        ("jobs/watch", JobsWatchHandler),
        (f"jobs/{_JOB}", JobHandler),
        (f"jobs/{_JOB}/cancel", JobCancelHandler),
        (f"jobs/{_JOB}/rerun", JobRerunHandler),
        (f"jobs/{_JOB}/events", JobEventsHandler),
        ("projects", ProjectsHandler),
        (f"projects/{_PROJECT}/config", ProjectConfigHandler),
        (f"projects/{_PROJECT}/model-files", ModelFilesHandler),
        ("files", FilesHandler),
        ("templates", TemplatesHandler),
        ("platform/me", MeHandler),
        ("platform/apis", ApisHandler),
        (f"platform/apis/{_API}", ApiHandler),
        (f"platform/apis/{_API}/versions", VersionsHandler),
        (f"platform/apis/{_API}/rollback", RollbackHandler),
        (f"platform/apis/{_API}/invocations", InvocationsHandler),
        (f"platform/apis/{_API}/logs", LogsHandler),
        (f"platform/apis/{_API}/invoke", InvokeHandler),
        ("platform/usage", UsageHandler),
        ("platform/keys", KeysHandler),
        (f"platform/keys/{_KEY}", KeyHandler),
        (f"platform/keys/{_KEY}/reveal", KeyRevealHandler),
        (f"platform/keys/{_KEY}/(?P<action>enable|disable)", KeyStateHandler),
    ]
    return [(f"/{NAMESPACE}/{path}", handler) for path, handler in pairs] + [
        (f"/{NAMESPACE}/(.*)", NotFoundHandler)
    ]
