"""The worker's start-up extras: the warm-up call, and the template that forks loaded workers.

Run by ``hub._worker`` (the API's own Python: the standard library only, 3.9 and later).

**Warm-up** (``--warmup 1``, from ``runtime.warmup`` in ``hub_config.json``): once ``main.py``
is imported, the engine's first frame is an INVOKE with the warm-up input; the handler is
called with it exactly as for a request (a batch handler with a list of one, a generator run to
its end, the output encoded), before READY. So lazy imports, caches and first-inference set-up
are paid before the deploy switches to the version. A failure is the version's load error.

**Template** (``--template 1``): the process imports ``main.py`` (and warms up) like a worker,
then checks that it can be forked safely (no thread of the handler's alive, CUDA not
initialised). If it cannot, READY says why (``fork_problem``) and it serves as an ordinary
worker. If it can, READY says ``template`` and it serves FORK frames instead: each brings, as
``SCM_RIGHTS`` descriptors, a new worker's protocol socket and its stdout and stderr pipes.
The template forks; the child becomes a process group of its own, takes those descriptors as
its channel and fd 1 and 2, sends its READY with ``SCM_CREDENTIALS`` (so the engine learns
its pid as seen outside the sandbox's PID namespace) and runs the ordinary serve loop, sharing
every page the import made with the template until it writes to it (copy-on-write). The
template reaps its children and reports each exit status as a CHILD_EXIT frame.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import types

from hub import _protocol as P

# Frames of the template, beside hub._protocol's (kinds that protocol does not use).
FORK = 0x46  # engine -> template: fork one worker (3 descriptors attached: socket, out, err)
CHILD_EXIT = 0x58  # template -> engine: {"id": <the FORK's id>, "pid", "code": <exit code>}

_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid

#: Set by :func:`before_ready` in a template that may fork (else it serves as a worker).
forkable = False
_ready_info: dict = {}  # the template's READY, which its children's READY repeats


def before_ready(channel, handler: tuple, args, info: dict) -> dict | None:
    """Run the warm-up call (``args.warmup``) and, in a template, the fork-safety check; add
    what they found to READY's ``info``. Returns a LOAD_FAILED payload when the warm-up failed."""
    global forkable, _ready_info
    _ready_info = info
    if args.warmup:
        started = time.perf_counter()
        failure = _warm_up(channel, handler, args)
        if failure is not None:
            return failure
        info["warmup_seconds"] = time.perf_counter() - started
    if args.template:
        problem = fork_problem()
        if problem is None:
            forkable = True
            info["template"] = True
        else:
            info["fork_problem"] = problem
    return None


def _warm_up(channel, handler: tuple, args) -> dict | None:
    """Receive the warm-up INVOKE and call the handler with it; a LOAD_FAILED payload if it fails."""
    from hub import _worker as W
    from hub.context import Context

    message = channel.receive()
    if message is None:
        return None  # the engine went away: the serve loop will see it too
    kind, payload = message
    (id_len,) = P.ID_LEN.unpack_from(payload)
    body = bytes(payload[2 + id_len :])
    call = handler[0]
    batch = handler[2] if len(handler) > 2 else None
    what = "The warm-up call (runtime.warmup.input in hub_config.json)"
    try:
        inputs = json.loads(body)
        context = Context("warmup", args.api, os.environ.get("MODEL_DIR"), args.timeout or None)
        result = call([inputs] if batch is not None else inputs, context)
        if isinstance(result, types.GeneratorType):
            for _ in result:
                pass
        elif isinstance(result, types.AsyncGeneratorType):
            import asyncio

            async def drain(gen):
                async for _ in gen:
                    pass

            asyncio.new_event_loop().run_until_complete(drain(result))
        else:
            W.encode_output(result)
    except Exception as exc:  # noqa: BLE001 - the user's exception is the load error
        import traceback

        sys.stderr.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        message = str(exc) or type(exc).__name__
        return {
            "type": "LoadError",
            "message": f"{what} failed: {type(exc).__name__}: {message}; fix the handler or "
            "the warm-up input, or remove runtime.warmup.",
        }
    finally:
        sys.stdout.end_of_invocation()  # type: ignore[attr-defined]
        sys.stderr.end_of_invocation()  # type: ignore[attr-defined]
    return None


def fork_problem() -> str | None:
    """Why this loaded process must not be forked (None when it may be)."""
    if not hasattr(socket, "SCM_CREDENTIALS") or not hasattr(socket, "recv_fds"):
        return "this system cannot pass a forked worker's identity to the platform"
    ours = {t for t in threading.enumerate() if t.name.startswith("hub-")}
    others = [
        t for t in threading.enumerate() if t is not threading.main_thread() and t not in ours
    ]
    if others:
        names = ", ".join(sorted({t.name for t in others}))
        return (
            f"main.py left {len(others)} thread(s) running after its import ({names}); a forked "
            "worker would not have them"
        )
    try:  # threads C code started (TensorFlow's pools, ...) are not in threading.enumerate()
        native = len(os.listdir("/proc/self/task")) - len(threading.enumerate())
    except OSError:
        native = 0
    if native > 0:
        return (
            f"main.py left {native} thread(s) of compiled code running after its import; a "
            "forked worker would not have them"
        )
    children = _children()
    if children:
        return (
            f"main.py started {len(children)} process(es) at import that are still running; "
            "each worker would not have its own"
        )
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    try:
        if cuda is not None and cuda.is_initialized():
            return "CUDA was initialised during the import; CUDA cannot be used after a fork"
    except Exception:  # noqa: BLE001 - a broken torch install is not ours to judge
        pass
    try:
        with open("/proc/self/maps") as maps:
            if "libcuda.so" in maps.read():
                return (
                    "the CUDA driver was loaded during the import; CUDA cannot be used after a fork"
                )
    except OSError:
        pass
    return None


def _become_subreaper() -> None:
    """Make orphans of this process's descendants its children (Linux's PR_SET_CHILD_SUBREAPER)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _children() -> list[str]:
    """The pids of this process's children (empty where /proc does not list them)."""
    found: list[str] = []
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as f:
                found += f.read().split()
    except OSError:
        pass
    return found


def run(channel, handler: tuple, args) -> None:
    """Serve FORK frames until the engine closes the socket (then the children end too)."""
    import select

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    _become_subreaper()
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a Python handler, so the wake-up fd fires
    signal.set_wakeup_fd(wake_w)
    sock = channel.sock
    buffer = b""
    descriptors: list[int] = []
    scratch: dict[int, tuple] = {}  # child pid -> (the engine's id of it, its private TMPDIR)
    count = 0
    while True:
        try:
            readable, _, _ = select.select([sock, wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in readable:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
            _reap(channel, scratch)
        if sock not in readable:
            continue
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, 65536, 16)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            data, fds = b"", []
        descriptors += fds
        if not data:
            return  # the engine closed the socket: retire (the sandbox ends the children)
        buffer += data
        while len(buffer) >= P.HEADER_SIZE:
            kind, size = P.HEADER.unpack_from(buffer)
            if len(buffer) < P.HEADER_SIZE + size:
                break
            request = buffer[P.HEADER_SIZE : P.HEADER_SIZE + size]
            buffer = buffer[P.HEADER_SIZE + size :]
            if kind != FORK or len(descriptors) < 3:
                continue
            child_id = json.loads(request).get("id")
            mine, descriptors = descriptors[:3], descriptors[3:]
            count += 1
            pid = os.fork()
            if pid == 0:
                _child(channel, handler, args, _ready_info, mine, (wake_r, wake_w), count)
            for fd in mine:
                os.close(fd)
            tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"worker-{count}")  # noqa: S108
            scratch[pid] = (child_id, tmp)


def _reap(channel, scratch: dict[int, tuple]) -> None:
    """Collect the exit status of every child that ended and report it."""
    import shutil

    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            break
        if os.WIFSIGNALED(status):
            code = -os.WTERMSIG(status)
        else:
            code = os.WEXITSTATUS(status)
        if pid not in scratch:
            continue  # a process a dead worker left behind, which _reap killed
        child_id, tmp = scratch.pop(pid)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        try:
            report = {"id": child_id, "pid": pid, "code": code}
            channel.send(CHILD_EXIT, json.dumps(report).encode())
        except OSError:
            return
    # What the handlers of ended workers started, even detached (setsid), was handed to the
    # template (a subreaper) when its worker ended: it ends now, as it would with a worker's
    # own sandbox. (Its own children come here in turn when it dies.)
    for pid in _children():
        if int(pid) not in scratch:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def _child(channel, handler, args, ready_info: dict, fds: list[int], wake, count: int) -> None:
    """The forked worker: its own group, descriptors, output streams; then the serve loop."""
    from hub import _worker as W

    try:
        os.setpgid(0, 0)  # a group of its own: the engine kills it (and what it starts) alone
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in wake:
            os.close(fd)
        template = os.getppid()
        sock_fd, out_fd, err_fd = fds
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.close(out_fd)
        os.close(err_fd)
        channel.sock.close()  # the template's channel is not this worker's
        mine = W._Channel(sock_fd)
        sys.stdout = W._LogStream(mine, P.LOG_STDOUT, 1)
        sys.stderr = W._LogStream(mine, P.LOG_STDERR, 2)
        # A private TMPDIR of its own (the sandbox's /tmp is the template's).
        tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"worker-{count}")  # noqa: S108
        os.makedirs(tmp, mode=0o700, exist_ok=True)
        os.environ["TMPDIR"] = tmp
        tempfile = sys.modules.get("tempfile")
        if tempfile is not None:
            tempfile.tempdir = None
        threading.Thread(
            target=W._watch_parent, args=(template,), name="hub-parent-watch", daemon=True
        ).start()
        info = {k: v for k, v in ready_info.items() if k not in ("template", "warmup_seconds")}
        info.update(pid=os.getpid(), import_seconds=0.0, forked=True)
        payload = json.dumps(info).encode()
        credentials = _CREDENTIALS.pack(os.getpid(), os.getuid(), os.getgid())
        mine.sock.sendmsg(
            [P.HEADER.pack(P.READY, len(payload)) + payload],
            [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, credentials)],
        )
        W._serve(mine, handler, args)
    except (BrokenPipeError, ConnectionResetError):
        pass
    except BaseException:  # noqa: BLE001 - say why on fd 2 (the API's logs), then end
        import traceback

        traceback.print_exc(file=sys.__stderr__)
    finally:
        os._exit(0)
