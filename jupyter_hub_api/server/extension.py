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
from .handlers_platform import PLATFORM_ROUTES
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
        *PLATFORM_ROUTES,
    ]
    return [(f"/{NAMESPACE}/{path}", handler) for path, handler in pairs] + [
        (f"/{NAMESPACE}/(.*)", NotFoundHandler)
    ]
