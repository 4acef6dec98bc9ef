"""The engine's side of a worker's wire: frames on its socket, lines on its fd 1 and 2.

The frames are those of ``hub._protocol`` (a 5-byte header: kind, length; then the payload).
:class:`FrameReader` cuts what arrives on the socket into frames; :class:`OutputPipes` reads
what the worker writes to fd 1 and 2 directly (C code, subprocesses) line by line. Both only
call the callbacks they are given: what a frame or a line means is the worker's business.
"""

from __future__ import annotations

import asyncio
import os
import select
from collections.abc import Callable, Iterable
from typing import IO

from hub import _protocol as P

__all__ = ["FrameReader", "OutputPipes"]


class FrameReader(asyncio.Protocol):
    """Reads frames from a worker's socket: ``on_frame(kind, payload)`` for each.

    ``on_open(transport)`` is called from ``connection_made``, not after
    ``create_unix_connection()`` returns: uvloop may deliver the worker's first frame (READY,
    which sends it a queued request) before the awaiting code resumes. ``on_close()`` is
    called when the socket is at its end.
    """

    def __init__(
        self,
        on_open: Callable[[asyncio.Transport], None],
        on_frame: Callable[[int, bytes], None],
        on_close: Callable[[], None],
    ) -> None:
        self.on_open = on_open
        self.on_frame = on_frame
        self.on_close = on_close
        self.buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.on_open(transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        if not buffer:
            # Fast path: usually one whole frame arrives in one read.
            size = len(data)
            if size >= P.HEADER_SIZE:
                kind, length = P.HEADER.unpack_from(data)
                if P.HEADER_SIZE + length == size:
                    self.on_frame(kind, data[P.HEADER_SIZE :])
                    return
        buffer += data
        while len(buffer) >= P.HEADER_SIZE:
            kind, length = P.HEADER.unpack_from(buffer)
            end = P.HEADER_SIZE + length
            if len(buffer) < end:
                return
            payload = bytes(buffer[P.HEADER_SIZE : end])
            del buffer[:end]
            self.on_frame(kind, payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_close()


class _PipeReader:
    """Reads one of a worker's fd 1 or 2 line by line.

    With ``loop.add_reader`` and ``os.read``, not ``connect_read_pipe``: uvloop's pipe transport
    closes the descriptor and then its file object closes the same number again, which closes
    whatever another thread opened under that number meanwhile (seen: a new worker's socket,
    a folder being deleted). Here the file object is closed once, by :meth:`close`.
    """

    def __init__(self, owner: OutputPipes, stream: str, pipe: IO[bytes]) -> None:
        self.owner = owner
        self.stream = stream
        self.pipe = pipe
        self.fd = pipe.fileno()
        self.partial = b""
        self.closed = False
        os.set_blocking(self.fd, False)

    def readable(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            self.data_received(data)
        else:
            self.close()

    def data_received(self, data: bytes) -> None:
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        emit = self.owner.emit
        for line in lines:
            emit(self.stream, line.decode("utf-8", "replace"))

    def drain_now(self) -> None:
        """Read what is already in the pipe, and end a pending partial line.

        (The pipe is non-blocking; an end of file found here is seen again by the reader,
        which closes.)
        """
        while True:
            try:
                data = os.read(self.fd, 65536)
            except (BlockingIOError, InterruptedError, OSError):
                break
            if not data:
                break
            self.data_received(data)
        self._end_line()

    def _end_line(self) -> None:
        if self.partial:
            self.owner.emit(self.stream, self.partial.decode("utf-8", "replace"))
            self.partial = b""

    def close(self) -> None:
        """Stop reading and close the pipe (once)."""
        if self.closed:
            return
        self.closed = True
        self._end_line()
        owner = self.owner
        try:
            owner.loop.remove_reader(self.fd)
        except (ValueError, OSError):
            pass
        # Forget the descriptor before it is closed: its number may soon name another file.
        owner.forget(self.fd)
        self.pipe.close()
        # Later, as a transport's connection_lost would be: close() is called from the exit
        # handling itself, which must not be re-entered.
        owner.loop.call_soon(owner.on_end)


class OutputPipes:
    """A worker's fd 1 and 2, read line by line on the event loop.

    ``emit(stream, line)`` gets each line (no trailing newline) with ``stream`` ``"stdout"`` or
    ``"stderr"``; ``on_end()`` is called (soon after) once per pipe that reached its end.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        pipes: Iterable[tuple[str, IO[bytes]]],
        emit: Callable[[str, str], None],
        on_end: Callable[[], None],
    ) -> None:
        self.loop = loop
        self.emit = emit
        self.on_end = on_end
        self.readers = [_PipeReader(self, stream, pipe) for stream, pipe in pipes]
        # The event loop may see the socket's answer before the pipe's data: before an answer
        # is passed on, one poll() tells whether the pipes hold output of that invocation.
        self._open = {reader.fd: reader for reader in self.readers}
        self._poll = select.poll()
        for fd in self._open:
            self._poll.register(fd, select.POLLIN)
        for reader in self.readers:
            loop.add_reader(reader.fd, reader.readable)

    def drain(self) -> None:
        """Pass on what is already in the pipes (one poll() when nothing)."""
        if not self._open:
            return
        for fd, _ in self._poll.poll(0):
            reader = self._open.get(fd)
            if reader is not None:
                reader.drain_now()

    def forget(self, fd: int) -> None:
        if self._open.pop(fd, None) is not None:
            self._poll.unregister(fd)

    def close(self) -> None:
        """Stop reading both pipes and close them (once)."""
        for fd in list(self._open):
            self.forget(fd)
        for reader in self.readers:
            reader.close()
