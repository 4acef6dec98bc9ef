"""``hub invoke``: call an API from the terminal with your API key."""

from __future__ import annotations

import json
import os
import sys

import click

from ..client.api import api_endpoint, api_error, call_api, connect
from ..errors import UsageError, WorkError
from .common import json_option, make_output


@click.command(
    epilog="""\b
Examples:
  hub invoke sentiment-analyser '"What a great day"'
  echo '{"inputs": [1, 2, 3]}' | hub invoke iris
  hub invoke iris --get           # load the API (GET), like the guide's first request
  hub invoke iris '[[5.1, 3.5, 1.4, 0.2]]' --json
  hub invoke chat '{"prompt": "hi"}' --stream   # a generator's outputs as they come
  hub invoke train '{"epochs": 50}' --async      # 202 at once: prints the invocation id
  hub invoke train '{"epochs": 50}' --async --wait
  hub invoke train --result 3f2a...0001 --wait   # an asynchronous call's result"""
)
@click.argument("api")
@click.argument("payload", required=False, metavar="[JSON]")
@click.option("--get", "wake", is_flag=True, help="Send a GET (loads the API) instead of a POST.")
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="Seconds to wait for the answer (default: no limit).",
)
@click.option(
    "--stream",
    is_flag=True,
    help="Ask for Server-Sent Events and print each output as it arrives (a generator handler).",
)
# -- async --
@click.option(
    "--async",
    "run_async",
    is_flag=True,
    help="Call asynchronously (Prefer: respond-async): answered at once with the invocation id; "
    "the call may run up to the API's async_timeout_seconds.",
)
@click.option("--wait", is_flag=True, help="With --async or --result: wait for the result.")
@click.option(
    "--result",
    "result_id",
    metavar="ID",
    default=None,
    help="Show the state or result of the asynchronous invocation ID of API.",
)
@click.option(
    "--callback",
    metavar="URL",
    default=None,
    help="With --async: the platform POSTs the result to URL (Hub-Callback-Url) when done.",
)
# -- end async --
@json_option
def invoke(
    api: str,
    payload: str | None,
    wake: bool,
    timeout: float | None,
    stream: bool,
    run_async: bool,
    wait: bool,
    result_id: str | None,
    callback: str | None,
    json_mode: bool,
) -> None:
    """Call API with the JSON value JSON (or read from stdin) and print its output.

    Uses $HUB_API_KEY when set, else your first enabled key. Exits with 1 when the API
    answers with an error (2 when there is no such API).
    """
    out = make_output(json_mode)
    body = None
    if (wait and not (run_async or result_id)) or (callback and not run_async):
        raise UsageError(
            "--wait goes with --async or --result, and --callback with --async.",
            type="bad_usage",
        )
    if result_id is not None:  # async: fetch a result, no input
        _show_result(out, api, result_id, wait, timeout, json_mode)
        return
    if not wake:
        if payload is None:
            if sys.stdin.isatty():
                raise UsageError(
                    "Give the input as a JSON argument or on stdin.",
                    type="no_input",
                    hint="""E.g. hub invoke my-api '"some text"'.""",
                )
            payload = sys.stdin.read()
        try:
            json.loads(payload)
        except ValueError as err:
            raise UsageError(
                f"The input is not valid JSON ({err}).",
                type="bad_json",
                hint="""Quote text as JSON, e.g. '"some text"'.""",
            ) from None
        body = payload.encode()
    with connect() as client:
        key = os.environ.get("HUB_API_KEY") or client.default_key()
        me = client.me()
    endpoint = api_endpoint(me, api)
    if stream and body is not None:
        _stream(out, endpoint, key, body, timeout, json_mode)
        return
    if run_async and body is not None:  # -- async --
        _submit(out, api, endpoint, key, body, callback, wait, timeout, json_mode)
        return
    status, envelope = call_api(endpoint, key, body, timeout)
    inner = envelope.get("body") if isinstance(envelope, dict) else None
    if status != 200 or not isinstance(inner, dict) or "error" in inner:
        raise api_error(status, envelope)
    if json_mode:
        out.result(None, status=status, **inner)
    elif wake:
        out.result(f"{api} is {inner.get('status')} (version {inner.get('version')}).")
    else:
        out.result(json.dumps(inner.get("output"), indent=2, ensure_ascii=False))


def _stream(out, endpoint: str, key: str, body: bytes, timeout, json_mode: bool) -> None:
    """POST with ``Accept: text/event-stream``; print each output as its event arrives."""
    from ..client.api import stream_events

    outputs = []
    invocation_id = None
    for event, data in stream_events(endpoint, key, body, timeout):
        if event == "start":
            invocation_id = data.get("invocation_id")
        elif event == "message":
            outputs.append(data)
            if not json_mode:
                click.echo(json.dumps(data, ensure_ascii=False))
        elif event == "error":
            err = data.get("error") or {}
            raise WorkError(
                err.get("message") or "The API failed while streaming.",
                type=err.get("type") or "api_error",
                status=data.get("status"),
            )
    if json_mode:
        out.result(None, status=200, outputs=outputs, invocation_id=invocation_id)


# -- async: Prefer: respond-async (platform/async_invocations.py) --
from ..events import step_event  # noqa: E402


def _submit(out, api, endpoint, key, body, callback, wait, timeout, json_mode) -> None:
    from ..client.api import submit_async

    status, envelope = submit_async(endpoint, key, body, callback)
    inner = envelope.get("body") if isinstance(envelope, dict) else None
    if status != 202 or not isinstance(inner, dict) or "invocation_id" not in inner:
        raise api_error(status, envelope)
    if not wait:
        if json_mode:
            out.result(None, **inner)
        else:
            out.result(
                f"Queued invocation {inner['invocation_id']} of {api}.\n"
                f"Its result: hub invoke {api} --result {inner['invocation_id']} [--wait]\n"
                f"or GET {inner['url']} with your x-api-key."
            )
        return
    out.emit(step_event("invocation", "started"), title=f"invocation {inner['invocation_id']}")
    _finish(out, inner["url"], key, True, timeout, json_mode)


def _show_result(out, api, result_id, wait, timeout, json_mode) -> None:
    from ..client.api import segment

    with connect() as client:
        key = os.environ.get("HUB_API_KEY") or client.default_key()
        me = client.me()
    url = f"{api_endpoint(me, api)}/invocations/{segment(result_id)}"
    _finish(out, url, key, wait, timeout, json_mode)


def _finish(out, url, key, wait, timeout, json_mode) -> None:
    from ..client.api import get_invocation, wait_invocation

    if wait:
        status, envelope = wait_invocation(url, key, timeout)
    else:
        status, envelope = get_invocation(url, key)
    inner = envelope.get("body") if isinstance(envelope, dict) else None
    state = inner.get("status") if isinstance(inner, dict) else None
    if not isinstance(inner, dict) or "error" in inner or status != 200:
        if isinstance(inner, dict) and state == "failed" and json_mode:
            out.emit(step_event("invocation", "failed"), title="invocation")
        raise api_error(status, envelope)
    if state in ("queued", "running"):
        if json_mode:
            out.result(None, **inner)
        else:
            out.result(f"Invocation {inner['invocation_id']} is {state}.")
        if wait:  # --timeout passed first
            raise WorkError(
                f"The invocation is still {state} after the --timeout; fetch it later with "
                "--result.",
                type="timeout",
            )
        return
    if json_mode:
        out.emit(step_event("invocation", "done"), title="invocation")
        out.result(None, **inner)
    else:
        out.result(json.dumps(inner.get("output"), indent=2, ensure_ascii=False))


# -- end async --
