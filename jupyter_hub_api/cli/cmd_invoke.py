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
  hub invoke chat '{"prompt": "hi"}' --stream   # a generator's outputs as they come"""
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
@json_option
def invoke(
    api: str,
    payload: str | None,
    wake: bool,
    timeout: float | None,
    stream: bool,
    json_mode: bool,
) -> None:
    """Call API with the JSON value JSON (or read from stdin) and print its output.

    Uses $HUB_API_KEY when set, else your first enabled key. Exits with 1 when the API
    answers with an error (2 when there is no such API).
    """
    out = make_output(json_mode)
    body = None
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
