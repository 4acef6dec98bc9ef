"""One code path for the output of every command: events for machines, text for people.

With ``--json`` each call writes one JSON object per line to stdout (DESIGN.md 3.4)::

    {"event": "step", "name": "...", "status": "started|done|failed"}
    {"event": "log", "stream": "stdout|stderr", "line": "..."}
    {"event": "progress", "step": "...", "done": n, "total": n}
    {"event": "result", ...}
    {"event": "error", "type": "...", "message": "..."}

Without it the same calls print for a person through ``rich``: named steps with a tick or a
cross, progress bars for long steps, colours on a TTY only.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from ..errors import HubError


class Output:
    """Writes a command's steps, logs, progress, result and errors, as events or for a person."""

    def __init__(self, json_mode: bool = False, stream=None) -> None:
        self.json_mode = json_mode
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()
        self.console = Console(
            file=self._stream, highlight=False, soft_wrap=True, width=_width(self._stream)
        )
        self.err_console = Console(
            file=sys.stderr, highlight=False, soft_wrap=True, width=_width(sys.stderr)
        )
        self._progress: Progress | None = None
        self._task = None
        self._current_step: str | None = None

    # -- events -------------------------------------------------------------------------------
    def emit(self, event: str, **fields: Any) -> None:
        """Write one event line (``--json`` mode only)."""
        line = json.dumps({"event": event, **fields}, default=str)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    @contextmanager
    def step(self, name: str, title: str | None = None) -> Iterator[None]:
        """A named step: ``started`` on entry, then ``done`` or ``failed`` with its duration."""
        started = time.monotonic()
        self._current_step = name
        if self.json_mode:
            self.emit("step", name=name, status="started")
        else:
            self.console.print(f"[bold cyan]→[/] {title or name}…")
        try:
            yield
        except BaseException:
            self._close_progress()
            seconds = round(time.monotonic() - started, 3)
            if self.json_mode:
                self.emit("step", name=name, status="failed", seconds=seconds)
            else:
                self.console.print(f"[bold red]✗[/] {title or name} [dim]({seconds:.2f}s)[/]")
            raise
        else:
            self._close_progress()
            seconds = round(time.monotonic() - started, 3)
            if self.json_mode:
                self.emit("step", name=name, status="done", seconds=seconds)
            else:
                self.console.print(f"[bold green]✓[/] {title or name} [dim]({seconds:.2f}s)[/]")
        finally:
            self._current_step = None

    def log(self, line: str, stream: str = "stdout") -> None:
        """A line of output of something the command runs (pip, the build, the handler)."""
        line = line.rstrip("\n")
        if self.json_mode:
            self.emit("log", stream=stream, line=line)
        else:
            target = self.err_console if stream == "stderr" else self.console
            target.print(f"  [dim]{_escape(line)}[/]")

    def progress(
        self, done: int, total: int, step: str | None = None, bytes_: bool = False
    ) -> None:
        """Progress of the current step (``done`` of ``total`` items, or bytes)."""
        step = step or self._current_step or ""
        if self.json_mode:
            self.emit("progress", step=step, done=done, total=total)
            return
        if not self.console.is_terminal:
            return
        if self._progress is None:
            columns = [TextColumn("  {task.description}"), BarColumn()]
            columns += (
                [DownloadColumn()] if bytes_ else [TextColumn("{task.completed}/{task.total}")]
            )
            columns += [TimeRemainingColumn()]
            self._progress = Progress(*columns, console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task(step, total=total)
        self._progress.update(self._task, completed=done, total=total)

    def info(self, message: str) -> None:
        """A sentence for a person; in ``--json`` mode it becomes a ``log`` event."""
        if self.json_mode:
            self.emit("log", stream="stdout", line=message)
        else:
            self.console.print(message)

    def result(self, text: str | None = None, **fields: Any) -> None:
        """The command's outcome: a ``result`` event, or ``text`` for a person."""
        if self.json_mode:
            self.emit("result", **fields)
        elif text is not None:
            self.console.print(text)

    def error(self, err: HubError | str, type: str = "error") -> None:
        """Report a failure: an ``error`` event, or one red sentence on stderr."""
        if isinstance(err, HubError):
            payload = err.to_dict()
        else:
            payload = {"type": type, "message": str(err)}
        if self.json_mode:
            self.emit("error", **payload)
        else:
            self.err_console.print(f"[bold red]Error:[/] {_escape(payload['message'])}")

    def _close_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None


def _width(stream) -> int | None:
    """A terminal's own width; piped output gets a wide page so tables and URLs stay whole."""
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return None
    return int(os.environ.get("COLUMNS") or 0) or 200


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
