"""The frames the platform's local engine and a worker process exchange (stdlib only).

One Unix stream socket per worker (a socketpair; the worker gets its end as an inherited file
descriptor). Every message is a frame: a 5-byte header ``!BI`` (kind, payload length) and the
payload. The user's ``print`` output travels as LOG frames on the same socket, so it arrives in
order with the result and is attributed to the right invocation. Only the worker decodes and
encodes JSON; the engine passes request bodies and results through as bytes.
"""

from __future__ import annotations

import struct

HEADER = struct.Struct("!BI")
HEADER_SIZE = HEADER.size
ID_LEN = struct.Struct("!H")

# engine -> worker
INVOKE = 1  # payload: ID_LEN + invocation id (utf-8) + raw request body

# worker -> engine
READY = 10  # payload: JSON {"pid", "import_seconds"}
LOAD_FAILED = 11  # payload: JSON {"type", "message"}
RESULT = 12  # payload: the handler's output, JSON-encoded (utf-8)
ERROR = 13  # payload: JSON {"type", "message"}
LOG_STDOUT = 14  # payload: utf-8 text, one or more complete lines
LOG_STDERR = 15

LOG_STREAMS = {LOG_STDOUT: "stdout", LOG_STDERR: "stderr"}


def frame(kind: int, payload: bytes) -> bytes:
    """One frame of ``kind`` carrying ``payload``."""
    return HEADER.pack(kind, len(payload)) + payload


def invoke_frame(invocation_id: str, body: bytes) -> bytes:
    """The INVOKE frame for one request."""
    ident = invocation_id.encode()
    return (
        HEADER.pack(INVOKE, ID_LEN.size + len(ident) + len(body))
        + ID_LEN.pack(len(ident))
        + ident
        + body
    )
