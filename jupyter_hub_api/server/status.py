"""``GET /hub-api/status``: the versions of the server extension and of the ``hub`` CLI."""

from __future__ import annotations

import asyncio

from tornado import web

from .. import __version__
from .base import HubAPIHandler


async def cli_version(
    hub_command: list[str], timeout: float = 20.0
) -> tuple[str | None, str | None]:
    """Run ``<hub_command> --version``, the command jobs run; return ``(version, error)``."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *hub_command,
            "--version",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except FileNotFoundError:
        return None, f"the hub command {hub_command[0]!r} was not found"
    except (OSError, asyncio.TimeoutError) as exc:
        return None, f"'{' '.join(hub_command)} --version' did not run: {exc}"
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        return None, lines[-1] if lines else f"exit code {proc.returncode}"
    text = out.decode().strip()
    return (text.split()[-1] if text else None), None


class StatusHandler(HubAPIHandler):
    """Answers the frontend's version handshake."""

    @web.authenticated
    async def get(self) -> None:
        cache = self.settings.setdefault("hub_api_cli_version", {})
        if "version" not in cache or cache.get("error"):
            cache["version"], cache["error"] = await cli_version(list(self.hub.app.hub_command))
        self.finish(
            {
                "server_extension": __version__,
                "cli": cache["version"],
                "cli_error": cache["error"],
            }
        )
