"""The worker process of the local engine: ``python -m hub._worker --fd N --api user/name``.

It runs in the API's own environment (stdlib and the ``hub`` package only), with the project's
``src/`` folder as working directory and first on ``sys.path``, and ``MODEL_DIR`` set. It imports
``main.py`` once, reports READY (or LOAD_FAILED with a clear message), then serves INVOKE frames
one at a time until the engine closes the socket. See ``hub._protocol`` for the frames.

What the user's code prints through ``sys.stdout``/``sys.stderr`` is sent as LOG frames on the
protocol socket; what C code or subprocesses write to file descriptors 1 and 2 goes to pipes the
engine reads. Neither can corrupt the protocol.
"""

from __future__ import annotations

import faulthandler
import importlib
import io
import json
import os
import signal
import socket
import sys
import threading
import time
import types

from hub import _protocol as P
from hub.context import Context

# A line longer than this without a newline is sent anyway, so memory stays bounded.
_MAX_PENDING = 64 * 1024


class _Channel:
    """The worker's end of the protocol socket; sends are serialised for user threads."""

    # Frames are read into one buffer kept for the worker's life: ``recv(n)`` would allocate
    # (and, past malloc's mmap threshold, map, shrink and unmap) a new n-byte object per call.
    BUFFER = 65536

    def __init__(self, fd: int) -> None:
        self.sock = socket.socket(fileno=fd)
        # The handler's own subprocesses must not hold the socket open after we die, or the
        # engine would not see the crash.
        os.set_inheritable(fd, False)
        self.buffer = bytearray(self.BUFFER)
        self.view = memoryview(self.buffer)
        self.start = 0  # buffer[start:end] holds bytes received past the last whole frame
        self.end = 0
        self.lock = threading.Lock()

    def send(self, kind: int, payload: bytes) -> None:
        header = P.HEADER.pack(kind, len(payload))
        with self.lock:
            if len(payload) < 65536:
                self.sock.sendall(header + payload)
            else:  # avoid copying a large output just to prepend five bytes
                self.sock.sendall(header)
                self.sock.sendall(payload)

    def receive(self) -> tuple[int, bytes] | None:
        """The next frame, or None when the engine closed the socket.

        One ``recv_into`` usually brings a whole frame (or several, when the engine sent the
        next requests ahead; those are then served without a system call).
        """
        buffer, view = self.buffer, self.view
        while True:
            start, end = self.start, self.end
            if end - start >= P.HEADER_SIZE:
                kind, size = P.HEADER.unpack_from(buffer, start)
                stop = start + P.HEADER_SIZE + size
                if stop <= end:
                    payload = bytes(view[start + P.HEADER_SIZE : stop])
                    if stop == end:
                        self.start = self.end = 0
                    else:
                        self.start = stop
                    return kind, payload
                if P.HEADER_SIZE + size > len(buffer):
                    return self._receive_large(kind, size)
            if start:  # move the partial frame to the front, making room for the rest
                end -= start
                buffer[:end] = bytes(view[start : start + end])  # (they may overlap)
                self.start, start = 0, 0
            count = self.sock.recv_into(view[end:])
            if not count:
                return None
            self.end = end + count

    def _receive_large(self, kind: int, size: int) -> tuple[int, bytes] | None:
        """A frame larger than the buffer: read the rest straight into one buffer of its own."""
        payload = bytearray(size)
        have = self.end - self.start - P.HEADER_SIZE
        payload[:have] = self.view[self.start + P.HEADER_SIZE : self.end]
        self.start = self.end = 0
        view = memoryview(payload)
        while have < size:
            count = self.sock.recv_into(view[have:], size - have)
            if not count:
                return None
            have += count
        return kind, payload


class _LogStream(io.TextIOBase):
    """A text stream that forwards complete lines as LOG frames (replaces sys.stdout/stderr)."""

    def __init__(self, channel: _Channel, kind: int, fd: int) -> None:
        super().__init__()
        self._channel = channel
        self._kind = kind
        self._fd = fd
        self._pending: list[str] = []
        self._pending_size = 0
        self._lock = threading.Lock()
        self.buffer = _LogBuffer(self)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "replace"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        # Code that needs a real descriptor (subprocess, faulthandler) gets the pipe the
        # engine reads for this stream.
        return self._fd

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            cut = text.rfind("\n")
            if cut < 0:
                self._pending.append(text)
                self._pending_size += len(text)
                if self._pending_size > _MAX_PENDING:
                    self._send_pending()
                return len(text)
            head, tail = text[: cut + 1], text[cut + 1 :]
            if self._pending:
                self._pending.append(head)
                out = "".join(self._pending)
                self._pending.clear()
                self._pending_size = 0
            else:
                out = head
            if tail:
                self._pending.append(tail)
                self._pending_size = len(tail)
        self._channel.send(self._kind, out.encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        # Partial lines wait for their newline (or the end of the invocation) so that a
        # line is never split in the logs.
        return None

    def end_of_invocation(self) -> None:
        """Send what is left of an unfinished line."""
        if not self._pending:  # the common case, checked without the lock
            return
        with self._lock:
            if not self._pending:
                return
            out = "".join(self._pending) + "\n"
            self._pending.clear()
            self._pending_size = 0
        self._channel.send(self._kind, out.encode("utf-8", "replace"))

    def _send_pending(self) -> None:
        out = "".join(self._pending) + "\n"
        self._pending.clear()
        self._pending_size = 0
        self._channel.send(self._kind, out.encode("utf-8", "replace"))


class _LogBuffer(io.RawIOBase):
    """``sys.stdout.buffer`` for code that writes bytes."""

    def __init__(self, stream: _LogStream) -> None:
        super().__init__()
        self._stream = stream

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self._stream.write(bytes(data).decode("utf-8", "replace"))
        return len(data)

    def fileno(self) -> int:
        return self._stream.fileno()


def _json_default(value):
    """Encode what numpy (or torch) return as plain lists and numbers; refuse the rest clearly."""
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    raise TypeError(
        f"The handler returned a value of type {type(value).__name__}, which JSON cannot "
        "carry; return str, int, float, bool, None, lists or dicts of them."
    )


# Built once: json.dumps with options would build a new encoder for every answer.
_ENCODE = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default
).encode
_ENCODE_ASCII = json.JSONEncoder(
    separators=(",", ":"), allow_nan=False, default=_json_default
).encode


def _c_encoder():
    """``_ENCODE``'s C encoder, made once (``JSONEncoder.encode`` makes one per call), and the
    dict it marks containers in (cleared after a failure, which leaves marks behind); None
    without the C accelerator."""
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    if make is None:
        return None
    markers: dict = {}
    try:
        # The arguments JSONEncoder.iterencode passes (the same from 3.9 to 3.13).
        call = make(
            markers, _json_default, encoder.encode_basestring, None, ":", ",", False, False, False
        )
        if "".join(call({"a": [1, 2.5, None, True, "\u00e9"]}, 0)) != _ENCODE(
            {"a": [1, 2.5, None, True, "\u00e9"]}
        ):
            return None
    except Exception:  # noqa: BLE001 - another Python's signature: the plain path is right
        return None
    return call, markers


_C_ENCODER = _c_encoder()


def encode_output(result) -> bytes:
    """The handler's result as strict JSON bytes (tuples become lists)."""
    try:
        if _C_ENCODER is not None:
            try:
                text = "".join(_C_ENCODER[0](result, 0))
            except BaseException:
                _C_ENCODER[1].clear()  # marks left by the failure would read as circular
                raise
        else:
            text = _ENCODE(result)
    except ValueError as exc:
        if "Circular" in str(exc):
            raise TypeError(
                "The handler returned a value that contains itself; JSON cannot carry it."
            ) from None
        raise TypeError(
            "The handler returned NaN or Infinity, which JSON cannot carry; replace them "
            "(for example with None) before returning."
        ) from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: let JSON escape them
        return _ENCODE_ASCII(result).encode()


_SCAN = json.JSONDecoder().scan_once


def decode_input(body: bytes):
    """The request body's JSON value: ``json.loads(body)``, with a fast path for the usual body
    (UTF-8, no surrounding whitespace) that skips its encoding detection and regular
    expressions; anything else (or an error) goes the full way, so the result and the error
    message are json.loads's."""
    try:
        value, end = _SCAN(body.decode("utf-8"), 0)
        if end == len(body):  # (ASCII: characters = bytes; else the full way checks the end)
            return value
    except (ValueError, StopIteration, RecursionError):
        pass
    return json.loads(body)


def _callable_with_context(fn):
    """``fn`` as ``f(inputs, context)``: also accepts ``def f(inputs)`` and ``async def``."""
    import inspect

    call = fn
    try:
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        takes_context = len(params) != 1 or any(
            p.kind == p.VAR_POSITIONAL for p in inspect.signature(fn).parameters.values()
        )
    except (TypeError, ValueError):  # no signature (a builtin): call it the documented way
        takes_context = True
    if not takes_context:

        def call(inputs, context):
            return fn(inputs)

    if inspect.iscoroutinefunction(fn):
        import asyncio

        # One loop for the worker's life, so what the handler created at import can be reused.
        loop = asyncio.new_event_loop()
        inner = call

        def call(inputs, context):
            return loop.run_until_complete(inner(inputs, context))

    return call


class HandlerStatus(Exception):
    """A 2021-style handler answered ``statusCode`` 400-599: that status, its body the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def to_dict(self) -> dict:
        return {"type": "HandlerStatus", "message": str(self), "status": self.status}


def _event_style(handler):
    """``(call, ping)`` for the hosted service's 2021 style, ``handler(event, context)``.

    The hosted service called it with ``event == 'PING'`` for a GET and
    ``{'inputs': json.dumps(body)}`` for a POST, and it answers
    ``{'statusCode': ..., 'body': json.dumps(output)}``; ``_unwrap`` turns that answer into the
    output (or a :class:`HandlerStatus`).
    """

    def call(inputs, context):
        return _unwrap(handler({"inputs": json.dumps(inputs)}, context))

    def ping(context):
        return _unwrap(handler("PING", context))

    return call, ping


def _unwrap(answer):
    """The output inside a 2021 handler's ``{'statusCode', 'body'}`` answer."""
    status = answer.get("statusCode") if isinstance(answer, dict) else None
    if isinstance(status, bool) or not isinstance(status, int):
        raise TypeError(
            f"handler(event, context) returned {type(answer).__name__} without an integer "
            "statusCode; return {'statusCode': 200, 'body': json.dumps(output)}."
        )
    body = answer.get("body")
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    output = body
    if isinstance(body, str):
        try:
            output = json.loads(body)
        except ValueError:
            pass  # a plain-text body is the output (or the message) as it is
    if 200 <= status < 300:
        return output
    if 400 <= status < 600:
        message = output if isinstance(output, str) else _ENCODE(output)
        raise HandlerStatus(status, message or f"The handler answered statusCode {status}.")
    raise TypeError(
        f"handler(event, context) returned statusCode {status}; use 200 for an answer or "
        "400-599 for an error."
    )


def _watch_parent(parent_pid: int) -> None:
    """Kill this worker (and whatever its handler started) if the platform is gone."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os.killpg(os.getpgrp(), signal.SIGKILL)


def _describe(exc: BaseException) -> dict:
    message = str(exc) or type(exc).__name__
    return {"type": type(exc).__name__, "message": message}


def _load(channel: _Channel, args) -> tuple | None:
    """Import main.py and find its handler; report READY or LOAD_FAILED.

    Returns ``(call, ping, batch)``: ``call(inputs, context)`` answers a POST, ``ping(context)``
    a GET (None for a ``@hub_handler``, which a GET does not call), ``batch`` the options of a
    batch handler (None for others).
    """
    started = time.perf_counter()
    model_dir = os.environ.get("MODEL_DIR")
    failure = None
    handler = None
    if model_dir and not os.path.isdir(model_dir):
        failure = {
            "type": "LoadError",
            "message": f"The model folder of {args.api} is missing ({model_dir}); build and deploy the API again.",
        }
    elif not os.path.isfile("main.py"):
        failure = {
            "type": "LoadError",
            "message": f"{args.api} has no src/main.py; add one with a function marked @hub_handler and deploy again.",
        }
    else:
        try:
            module = importlib.import_module("main")
            import hub

            handlers = hub.registered_handlers()
            event_handler = getattr(module, "handler", None)
            if len(handlers) == 1:
                # batch: the options of @hub_handler(batch=True, ...), else None
                batch = getattr(handlers[0], "__hub_batch__", None)
                handler = (_callable_with_context(handlers[0]), None, batch)
            elif not handlers and callable(event_handler):
                handler = (*_event_style(_callable_with_context(event_handler)), None)
            elif not handlers:
                failure = {
                    "type": "LoadError",
                    "message": "src/main.py marks no function with @hub_handler; decorate your "
                    "inference function with it (from hub import hub_handler), or define "
                    "handler(event, context) in the hosted service's 2021 style.",
                }
            else:
                names = ", ".join(getattr(h, "__name__", "?") for h in handlers)
                failure = {
                    "type": "LoadError",
                    "message": f"src/main.py marks {len(handlers)} functions with @hub_handler "
                    f"({names}); keep it on exactly one.",
                }
        except BaseException as exc:  # noqa: BLE001 - anything at import is the user's load error
            if isinstance(exc, SystemExit) and exc.code in (None, 0):
                exc = RuntimeError("main.py called sys.exit() while being imported")
            import traceback

            tb = traceback.TracebackException.from_exception(exc)
            # Start at the user's code: the worker's and importlib's frames say nothing to them.
            src = os.getcwd() + os.sep
            if any(frame.filename.startswith(src) for frame in tb.stack):
                while not tb.stack[0].filename.startswith(src):
                    del tb.stack[0]
            sys.stderr.write("".join(tb.format()))
            failure = {
                "type": "LoadError",
                "message": f"Importing src/main.py failed: {type(exc).__name__}: {exc}",
            }
    sys.stdout.end_of_invocation()  # type: ignore[attr-defined]
    sys.stderr.end_of_invocation()  # type: ignore[attr-defined]
    if failure:
        channel.send(P.LOAD_FAILED, json.dumps(failure).encode())
        return None
    info = {"pid": os.getpid(), "import_seconds": time.perf_counter() - started}
    if handler[1] is not None:
        info["ping"] = True  # the engine then sends a GET on as a ping (an empty INVOKE)
    if handler[2] is not None:
        info["batch"] = handler[2]  # the engine then sends BATCH frames (see _serve_batch)
    # -- fork (fork helper): the warm-up call, and whether a template may fork --
    if args.warmup or args.template:
        from hub import _template

        failure = _template.before_ready(channel, handler, args, info)
        if failure is not None:
            channel.send(P.LOAD_FAILED, json.dumps(failure).encode())
            return None
    # -- end fork --
    channel.send(P.READY, json.dumps(info).encode())
    return handler


def _traceback_text(exc: BaseException) -> str:
    """``exc``'s traceback, starting in the user's code (our own frames dropped)."""
    try:
        import traceback
    except OSError:  # -- tenants: no descriptor left to read traceback.py (RLIMIT_NOFILE) --
        return f"{type(exc).__name__}: {exc}\n"

    tb = traceback.TracebackException.from_exception(exc)
    while tb.stack and tb.stack[0].filename == __file__:
        del tb.stack[0]
    return "".join(tb.format())


def _encoded(result) -> tuple[int, bytes]:
    """``(RESULT, json)`` for an output, or ``(ERROR, OutputNotJSON)`` when JSON cannot carry it."""
    try:
        return P.RESULT, encode_output(result)
    except (TypeError, ValueError, RecursionError) as exc:
        msg = str(exc)
        if not msg.startswith("The handler"):
            msg = f"The handler's output cannot be encoded as JSON: {msg}."
        return P.ERROR, json.dumps({"type": "OutputNotJSON", "message": msg}).encode()


class _Streamer:
    """Sends a generator handler's outputs as ITEM frames, then END (or ERROR when it raises)."""

    def __init__(self, channel: _Channel) -> None:
        self.channel = channel
        self.loop = None  # for async generators, made at the first one

    def stream(self, result, err) -> tuple[int, bytes]:
        """Run the generator ``result`` to its end; the frame that ends the stream."""
        send = self.channel.send
        if isinstance(result, types.AsyncGeneratorType):
            if self.loop is None:
                import asyncio

                self.loop = asyncio.new_event_loop()
            step = result.__anext__
            run = self.loop.run_until_complete
            done: type[BaseException] = StopAsyncIteration

            def advance():
                return run(step())

        else:
            advance = result.__next__
            done = StopIteration
        while True:
            try:
                item = advance()
            except done:
                return P.END, b""
            except HandlerStatus as exc:
                return P.ERROR, json.dumps(exc.to_dict()).encode()
            except Exception as exc:  # noqa: BLE001 - the user's exception ends the stream
                err.write(_traceback_text(exc))
                return P.ERROR, json.dumps(_describe(exc)).encode()
            kind, data = _encoded(item)
            if kind == P.ERROR:
                if isinstance(result, types.GeneratorType):
                    result.close()
                return kind, data
            send(P.ITEM, data)


_STREAMS = (types.GeneratorType, types.AsyncGeneratorType)


def _serve(channel: _Channel, handler: tuple, args) -> None:
    """Answer INVOKE (or BATCH) frames one at a time until the engine closes the socket.

    An INVOKE with an empty body is a ping (a GET; a POST body is never empty): it calls the
    2021-style handler with ``'PING'`` and answers an empty RESULT for a ``@hub_handler``. A
    handler that returns a generator streams: ITEM frames, then END.
    """
    call, ping, batch = handler
    model_dir = os.environ.get("MODEL_DIR")
    timeout = args.timeout or None
    out, err = sys.stdout, sys.stderr
    loads = decode_input
    streamer = _Streamer(channel)
    while True:
        message = channel.receive()
        if message is None:
            return
        kind, payload = message
        if kind == P.BATCH:
            _serve_batch(channel, call, P.parse_batch(payload), args, model_dir, timeout)
            continue
        if kind != P.INVOKE:
            continue
        (id_len,) = P.ID_LEN.unpack_from(payload)
        invocation_id = payload[2 : 2 + id_len].decode()
        body = payload[2 + id_len :]
        context = Context(invocation_id, args.api, model_dir, timeout)
        if not body and ping is None:
            channel.send(P.RESULT, b"")
            continue
        try:
            inputs = loads(body) if body else None
        except ValueError as exc:
            reply = {
                "type": "InvalidJSON",
                "message": f"The request body is not valid JSON: {exc}.",
            }
            channel.send(P.ERROR, json.dumps(reply).encode())
            continue
        try:
            result = call(inputs, context) if body else ping(context)
            if batch is not None:  # a batch handler sent a lone INVOKE: a batch of one
                result = _one_of_batch(result)
        except HandlerStatus as exc:  # a 2021 handler answered an error status: no traceback
            kind_out, data = P.ERROR, json.dumps(exc.to_dict()).encode()
        except Exception as exc:  # noqa: BLE001 - the user's exception is the answer
            err.write(_traceback_text(exc))
            kind_out, data = P.ERROR, json.dumps(_describe(exc)).encode()
        else:
            if isinstance(result, _STREAMS):
                kind_out, data = streamer.stream(result, err)
            else:
                kind_out, data = _encoded(result)
        out.end_of_invocation()
        err.end_of_invocation()
        channel.send(kind_out, data)


def _one_of_batch(result):
    if not isinstance(result, (list, tuple)) or len(result) != 1:
        raise _batch_shape_error(result, 1)
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


class BatchOutputError(Exception):
    """A batch handler's answer that is not one output per input."""


def _batch_shape_error(result, count: int) -> BatchOutputError:
    if isinstance(result, (list, tuple)):
        got = f"a list of {len(result)} outputs"
    else:
        got = f"{type(result).__name__}, not a list"
    return BatchOutputError(
        f"The batch handler returned {got} for {count} inputs; return a list with one output "
        "per input, in the same order (an exception object in the list fails only its request)."
    )


def _serve_batch(channel: _Channel, call, items: list, args, model_dir, timeout) -> None:
    """Call a batch handler once for the requests of a BATCH frame; answer each, in order.

    A request whose body is not JSON fails alone (it is not passed to the handler). The handler
    raising, or returning anything but a list of one output per input, fails every request of
    the batch (no output could be matched to its input); an exception object in the list fails
    only its own request, and an output JSON cannot carry only its own. Lines printed during
    the call belong to every request of the batch (the engine attributes them so); a failed
    item's traceback goes to its own request only.
    """
    out, err = sys.stdout, sys.stderr
    answers: list = [None] * len(items)
    inputs, contexts, slots = [], [], []
    for index, (invocation_id, body) in enumerate(items):
        try:
            inputs.append(decode_input(body))
        except ValueError as exc:
            reply = {
                "type": "InvalidJSON",
                "message": f"The request body is not valid JSON: {exc}.",
            }
            answers[index] = (P.ERROR, json.dumps(reply).encode())
            continue
        contexts.append(Context(invocation_id, args.api, model_dir, timeout))
        slots.append(index)
    failure = None
    if slots:
        try:
            results = call(inputs, contexts)
            if not isinstance(results, (list, tuple)) or len(results) != len(slots):
                raise _batch_shape_error(results, len(slots))
        except Exception as exc:  # noqa: BLE001 - the user's exception answers the whole batch
            if not isinstance(exc, BatchOutputError):
                err.write(_traceback_text(exc))
            failure = (P.ERROR, json.dumps(_describe(exc)).encode())
        else:
            for position, index in enumerate(slots):  # (no zip(strict=): Python 3.9)
                result = results[position]
                if isinstance(result, BaseException):
                    # Its traceback if it was raised, else its one line, in its request's logs.
                    if result.__traceback__ is not None:
                        text = _traceback_text(result)
                    else:
                        text = f"{type(result).__name__}: {result}\n"
                    channel.send(P.LOG_ONE_STDERR, P.log_one_payload(items[index][0], text))
                    answers[index] = (P.ERROR, json.dumps(_describe(result)).encode())
                else:
                    answers[index] = _encoded(result)
    out.end_of_invocation()
    err.end_of_invocation()
    for answer in answers:
        kind, data = answer if answer is not None else failure
        channel.send(kind, data)


class _Args:
    fd: int
    api = "api"
    timeout = 0.0
    warmup = False  # the engine sends a warm-up INVOKE first (runtime.warmup): hub._template
    template = False  # load, then fork the workers instead of serving (hub._template)


def _parse_args(argv: list[str]) -> _Args:
    """``--fd N --api user/name --timeout S`` (argparse would add to every cold start)."""
    args = _Args()
    # (No zip(strict=...): the worker also runs on the API's Python, which may be older.)
    options = {argv[i]: argv[i + 1] for i in range(0, len(argv) - 1, 2)}
    try:
        args.fd = int(options["--fd"])
        args.api = options.get("--api", args.api)
        args.timeout = float(options.get("--timeout", 0.0))
        args.warmup = options.get("--warmup") == "1"
        args.template = options.get("--template") == "1"
    except (KeyError, ValueError):
        sys.exit("usage: python -m hub._worker --fd N [--api USER/NAME] [--timeout SECONDS]")
    return args


def main(argv: list[str] | None = None) -> None:
    """Entry point of a worker process."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)

    channel = _Channel(args.fd)
    threading.Thread(
        target=_watch_parent, args=(os.getppid(),), name="hub-parent-watch", daemon=True
    ).start()
    # A segfault in native code dumps the Python stack to the stderr pipe (the API's logs),
    # and no core file lands in the API's source folder.
    faulthandler.enable(file=sys.__stderr__ or sys.stderr)
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    except (ImportError, ValueError, OSError):
        pass
    sys.stdout = _LogStream(channel, P.LOG_STDOUT, 1)
    sys.stderr = _LogStream(channel, P.LOG_STDERR, 2)
    src = os.getcwd()
    if not sys.path or sys.path[0] not in (src, ""):
        sys.path.insert(0, src)

    handler = _load(channel, args)
    if handler is None:
        return
    try:
        # -- fork (fork helper): a template that may fork forks the workers instead of serving
        if args.template:
            from hub import _template

            if _template.forkable:
                _template.run(channel, handler, args)
                return
        # -- end fork --
        _serve(channel, handler, args)
    except (BrokenPipeError, ConnectionResetError):
        pass


if __name__ == "__main__":
    # Run the module's one copy, ``hub._worker``: hub._template imports it by that name, and
    # two copies would have two HandlerStatus classes (a forked worker would then miss a 2021
    # handler's error status and answer 500).
    from hub import _worker

    _worker.main()
