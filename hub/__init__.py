"""The Hub API runtime: what a project's ``src/main.py`` imports.

``from hub import hub_handler`` marks the function that answers the API's POST requests. The
worker imports ``main.py`` once, then calls the marked function with the decoded JSON body and
a context for every invocation. The decorator leaves the function callable as it is, so a handler
can be tried in a notebook before any build: ``inference_handler("some input", None)``.

``@hub_handler(batch=True, max_batch_size=32, max_wait_ms=5)`` marks a *batch* handler: it gets
a list of inputs (and a list of contexts) and returns a list of outputs of the same length, in
order; the engine groups requests that arrive together (see ARCHITECTURE.md, batching). A
handler that is a generator (``yield``) streams its outputs (Server-Sent Events when the client
asks for ``text/event-stream``, else one JSON list).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["hub_handler", "registered_handlers"]

Handler = Callable[[Any, Any], Any]

_handlers: list[Handler] = []

MAX_BATCH_SIZE = 1024
MAX_WAIT_MS = 1000.0


def hub_handler(
    fn: Handler | None = None,
    *,
    batch: bool = False,
    max_batch_size: int = 32,
    max_wait_ms: float = 5.0,
    input_schema: dict | None = None,
):
    """Mark ``fn(inputs, context)`` as the API's inference handler.

    ``inputs`` is the decoded JSON body of the request; ``context`` describes the invocation
    (see ``hub.context``) and is ``None`` when the function is called directly. The return value
    must be JSON-serialisable (tuples become lists).

    With ``batch=True`` the handler is ``fn(inputs_list, contexts)``: ``inputs_list`` holds the
    inputs of up to ``max_batch_size`` requests, ``contexts`` their contexts in the same order,
    and it returns one output per input, in order. An exception object in the returned list
    fails only that request. A request waits at most ``max_wait_ms`` for others to join it, and
    not at all while the API has no concurrent traffic.

    ``input_schema`` (a JSON Schema of the request body, written out as a dict literal: the
    build reads it from main.py without running it) gives the test console its input form, in
    place of the one made from the type hint of ``inputs``; hub_config.json's ``input_schema``
    comes before it. The platform does not validate calls against it.
    """
    if fn is None:  # @hub_handler(...) with options

        def mark(function: Handler) -> Handler:
            return hub_handler(
                function,
                batch=batch,
                max_batch_size=max_batch_size,
                max_wait_ms=max_wait_ms,
                input_schema=input_schema,
            )

        return mark
    if not callable(fn):
        raise TypeError("@hub_handler decorates a function: def inference_handler(inputs, context)")
    if not isinstance(batch, bool):
        raise TypeError(f"@hub_handler(batch=...) takes True or False, not {batch!r}.")
    if batch:
        if (
            isinstance(max_batch_size, bool)
            or not isinstance(max_batch_size, int)
            or not 1 <= max_batch_size <= MAX_BATCH_SIZE
        ):
            raise ValueError(
                f"@hub_handler(max_batch_size={max_batch_size!r}) must be a whole number from 1 "
                f"to {MAX_BATCH_SIZE}."
            )
        if (
            isinstance(max_wait_ms, bool)
            or not isinstance(max_wait_ms, (int, float))
            or not 0 <= max_wait_ms <= MAX_WAIT_MS
        ):
            raise ValueError(
                f"@hub_handler(max_wait_ms={max_wait_ms!r}) must be a number of milliseconds "
                f"from 0 to {MAX_WAIT_MS:g}."
            )
        fn.__hub_batch__ = {  # type: ignore[attr-defined]
            "max_batch_size": max_batch_size,
            "max_wait_ms": float(max_wait_ms),
        }
    elif (max_batch_size, max_wait_ms) != (32, 5.0):
        raise TypeError(
            "@hub_handler(max_batch_size=..., max_wait_ms=...) apply to batch handlers; add "
            "batch=True, or leave them out."
        )
    if input_schema is not None:
        if not isinstance(input_schema, dict):
            raise TypeError(
                f"@hub_handler(input_schema=...) takes a JSON Schema dict, not {input_schema!r}."
            )
        fn.__hub_input_schema__ = input_schema  # type: ignore[attr-defined]
    fn.__hub_handler__ = True  # type: ignore[attr-defined]
    if fn not in _handlers:
        _handlers.append(fn)
    return fn


def registered_handlers() -> list[Handler]:
    """The functions marked with ``@hub_handler`` so far in this process, in import order."""
    return list(_handlers)
