"""The platform's HTTP/1.1 protocol: httptools parsing under uvicorn's server, a lean request cycle.

uvicorn hosts the platform (its sockets, lifespan, signals and graceful shutdown) and its
``HttpToolsProtocol`` parses each connection with httptools; this subclass replaces the part
that runs per request, uvicorn's ``RequestResponseCycle``, with :class:`_Cycle`, which keeps its
ASGI semantics (``receive``, ``send``, 100-continue, chunked or fixed-length bodies, HEAD,
disconnects, a 500 when the app fails before answering) for less work on the gateway's single
event loop, where the platform's throughput is bounded:

- a response head with ``content-length`` is held until the app sends the body, and both go in
  one write (uvicorn writes them apart: two system calls per response); a streamed head
  (chunked, e.g. a log follower) goes at once, as the client may be waiting for it;
- a request waits for its body on a future made only when it must wait, not on an
  ``asyncio.Event`` of its own;
- no keep-alive timer per response: the one sweep below enforces every deadline.

The protocol also guards the process against connections that hold a descriptor and send
little or nothing (uvicorn alone times out only the idle time after a response):

- an idle connection (nothing sent yet, or nothing since its last response) is closed after
  ``keep_alive_seconds``;
- a request's headers must be complete ``header_timeout_seconds`` after its first byte, however
  slowly they trickle in (a slowloris is answered 408 and closed);
- a request body may pause at most ``body_timeout_seconds`` between two reads (while the app
  itself waits for it), else 408 and closed;
- a request line with headers over ``MAX_HEAD_BYTES`` is answered 431 and closed (lingering:
  see ``_answer_and_linger``, so a client still sending gets the answer, not a reset);
- past ``max_connections`` open connections a new one is answered 503 with one sentence (as
  JSON, in the shape of the path it asked for) and closed, and it gets only the header
  timeout to send its request.

One timer per server (:func:`_sweep`, a few times a second) enforces every deadline, so a
request costs no timer of its own: when its phase changes it only reads the clock the sweep
keeps (``server_state.hub_clock``; a deadline is set one sweep late, so it never fires early).
A request line or header that is not HTTP/1.1 is answered 400 in JSON too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse

import httptools
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    HttpToolsProtocol,
)

from .config import ConnectionLimits

log = logging.getLogger("hub.platform.http")
app_log = logging.getLogger("uvicorn.error")  # where uvicorn logs an app's exceptions

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"
_INTERNAL_ERROR = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", b"21"),
    (b"connection", b"close"),
]


def _nothing() -> None:
    pass


class _Cycle:
    """One request and its response, as the ASGI app sees them (``receive``, ``send``).

    The protocol feeds it the request body (:meth:`feed`, :meth:`end`) and wakes it when the
    connection is lost (``message_event.set()``, as uvicorn's connection code does).
    """

    __slots__ = (
        "scope",
        "transport",
        "flow",
        "loop",
        "default_headers",
        "on_response",
        "disconnected",
        "keep_alive",
        "waiting_for_100_continue",
        "body",
        "more_body",
        "end_delivered",
        "waiter",
        "response_started",
        "response_complete",
        "held",
        "chunked",
        "remaining",
    )

    def __init__(self, protocol, scope, keep_alive: bool, expect_100_continue: bool) -> None:
        self.scope = scope
        self.transport = protocol.transport
        self.flow = protocol.flow
        self.loop = protocol.loop
        self.default_headers = protocol.server_state.default_headers
        self.on_response = protocol.on_response_complete
        self.disconnected = False
        self.keep_alive = keep_alive
        self.waiting_for_100_continue = expect_100_continue
        self.body = bytearray()
        self.more_body = True
        self.end_delivered = False  # the last http.request message was received
        self.waiter = None  # the future receive() waits on (made when one must wait)
        self.response_started = False
        self.response_complete = False
        self.held = None  # a response head waiting for its body
        self.chunked = False
        self.remaining = 0  # body bytes the content-length still promises

    # -- the protocol's side --

    @property
    def message_event(self):
        return self  # uvicorn's connection_lost calls cycle.message_event.set()

    def set(self) -> None:
        """Wake a waiting receive()."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def feed(self, data: bytes) -> None:
        self.body += data
        if len(self.body) > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        self.set()

    def end(self) -> None:
        self.more_body = False
        self.set()

    async def run(self, app) -> None:
        try:
            result = await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            app_log.error("Exception in ASGI application\n", exc_info=exc)
            if not self.response_started:
                await self._internal_error()
            else:
                self.transport.close()
        else:
            if result is not None:
                app_log.error("ASGI callable should return None, but returned '%s'.", result)
                self.transport.close()
            elif not self.response_started and not self.disconnected:
                app_log.error("ASGI callable returned without starting response.")
                await self._internal_error()
            elif not self.response_complete and not self.disconnected:
                app_log.error("ASGI callable returned without completing response.")
                self.transport.close()
        finally:
            self.on_response = _nothing

    async def _internal_error(self) -> None:
        await self.send({"type": "http.response.start", "status": 500, "headers": _INTERNAL_ERROR})
        await self.send({"type": "http.response.body", "body": b"Internal Server Error"})

    # -- the app's side --

    async def receive(self) -> dict:
        if self.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(_CONTINUE)
            self.waiting_for_100_continue = False
        while not (self.disconnected or self.response_complete):
            if self.body or not (self.more_body or self.end_delivered):
                break  # something to deliver
            self.flow.resume_reading()
            waiter = self.waiter
            if waiter is None or waiter.done():
                waiter = self.waiter = self.loop.create_future()
            # Shared by every receive() waiting now (an app may listen for the disconnect in
            # a task of its own); shielded, so one waiter cancelled does not cancel the rest.
            await asyncio.shield(waiter)
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        self.end_delivered = not self.more_body
        message = {"type": "http.request", "body": bytes(self.body), "more_body": self.more_body}
        self.body.clear()
        self.flow.resume_reading()
        return message

    async def send(self, message) -> None:
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        kind = message["type"]
        if not self.response_started:
            if kind != "http.response.start":
                raise RuntimeError(
                    f"Expected ASGI message 'http.response.start', but got '{kind}'."
                )
            self._start(message["status"], message.get("headers", ()))
        elif not self.response_complete:
            if kind != "http.response.body":
                raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{kind}'.")
            self._body(message.get("body", b""), message.get("more_body", False))
        else:
            raise RuntimeError(
                f"Unexpected ASGI message '{kind}' sent, after response already completed."
            )

    def _start(self, status: int, headers) -> None:
        self.response_started = True
        self.waiting_for_100_continue = False
        head = [STATUS_LINE[status]]
        length = None
        framed = False  # a content-length or chunked transfer-encoding was given (the first wins)
        close = False
        for pairs in (self.default_headers, headers):
            for name, value in pairs:
                if HEADER_RE.search(name):  # (uvicorn's checks of a header)
                    raise RuntimeError("Invalid HTTP header name.")
                if HEADER_VALUE_RE.search(value):
                    raise RuntimeError("Invalid HTTP header value.")
                name = name.lower()
                if name == b"content-length":
                    if not framed:
                        framed, length = True, int(value)
                elif name == b"transfer-encoding":
                    if not framed and value.lower() == b"chunked":
                        framed, self.chunked = True, True
                elif name == b"connection":
                    if b"close" in [token.strip() for token in value.lower().split(b",")]:
                        self.keep_alive = False
                        close = True
                head += (name, b": ", value, b"\r\n")
        if not self.keep_alive and not close:
            head.append(b"connection: close\r\n")
        head_request = self.scope["method"] == "HEAD"
        if not framed and not head_request and status not in (204, 304):
            self.chunked = True
            head.append(b"transfer-encoding: chunked\r\n")
        head.append(b"\r\n")
        if length is not None and not self.chunked:
            self.remaining = 0 if head_request else length
            self.held = b"".join(head)  # sent with the body, in one write
        else:
            self.transport.write(b"".join(head))

    def _body(self, body: bytes, more: bool) -> None:
        held, self.held = self.held, None
        if self.scope["method"] == "HEAD":
            data = b""
        elif self.chunked:
            data = b"%x\r\n%s\r\n" % (len(body), body) if body else b""
            if not more:
                data += _LAST_CHUNK
        else:
            self.remaining -= len(body)
            if self.remaining < 0:
                raise RuntimeError("Response content longer than Content-Length")
            data = body
        if held is not None:
            data = held + data
        if data:
            self.transport.write(data)
        if not more:
            if self.remaining:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()


# The most a request line and its headers may take (nginx allows 32 KiB, h11 16 KiB).
MAX_HEAD_BYTES = 64 * 1024

# A connection's phase: what it is waiting for, and so which deadline applies. _LINGER: answered
# and half-closed, discarding what the client still sends until it closes (or LINGER_SECONDS).
_IDLE, _HEADERS, _BODY, _APP, _LINGER = range(5)

# How long a connection answered with an error may go on sending before it is closed anyway.
LINGER_SECONDS = 2.0


class PlatformHttpProtocol(HttpToolsProtocol):
    """``uvicorn.Config(http=...)``: httptools parsing, the lean cycle, deadlines.

    The limits and the app answering past the cap are class attributes; :func:`protocol_class`
    makes a subclass with the platform's.
    """

    limits = ConnectionLimits()
    busy_app = None  # the ASGI app that answers past max_connections (None: a plain JSON 503)

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limits = self.limits
        state = self.server_state
        slack = _sweeper(state, self.loop, limits)
        self._phase = _IDLE
        self._header_seconds = limits.header_timeout_seconds + slack
        self._body_seconds = limits.body_timeout_seconds + slack
        self._idle_seconds = limits.keep_alive_seconds + slack
        cap = limits.max_connections
        if cap is not None and len(self.connections) > cap:
            # Over the cap: this connection is answered 503 and closed, and may not idle.
            self.app = self.busy_app or _busy
            self._idle_seconds = self._header_seconds
        self._deadline = state.hub_clock + self._idle_seconds

    def data_received(self, data: bytes) -> None:
        if self._phase == _LINGER:
            return  # answered already: what is still arriving is read and dropped
        if self._phase == _IDLE:
            self._phase = _HEADERS
            self._deadline = self.server_state.hub_clock + self._header_seconds
            self._head_bytes = 0
        super().data_received(data)
        if self._phase == _HEADERS:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                self._answer_and_linger(
                    _plain_answer(
                        431,
                        "headers_too_large",
                        f"The request line and headers are over {MAX_HEAD_BYTES // 1024} KiB; "
                        "send shorter headers.",
                    )
                )

    def _answer_and_linger(self, answer: bytes) -> None:
        """Send a final answer and close without a reset (RFC 9112 9.6's lingering close).

        Closing a socket whose received data is unread makes the kernel send RST, and a client
        still sending then loses the answer it had not read yet. So: send, stop writing
        (FIN), drop whatever still arrives, and close at the client's EOF or after
        ``LINGER_SECONDS``.
        """
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # its app's answer, if it comes, has no connection left
            cycle.set()
        transport = self.transport
        transport.write(answer)
        if not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self._phase = _LINGER
        self._deadline = self.server_state.hub_clock + LINGER_SECONDS

    def on_headers_complete(self) -> None:
        self._phase = _BODY
        self._deadline = self.server_state.hub_clock + self._body_seconds
        parser = self.parser
        scope = self.scope
        scope["method"] = parser.get_method().decode("ascii")
        http_version = parser.get_http_version()
        if http_version != "1.1":
            scope["http_version"] = http_version
        if parser.should_upgrade() and self._should_upgrade():
            return  # a WebSocket: uvicorn's data_received hands the connection over
        url = httptools.parse_url(self.url)
        raw_path = url.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        scope["path"] = self.root_path + path
        scope["raw_path"] = self.root_path.encode("ascii") + raw_path
        scope["query_string"] = url.query or b""
        previous = self.cycle
        self.cycle = cycle = _Cycle(
            self,
            scope,
            keep_alive=http_version != "1.0" and parser.should_keep_alive(),
            expect_100_continue=self.expect_100_continue,
        )
        if previous is None or previous.response_complete:
            self._run(cycle, self.app)
        else:
            # A pipelined request: it waits for the one before it to be answered.
            self.flow.pause_reading()
            self.pipeline.appendleft((cycle, self.app))

    def _run(self, cycle: _Cycle, app) -> None:
        task = self.loop.create_task(cycle.run(app))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)  # uvicorn's shutdown waits for these

    def on_body(self, body: bytes) -> None:
        self._deadline = self.server_state.hub_clock + self._body_seconds
        cycle = self.cycle
        if cycle.response_complete or (self.parser.should_upgrade() and self._should_upgrade()):
            return
        cycle.feed(body)

    def on_message_complete(self) -> None:
        cycle = self.cycle
        if cycle.response_complete:
            self._go_idle()  # answered before its body was read to the end
            return
        if self.parser.should_upgrade() and self._should_upgrade():
            return
        cycle.end()
        self._phase = _APP
        self._deadline = None

    def on_response_complete(self) -> None:
        # (uvicorn's also arms a keep-alive timer per response; the sweep does that here.)
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._run(cycle, app)
        if self._phase == _APP:
            self._go_idle()

    def _go_idle(self) -> None:
        self._phase = _IDLE
        self._deadline = self.server_state.hub_clock + self._idle_seconds

    def expire(self, now: float) -> None:
        """The sweep found this connection past its deadline: close it (408 where it helps)."""
        if self._phase == _LINGER:
            self._deadline = None
            self.transport.close()
            return
        cycle = self.cycle
        answering = cycle is not None and not cycle.response_complete
        if self._phase == _BODY and self.flow.read_paused:
            self._deadline = now + self._body_seconds  # the app is not reading: not its client
            return
        if self._phase in (_IDLE, _APP) and (answering or self.pipeline):
            self._deadline = None  # a response is on its way; its handler has its own timeout
            return
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._phase in (_HEADERS, _BODY) and not (cycle is not None and cycle.response_started):
            what = "headers" if self._phase == _HEADERS else "body"
            limit = (
                self.limits.header_timeout_seconds
                if self._phase == _HEADERS
                else self.limits.body_timeout_seconds
            )
            self.transport.write(
                _plain_answer(
                    408,
                    "request_timeout",
                    f"The request's {what} did not arrive within {limit:g} s; send the whole "
                    "request at once.",
                )
            )
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """A request that is not HTTP/1.1: one sentence in JSON, then close (as uvicorn does)."""
        self._answer_and_linger(
            _plain_answer(
                400,
                "bad_request",
                "The request is not valid HTTP/1.1 (e.g. a malformed request line, header or "
                "Content-Length); fix the client.",
            )
        )


def protocol_class(limits: ConnectionLimits, busy_app=None) -> type[PlatformHttpProtocol]:
    """The protocol class with the platform's limits and its answer past the cap."""
    return type(
        "PlatformHttpProtocol",
        (PlatformHttpProtocol,),
        {"limits": limits, "busy_app": staticmethod(busy_app) if busy_app else None},
    )


def _plain_answer(status: int, type_: str, message: str) -> bytes:
    """A whole response written by the protocol itself: the gateway's envelope, then close."""
    body = json.dumps(
        {"statusCode": status, "body": {"error": {"type": type_, "message": message}}}
    ).encode()
    return b"".join(
        (
            STATUS_LINE[status],
            b"content-type: application/json\r\ncontent-length: ",
            str(len(body)).encode(),
            b"\r\nconnection: close\r\n\r\n",
            body,
        )
    )


async def _busy(scope, receive, send) -> None:
    """The answer past the cap when the app gives none of its own (see ``create_app``)."""
    await send_busy(send, b"")


async def send_busy(send, body: bytes) -> None:
    """Answer 503 with ``body`` (JSON), ask the client to retry, and close the connection."""
    body = (
        body
        or json.dumps(
            {
                "statusCode": 503,
                "body": {
                    "error": {
                        "type": "too_many_connections",
                        "message": "The platform has as many connections open as it allows; "
                        "retry in a few seconds.",
                    }
                },
            }
        ).encode()
    )
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"2"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _sweeper(server_state, loop, limits: ConnectionLimits) -> float:
    """Start the server's one deadline timer (once per server); return its interval."""
    interval = getattr(server_state, "hub_sweep_interval", None)
    if interval is None:
        shortest = min(
            limits.header_timeout_seconds, limits.body_timeout_seconds, limits.keep_alive_seconds
        )
        interval = server_state.hub_sweep_interval = max(0.05, min(1.0, shortest / 4))
        server_state.hub_clock = loop.time()
        loop.call_later(interval, _sweep, server_state, loop, interval)
    return interval


def _sweep(server_state, loop, interval: float) -> None:
    now = server_state.hub_clock = loop.time()
    for conn in list(server_state.connections):
        deadline = getattr(conn, "_deadline", None)
        if deadline is not None and now >= deadline:
            try:
                conn.expire(now)
            except Exception:  # one connection's trouble must never stop the sweep
                log.exception("closing an expired connection failed")
    loop.call_later(interval, _sweep, server_state, loop, interval)
