"""The CLI's event sink: events for machines, text for people, from one code path.

Every command reports through :class:`Output`, which is an :class:`~jupyter_hub_api.events.EventSink`
(the same protocol the platform and the server extension use). With ``--json`` each event is
one JSON line on stdout (ARCHITECTURE.md (CLI events), see ``events.py``); without it the same events are
shown to a person through ``rich``: named steps with a tick or a cross, progress bars for long
steps, colours on a TTY only.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from ..events import Event, EventWriter, encode


class Output(EventWriter):
    """Writes a command's steps, logs, progress, result and errors, as events or for a person."""

    def __init__(self, json_mode: bool = False, stream=None) -> None:
        super().__init__()
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

    def emit(self, event: Event, **hints: Any) -> None:
        """One event: a JSON line with ``--json``, else what a person reads for it."""
        if self.json_mode:
            line = encode(event)
            with self._lock:
                self._stream.write(line + "\n")
                self._stream.flush()
            return
        kind = event.get("event")
        if kind == "step":
            self._show_step(event, hints.get("title") or event.get("name", ""))
        elif kind == "log":
            text = hints.get("text")
            if text is not None:
                self.console.print(text)
            else:
                target = self.err_console if event.get("stream") == "stderr" else self.console
                target.print(f"  [dim]{escape(str(event.get('line', '')))}[/]")
        elif kind == "progress":
            self._show_progress(event, hints.get("bytes_", False))
        elif kind == "result":
            if hints.get("text") is not None:
                self.console.print(hints["text"])
        elif kind == "error":
            self.err_console.print(f"[bold red]Error:[/] {escape(str(event.get('message', '')))}")

    def _show_step(self, event: Event, title: str) -> None:
        status = event.get("status")
        if status == "started":
            self.console.print(f"[bold cyan]→[/] {title}…")
            return
        self._close_progress()
        mark = "[bold green]✓[/]" if status == "done" else "[bold red]✗[/]"
        self.console.print(f"{mark} {title} [dim]({event.get('seconds') or 0:.2f}s)[/]")

    def _show_progress(self, event: Event, bytes_: bool) -> None:
        if not self.console.is_terminal:
            return
        done, total = event["done"], event["total"]
        if self._progress is None:
            columns = [TextColumn("  {task.description}"), BarColumn()]
            columns += (
                [DownloadColumn()] if bytes_ else [TextColumn("{task.completed}/{task.total}")]
            )
            columns += [TimeRemainingColumn()]
            self._progress = Progress(*columns, console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task(event.get("step", ""), total=total)
        self._progress.update(self._task, completed=done, total=total)

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
