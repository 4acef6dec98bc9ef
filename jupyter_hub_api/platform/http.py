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
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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


class OneWriteHttpProtocol(HttpToolsProtocol):
    """``uvicorn.Config(http=...)``: httptools parsing, one write per response."""

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = _OneWriteTransport(transport)

    def on_response_complete(self) -> None:
        self.transport.flush()
        super().on_response_complete()
