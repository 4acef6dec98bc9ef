"""Run a short ``hub ... --json`` command and collect its events (for quick requests).

Long work is a job (``jobs/runner.py``); this is for what answers within a request, like
``hub init``. The argv is a list (no shell) and the command has a time limit.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from ..errors import HubError, WorkError
from ..events import decode


async def run_hub(
    hub_command: list[str],
    args: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
) -> dict:
    """Run ``hub_command + args``; return its ``result`` event, or raise its ``error`` event.

    An ``error`` event keeps its type and becomes a 400 when the CLI exited with 2 (bad input)
    and a 500 otherwise.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *hub_command,
            *args,
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", **(env or {})},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as err:
        raise WorkError(
            f"Could not start the hub command: {err.strerror or err}.", type="cli_missing"
        ) from err
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise WorkError(
            f"'hub {args[0]}' took longer than {timeout:g} s and was stopped.", type="timeout"
        ) from None
    result, error = None, None
    for line in out.splitlines():
        event = decode(line)
        if event is None:
            continue
        if event["event"] == "result":
            result = event
        elif event["event"] == "error":
            error = event
    if proc.returncode == 0 and result is not None:
        return {k: v for k, v in result.items() if k != "event"}
    if error is not None:
        status = 400 if proc.returncode == 2 else 500
        raise HubError(
            error.get("message", "hub failed."), type=error.get("type", "error"), status=status
        )
    detail = err.decode(errors="replace").strip().splitlines()[-1:] or [
        f"exit code {proc.returncode}"
    ]
    raise WorkError(f"'hub {args[0]}' failed: {detail[0]}", type="cli_failed")
