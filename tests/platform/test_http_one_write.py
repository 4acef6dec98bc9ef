"""The platform's HTTP protocol and its lean request cycle (``http._Cycle``) keep ASGI's semantics.

One write per response that has a length, and never a held head a client waits for; pipelined
requests answered in order; an app that fails before answering gets a 500; an app listening
for the client's disconnect after the body waits (it does not spin) and hears of the end of
its response. A real uvicorn server with :class:`PlatformHttpProtocol` on a free loopback port,
and a raw socket client, so that a response head held too long shows up as a client that never
gets it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import uvicorn

from jupyter_hub_api.platform.http import PlatformHttpProtocol

TIMEOUT = 5.0
LISTENED: dict = {}  # path -> what its listeners heard after the response


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/fixed":
        body = b'{"ok":true}'
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
    elif path == "/empty":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
        )
        await send({"type": "http.response.body", "body": b""})
    elif path == "/head-first":
        # Answers with its head, then reads the rest of the request body, which the client
        # sends only once it has that head, then streams the body it read back.
        await send({"type": "http.response.start", "status": 200, "headers": []})
        received = b""
        while True:
            message = await receive()
            received += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.body", "body": received})
    elif path == "/fail":
        raise RuntimeError("the app failed before answering")
    elif path == "/listen":
        # Reads the body, then (as Starlette's StreamingResponse does) waits on receive() for
        # the client's disconnect while it answers: that receive must wait, not return again.
        while (await receive()).get("more_body"):
            pass
        calls = []

        async def listen():
            while True:
                message = await receive()
                calls.append(message["type"])
                if message["type"] == "http.disconnect":
                    return

        listener = asyncio.ensure_future(listen())
        await asyncio.sleep(0.2)
        waited = list(calls)  # what the listener got while the response was not sent
        body = repr(waited).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
        try:
            await asyncio.wait_for(listener, 2)
        finally:
            LISTENED[path] = calls
    elif path == "/two-listeners":
        # Two tasks wait on receive() at once: both hear the end of the response.
        while (await receive()).get("more_body"):
            pass
        listeners = [asyncio.ensure_future(receive()) for _ in range(2)]
        await asyncio.sleep(0.05)
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})
        try:
            heard = await asyncio.wait_for(asyncio.gather(*listeners), 2)
            LISTENED[path] = [m["type"] for m in heard]
        except asyncio.TimeoutError:
            LISTENED[path] = "a listener never heard the end of the response"
    elif path == "/echo":
        received = b""
        while True:
            message = await receive()
            received += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(received)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": received})


@pytest.fixture(scope="module")
def port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn.Config(
        app,
        http=PlatformHttpProtocol,
        log_level="warning",
        lifespan="off",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(TIMEOUT)
    sock.close()


def connect(port: int) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    return conn


def read_until(conn: socket.socket, marker: bytes, data: bytes = b"") -> bytes:
    while marker not in data:
        chunk = conn.recv(65536)
        assert chunk, f"connection closed before {marker!r}; got {data!r}"
        data += chunk
    return data


def read_response(conn: socket.socket) -> tuple[bytes, bytes]:
    """Head and body of one content-length response."""
    data = read_until(conn, b"\r\n\r\n")
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = conn.recv(65536)
        assert chunk
        rest += chunk
    return head, rest


def test_responses_with_a_length_arrive_whole_and_the_connection_is_kept(port):
    with connect(port) as conn:
        for _ in range(3):
            conn.sendall(b"GET /fixed HTTP/1.1\r\nhost: x\r\n\r\n")
            head, body = read_response(conn)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert body == b'{"ok":true}'
        conn.sendall(b"GET /empty HTTP/1.1\r\nhost: x\r\n\r\n")
        head, body = read_response(conn)
        assert head.startswith(b"HTTP/1.1 200 ") and body == b""


def test_a_head_request_gets_its_head_although_no_body_is_written(port):
    with connect(port) as conn:
        conn.sendall(b"HEAD /fixed HTTP/1.1\r\nhost: x\r\n\r\n")
        head = read_until(conn, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert b"content-length: 11" in head.lower()


def test_a_streamed_head_is_sent_before_its_body_is_ready(port):
    with connect(port) as conn:
        conn.sendall(b"POST /head-first HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nhello")
        head = read_until(conn, b"\r\n\r\n")  # would time out if the head were held
        assert head.startswith(b"HTTP/1.1 200 ")
        conn.sendall(b"world")
        rest = read_until(conn, b"0\r\n\r\n", head.partition(b"\r\n\r\n")[2])
        assert b"helloworld" in rest


def test_a_client_expecting_100_continue_gets_it_before_sending_its_body(port):
    with connect(port) as conn:
        conn.sendall(
            b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n"
        )
        interim = read_until(conn, b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100 ")
        rest = interim.partition(b"\r\n\r\n")[2]
        conn.sendall(b'"hi"')
        head, body = read_response_after(conn, rest)
        assert head.startswith(b"HTTP/1.1 200 ") and body == b'"hi"'


def read_response_after(conn: socket.socket, data: bytes) -> tuple[bytes, bytes]:
    data = read_until(conn, b"\r\n\r\n", data)
    head, _, rest = data.partition(b"\r\n\r\n")
    while len(rest) < 4:
        chunk = conn.recv(65536)
        assert chunk
        rest += chunk
    return head, rest


def test_pipelined_requests_are_answered_in_order(port):
    with connect(port) as conn:
        conn.sendall(
            b'POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\n"a1"'
            b"GET /fixed HTTP/1.1\r\nhost: x\r\n\r\n"
            b'POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\n"b2"'
        )
        answers = b""
        while answers.count(b"HTTP/1.1 200 ") < 3 or not answers.endswith(b'"b2"'):
            chunk = conn.recv(65536)
            assert chunk, f"the connection closed with {answers!r}"
            answers += chunk
        bodies = [part.split(b"\r\n\r\n", 1)[1] for part in answers.split(b"HTTP/1.1 200 OK")[1:]]
        assert bodies == [b'"a1"', b'{"ok":true}', b'"b2"']


def test_an_app_that_fails_before_answering_gets_a_500_and_the_connection_closes(port):
    with connect(port) as conn:
        conn.sendall(b"GET /fail HTTP/1.1\r\nhost: x\r\n\r\n")
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 500 ")
        assert data.endswith(b"\r\n\r\nInternal Server Error")
        assert b"connection: close" in data.lower()


def test_a_receive_after_the_body_waits_for_the_end_of_the_response(port):
    with connect(port) as conn:
        conn.sendall(b"POST /listen HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")
        head, body = read_response(conn)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert body == b"[]"  # nothing came to the listener before the response was sent
    assert heard("/listen") == ["http.disconnect"]  # and then it heard the end of it


def heard(path: str) -> object:
    """What ``path``'s listeners heard once its response was sent (the app records it)."""
    deadline = time.monotonic() + 10
    while path not in LISTENED and time.monotonic() < deadline:
        time.sleep(0.02)
    return LISTENED.get(path)


def test_every_receive_waiting_at_once_hears_the_end_of_the_response(port):
    with connect(port) as conn:
        conn.sendall(b"POST /two-listeners HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")
        head, body = read_response(conn)
        assert head.startswith(b"HTTP/1.1 200 ") and body == b"ok"
    assert heard("/two-listeners") == ["http.disconnect", "http.disconnect"]
