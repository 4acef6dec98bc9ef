"""The events of a piece of work: its steps, log lines, progress, result or error.

One protocol for everyone who reports work: the CLI (``cli/output.py:Output`` shows the events
to a person, or writes them as JSON lines with ``--json``), the platform (a deployment records
them in an :class:`EventList` that the client reads back) and the server extension (a job stores
the lines of ``hub ... --json`` it runs, read with :func:`decode`). The wire form (ARCHITECTURE.md,
CLI events) is one JSON object per line::

    {"event": "step", "name": "...", "status": "started|done|failed"}
    {"event": "log", "stream": "stdout|stderr", "line": "..."}
    {"event": "progress", "step": "...", "done": n, "total": n}
    {"event": "result", ...}
    {"event": "error", "type": "...", "message": "..."}

A step that ended also says its ``seconds``. Code that does the work takes an
:class:`EventSink` and never knows who reads it. This module imports nothing of the CLI, the
client, the platform or the server extension, so each of them can depend on it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from .errors import HubError

Event = dict[str, Any]

STEP_STATUSES = ("started", "done", "failed")


# -- the events ---------------------------------------------------------------------------------
def step_event(name: str, status: str, seconds: float | None = None) -> Event:
    """A step ``started``, ``done`` or ``failed`` (an ended step says how long it took)."""
    event: Event = {"event": "step", "name": name, "status": status}
    if seconds is not None:
        event["seconds"] = seconds
    return event


def log_event(line: str, stream: str = "stdout") -> Event:
    """A line printed by the work (or by something it runs), without its line break."""
    return {"event": "log", "stream": stream, "line": line.rstrip("\n")}


def progress_event(step: str, done: int, total: int) -> Event:
    """``done`` of ``total`` (items or bytes) of ``step``."""
    return {"event": "progress", "step": step, "done": done, "total": total}


def result_event(**fields: Any) -> Event:
    """What the work produced."""
    return {"event": "result", **fields}


def error_event(err: HubError | str, type: str = "error") -> Event:
    """Why the work failed: a HubError's ``type``, ``message`` (and ``field``), or a sentence."""
    if isinstance(err, HubError):
        return {"event": "error", **err.to_dict()}
    return {"event": "error", "type": type, "message": str(err)}


# -- the wire form ------------------------------------------------------------------------------
def encode(event: Event) -> str:
    """One event as one line of JSON, without the line break (values JSON lacks become text)."""
    return json.dumps(event, default=str)


def decode(line: str | bytes) -> Event | None:
    """The event a line holds, or None when it is not one (not a JSON object with a string
    ``event``): such a line is output of something else, e.g. a ``print`` of a build backend."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if isinstance(event, dict) and isinstance(event.get("event"), str):
        return event
    return None


# -- the sink -----------------------------------------------------------------------------------
class EventSink(Protocol):
    """Where a piece of work reports what it does. Every method may be called from any thread.

    ``emit`` passes on one event as it is (e.g. one that came from another process); the others
    make the events of ARCHITECTURE.md (CLI events). Hints (``title``, ``text``, ``bytes_``) only say how a
    person should see an event and never change the event itself.
    """

    def emit(self, event: Event, **hints: Any) -> None:
        """Pass on ``event``; ``title=`` names a step for a person, ``text=`` is the sentence a
        person reads for it, ``bytes_=True`` says a progress counts bytes."""

    def step(self, name: str, title: str | None = None) -> AbstractContextManager[None]:
        """A named step around a block: ``started``, then ``done`` or ``failed`` with seconds."""

    def log(self, line: str, stream: str = "stdout") -> None:
        """A line printed by something the work runs (pip, the build, the handler)."""

    def info(self, message: str) -> None:
        """A sentence of the work's own for a person; a ``log`` event on the wire."""

    def progress(
        self, done: int, total: int, step: str | None = None, bytes_: bool = False
    ) -> None:
        """Progress of ``step`` (default: the current one)."""

    def result(self, text: str | None = None, **fields: Any) -> None:
        """The outcome: a ``result`` event with ``fields``; ``text`` is what a person reads."""

    def error(self, err: HubError | str, type: str = "error") -> None:
        """A failure the work reports (and usually then raises)."""


class EventWriter:
    """The :class:`EventSink` methods written once, over one :meth:`emit` a subclass defines."""

    def __init__(self) -> None:
        self._current_step: str | None = None

    def emit(self, event: Event, **hints: Any) -> None:
        """Pass on one event (see :class:`EventSink`)."""
        raise NotImplementedError

    @contextmanager
    def step(self, name: str, title: str | None = None) -> Iterator[None]:
        """A named step around a block (see :class:`EventSink`)."""
        started = time.monotonic()
        self._current_step = name
        self.emit(step_event(name, "started"), title=title)
        try:
            yield
        except BaseException:
            seconds = round(time.monotonic() - started, 3)
            self.emit(step_event(name, "failed", seconds), title=title)
            raise
        else:
            seconds = round(time.monotonic() - started, 3)
            self.emit(step_event(name, "done", seconds), title=title)
        finally:
            self._current_step = None

    def log(self, line: str, stream: str = "stdout") -> None:
        """A line printed by something the work runs."""
        self.emit(log_event(line, stream))

    def info(self, message: str) -> None:
        """A sentence of the work's own; a ``log`` event on the wire."""
        self.emit(log_event(message), text=message)

    def progress(
        self, done: int, total: int, step: str | None = None, bytes_: bool = False
    ) -> None:
        """Progress of ``step`` (default: the current one)."""
        self.emit(progress_event(step or self._current_step or "", done, total), bytes_=bytes_)

    def result(self, text: str | None = None, **fields: Any) -> None:
        """The outcome."""
        self.emit(result_event(**fields), text=text)

    def error(self, err: HubError | str, type: str = "error") -> None:
        """A failure the work reports."""
        self.emit(error_event(err, type))


class EventList(EventWriter):
    """A sink that keeps the events in a list (e.g. a deployment's, which clients read back).

    ``on_event`` is called after each event is appended, in the thread that emitted it.
    """

    def __init__(
        self, events: list[Event] | None = None, on_event: Callable[[], None] | None = None
    ):
        super().__init__()
        self.events: list[Event] = [] if events is None else events
        self._on_event = on_event
        self._lock = threading.Lock()

    def emit(self, event: Event, **hints: Any) -> None:
        """Append ``event`` as its wire form holds it (hints are for people: a list has none)."""
        event = json.loads(encode(event))  # JSON-ready: a Path in a field becomes its text
        with self._lock:
            self.events.append(event)
        if self._on_event is not None:
            self._on_event()


class EventCallback(EventWriter):
    """A sink that hands each event to ``fn`` (e.g. to pass it from a thread to an event loop)."""

    def __init__(self, fn: Callable[[Event], None]) -> None:
        super().__init__()
        self._fn = fn

    def emit(self, event: Event, **hints: Any) -> None:
        """``fn(event)`` (hints are for people)."""
        self._fn(event)
