"""The Hub API runtime: what a project's ``src/main.py`` imports.

``from hub import hub_handler`` marks the function that answers the API's POST requests. The
worker imports ``main.py`` once, then calls the marked function with the decoded JSON body and
a context for every invocation. The decorator leaves the function callable as it is, so a handler
can be tried in a notebook before any build: ``inference_handler("some input", None)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["hub_handler", "registered_handlers"]

Handler = Callable[[Any, Any], Any]

_handlers: list[Handler] = []


def hub_handler(fn: Handler) -> Handler:
    """Mark ``fn(inputs, context)`` as the API's inference handler.

    ``inputs`` is the decoded JSON body of the request; ``context`` describes the invocation
    (see ``hub.context``) and is ``None`` when the function is called directly. The return value
    must be JSON-serialisable (tuples become lists).
    """
    if not callable(fn):
        raise TypeError("@hub_handler decorates a function: def inference_handler(inputs, context)")
    fn.__hub_handler__ = True  # type: ignore[attr-defined]
    if fn not in _handlers:
        _handlers.append(fn)
    return fn


def registered_handlers() -> list[Handler]:
    """The functions marked with ``@hub_handler`` so far in this process, in import order."""
    return list(_handlers)
