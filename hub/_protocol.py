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
COUNT = struct.Struct("!H")
BODY_LEN = struct.Struct("!I")

# engine -> worker
INVOKE = 1  # payload: ID_LEN + invocation id (utf-8) + raw request body
# A batch handler's requests: COUNT, then per request ID_LEN + id + BODY_LEN + body. The worker
# answers with one RESULT or ERROR frame per request, in the same order.
BATCH = 2

# worker -> engine
READY = 10  # payload: JSON {"pid", "import_seconds"}
LOAD_FAILED = 11  # payload: JSON {"type", "message"}
RESULT = 12  # payload: the handler's output, JSON-encoded (utf-8)
ERROR = 13  # payload: JSON {"type", "message"}
LOG_STDOUT = 14  # payload: utf-8 text, one or more complete lines
LOG_STDERR = 15

# A generator handler's outputs: one ITEM frame per yielded value (its JSON), then END (payload
# empty) or an ERROR frame when it raised midway.
ITEM = 16
END = 17
# A line for one request of a batch only (the traceback of its failed item): ID_LEN + id + text.
LOG_ONE_STDERR = 18

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


def batch_frame(items) -> bytes:
    """The BATCH frame for ``items``, a sequence of ``(invocation_id, body)``."""
    parts = [COUNT.pack(len(items))]
    for invocation_id, body in items:
        ident = invocation_id.encode()
        parts += (ID_LEN.pack(len(ident)), ident, BODY_LEN.pack(len(body)), body)
    payload = b"".join(parts)
    return HEADER.pack(BATCH, len(payload)) + payload


def parse_batch(payload) -> list:
    """``[(invocation_id, body), ...]`` of a BATCH frame's payload."""
    view = bytes(payload)
    (count,) = COUNT.unpack_from(view)
    at = COUNT.size
    items = []
    for _ in range(count):
        (id_len,) = ID_LEN.unpack_from(view, at)
        at += ID_LEN.size
        ident = view[at : at + id_len].decode()
        at += id_len
        (size,) = BODY_LEN.unpack_from(view, at)
        at += BODY_LEN.size
        items.append((ident, view[at : at + size]))
        at += size
    return items


def log_one_payload(invocation_id: str, text: str) -> bytes:
    """The payload of a LOG_ONE_STDERR frame."""
    ident = invocation_id.encode()
    return ID_LEN.pack(len(ident)) + ident + text.encode("utf-8", "replace")
