"""``GET /hub-api/status``: the versions of the server extension and of the ``hub`` CLI."""

from __future__ import annotations

import asyncio
import shutil
import sys

from tornado import web

from .. import __version__
from .base import HubAPIHandler


async def cli_version(timeout: float = 20.0) -> tuple[str | None, str | None]:
    """Run ``hub --version`` as the jobs will run it; return ``(version, error)``."""
    exe = shutil.which("hub", path=_search_path())
    if exe is None:
        return None, "the 'hub' command was not found on the server's PATH"
    try:
        proc = await asyncio.create_subprocess_exec(
            exe,
            "--version",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        return None, f"'hub --version' did not run: {exc}"
    if proc.returncode != 0:
        return None, err.decode(errors="replace").strip() or f"exit code {proc.returncode}"
    text = out.decode().strip()
    return text.split()[-1] if text else None, None


def _search_path() -> str:
    """PATH with the server's own interpreter folder first, where pip put ``hub``."""
    import os

    bindir = os.path.dirname(sys.executable)
    return os.pathsep.join([bindir, os.environ.get("PATH", "")])


class StatusHandler(HubAPIHandler):
    """Answers the frontend's version handshake."""

    @web.authenticated
    async def get(self) -> None:
        cache = self.settings.setdefault("hub_api_cli_version", {})
        if "version" not in cache or cache.get("error"):
            cache["version"], cache["error"] = await cli_version()
        self.finish(
            {
                "server_extension": __version__,
                "cli": cache["version"],
                "cli_error": cache["error"],
            }
        )
