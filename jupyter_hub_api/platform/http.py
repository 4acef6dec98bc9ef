"""uvicorn's httptools protocol, writing each response's head and body in one ``send``.

uvicorn writes a response's status line and headers when the app sends
``http.response.start`` and the body when it sends ``http.response.body``: two writes, so two
system calls per response on the gateway's single event loop, which is where the platform's
throughput is bounded. Here the transport holds a response head back and sends it together with
the write that follows (the body). The head is never held past the end of its response: a
response with no body write (HEAD, an empty body) and a closing connection send it at once.

Only a head with ``content-length`` is held, so its body follows at once: a streamed response
(chunked, e.g. a log follower) and an interim ``100 Continue`` are sent at once, as the client
may be waiting for them.

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

import json
import logging

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .config import ConnectionLimits

log = logging.getLogger("hub.platform.http")

_HEAD = b"HTTP/1.1 "
_LENGTH = b"\r\ncontent-length: "


class _OneWriteTransport:
    """Wraps a transport: a response head waits for the next write, then both go in one."""

    __slots__ = ("_transport", "_held")

    def __init__(self, transport) -> None:
        self._transport = transport
        self._held: bytes | None = None

    def write(self, data) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif (
            data[:9] == _HEAD
            and data[9:10] != b"1"
            and data[-4:] == b"\r\n\r\n"
            and _LENGTH in data
        ):
            self._held = bytes(data)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        """Send a held response head (its response is complete without a body write)."""
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name):
        return getattr(self._transport, name)


# The most a request line and its headers may take (nginx allows 32 KiB, h11 16 KiB).
MAX_HEAD_BYTES = 64 * 1024

# A connection's phase: what it is waiting for, and so which deadline applies. _LINGER: answered
# and half-closed, discarding what the client still sends until it closes (or LINGER_SECONDS).
_IDLE, _HEADERS, _BODY, _APP, _LINGER = range(5)

# How long a connection answered with an error may go on sending before it is closed anyway.
LINGER_SECONDS = 2.0


class OneWriteHttpProtocol(HttpToolsProtocol):
    """``uvicorn.Config(http=...)``: httptools parsing, one write per response, deadlines.

    The limits and the app answering past the cap are class attributes; :func:`protocol_class`
    makes a subclass with the platform's.
    """

    limits = ConnectionLimits()
    busy_app = None  # the ASGI app that answers past max_connections (None: a plain JSON 503)

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = _OneWriteTransport(transport)
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
        transport = self.transport
        transport.write(answer)
        transport.flush()
        if not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self._phase = _LINGER
        self._deadline = self.server_state.hub_clock + LINGER_SECONDS

    def on_headers_complete(self) -> None:
        self._phase = _BODY
        self._deadline = self.server_state.hub_clock + self._body_seconds
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._deadline = self.server_state.hub_clock + self._body_seconds
        super().on_body(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self.cycle is not None and self.cycle.response_complete:
            self._go_idle()  # answered before its body was read to the end
        else:
            self._phase = _APP
            self._deadline = None

    def on_response_complete(self) -> None:
        self.transport.flush()
        super().on_response_complete()
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


def protocol_class(limits: ConnectionLimits, busy_app=None) -> type[OneWriteHttpProtocol]:
    """The protocol class with the platform's limits and its answer past the cap."""
    return type(
        "PlatformHttpProtocol",
        (OneWriteHttpProtocol,),
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
