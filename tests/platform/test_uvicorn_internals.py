"""The uvicorn internals platform/http.py builds on are all there, in the uvicorn installed.

``PlatformHttpProtocol`` subclasses uvicorn's ``HttpToolsProtocol``: it overrides the per-request
methods, calls some of uvicorn's, and reads its connection state, none of which is uvicorn's
public API (hence the upper bound on uvicorn in
pyproject.toml). When a uvicorn release moves one of them, this test names what is missing
instead of the platform failing somewhere in a request.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
import time

import pytest
import uvicorn

TIMEOUT = 10.0

# What http.py overrides or calls (uvicorn's own connection_lost and shutdown read the cycle,
# http.py's _Cycle, which has what they read), and the state it reads.
METHODS = {
    "connection_made": ["self", "transport"],
    "connection_lost": ["self", "exc"],
    "data_received": ["self", "data"],
    "on_message_begin": ["self"],
    "on_headers_complete": ["self"],
    "on_body": ["self", "body"],
    "on_message_complete": ["self"],
    "on_response_complete": ["self"],
    "send_400_response": ["self", "msg"],
    "shutdown": ["self"],
    "_should_upgrade": ["self"],
}
CONNECTION = (
    "transport",
    "server_state",
    "loop",
    "connections",
    "tasks",
    "app",
    "cycle",
    "flow",
    "pipeline",
    "parser",
    "scope",
    "url",
    "root_path",
    "expect_100_continue",
)
CYCLE = ("response_started", "response_complete", "disconnected", "keep_alive", "message_event")
FLOW = ("read_paused", "write_paused", "pause_reading", "resume_reading", "drain")
STATUSES = (200, 400, 408, 431, 503)


def _problem(what: str) -> str:
    return (
        f"uvicorn {uvicorn.__version__} changed {what}, which jupyter_hub_api/platform/http.py "
        "relies on: adapt http.py to this uvicorn, or keep uvicorn below this version in "
        "pyproject.toml."
    )


def test_the_protocol_class_and_status_lines_are_there():
    try:
        from uvicorn.protocols.http.httptools_impl import (
            HEADER_RE,
            HEADER_VALUE_RE,
            STATUS_LINE,
            HttpToolsProtocol,
        )
    except ImportError as exc:
        pytest.fail(_problem(f"uvicorn.protocols.http.httptools_impl ({exc})"))
    for name, parameters in METHODS.items():
        method = getattr(HttpToolsProtocol, name, None)
        assert method is not None, _problem(f"HttpToolsProtocol.{name} (it is gone)")
        found = list(inspect.signature(method).parameters)
        assert found == parameters, _problem(f"HttpToolsProtocol.{name}'s parameters ({found})")
    # The header checks the platform's cycle applies to every response header.
    assert HEADER_RE.search(b"bad name") and not HEADER_RE.search(b"content-type"), _problem(
        "HEADER_RE"
    )
    assert HEADER_VALUE_RE.search(b"a\r\nb") and not HEADER_VALUE_RE.search(b"text/plain"), (
        _problem("HEADER_VALUE_RE")
    )
    for status in STATUSES:
        line = STATUS_LINE.get(status, b"")
        assert line.startswith(f"HTTP/1.1 {status} ".encode()) and line.endswith(b"\r\n"), _problem(
            f"STATUS_LINE[{status}] ({line!r})"
        )


def test_a_live_connection_has_the_state_the_platform_reads():
    from jupyter_hub_api.platform.config import ConnectionLimits
    from jupyter_hub_api.platform.http import protocol_class

    seen: dict = {}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        (connection,) = server.server_state.connections
        seen["connection"] = connection
        seen["cycle"] = connection.cycle
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    config = uvicorn.Config(
        app,
        http=protocol_class(ConnectionLimits()),
        log_level="warning",
        lifespan="off",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    try:
        deadline = time.monotonic() + TIMEOUT
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started, "uvicorn did not start with the platform's protocol class"
        with socket.create_connection(sock.getsockname(), timeout=TIMEOUT) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b"ok"):
                chunk = conn.recv(4096)
                assert chunk, f"the connection closed with {answer!r}"
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 ")
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)
        sock.close()
    connection, cycle = seen["connection"], seen["cycle"]
    for name in ("connections", "tasks", "default_headers", "total_requests"):
        assert hasattr(server.server_state, name), _problem(f"the server state: no {name}")
    for group, obj, names in (
        ("the connection", connection, CONNECTION),
        ("the request cycle", cycle, CYCLE),
        ("the flow control", getattr(connection, "flow", None), FLOW),
    ):
        missing = [name for name in names if not hasattr(obj, name)]
        assert not missing, _problem(f"{group}: no {', '.join(missing)}")
