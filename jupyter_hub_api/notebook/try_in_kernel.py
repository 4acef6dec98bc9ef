"""Try in kernel: run a project's handler in the notebook kernel before any build.

JupyterLab's "Try in kernel" (the wizard's Review step and ``src/main.py``'s editor) executes
one call of :func:`main` in a kernel of its own, with the text of ``main.py`` as the editor holds
it (unsaved edits too), the project's paths and the JSON body the user wrote. The answer is one
``display_data`` message of the MIME type :data:`MIME` carrying the JSON result (see
:func:`run`), which the frontend reads as it is: nothing is scraped from printed text.

The handler is loaded and called by the deployed worker's own code, ``hub._worker._load`` and
``hub._worker._serve``, over an in-memory channel instead of the engine's socket: the same
handler discovery (one ``@hub_handler``, or the hosted service's 2021 ``handler(event, context)``
with ``event['inputs']`` a JSON string and a ``{'statusCode', 'body'}`` answer), the same
batch (a BATCH frame of one request, as the engine sends), generator, error and JSON-encoding
rules. Around it, as a worker has it: ``MODEL_DIR`` names the model folder, ``src/`` is the
working directory and first on ``sys.path``, and ``main`` (with the project's other modules
under ``src/``) is imported afresh for every run.

For the wizard, where nothing is written yet, the project is staged in a temporary folder: the
template's files (as ``hub init`` lays them down) with the editor's ``main.py``, and ``model/``
holding symbolic links to the chosen model files under the names ``hub init`` copies them to.
"""

from __future__ import annotations

import json
import linecache
import os
import shutil
import sys
import tempfile
import time
import uuid
from importlib.abc import MetaPathFinder, SourceLoader
from importlib.util import spec_from_file_location
from pathlib import Path

MIME = "application/vnd.jupyter-hub-api.try+json"
"""The MIME type of the result the frontend reads (a display_data message)."""

VERSION = 1
"""The version of the request and result shapes (the frontend checks it)."""


class TryError(Exception):
    """A request that cannot be run (bad paths, bad body): its one-sentence message."""


def main(request: dict) -> None:
    """Run ``request`` (see :func:`run`) and display the result as :data:`MIME`."""
    display_result(run(**request))


def display_result(result: dict) -> None:
    from IPython.display import display

    display({MIME: result}, raw=True)


def run(
    source: str,
    body: str,
    project: str = "",
    session_dir: str = "",
    name: str = "",
    template: str = "",
    model_files: list[str] = (),
    version: int = VERSION,
) -> dict:
    """One call of the handler in ``source`` on the JSON text ``body``.

    ``project`` is the project's folder relative to the server root (for the editor); for the
    wizard it is empty and ``template`` / ``model_files`` (server-relative paths) describe the
    project to stage. ``session_dir`` is the folder, relative to the server root, that the
    kernel was started in (the kernel's working directory), from which the root is found.

    Returns ``{"version", "status", ...}``; status is ``ok`` (``output``, ``streamed``),
    ``error`` (the handler raised or answered an error: ``error`` {type, message[, status]}
    and ``traceback``), ``load_failed`` (importing main.py failed: ``error``, ``traceback``),
    ``bad_request`` (``error``; nothing ran) or ``interrupted``. Every result also has
    ``stdout`` and ``stderr`` (what the handler printed), ``load_seconds`` and
    ``call_seconds``, ``model_dir``, ``src_dir``, ``handler_style`` and ``python``.
    """
    result: dict = {
        "version": VERSION,
        "status": "bad_request",
        "stdout": "",
        "stderr": "",
        "load_seconds": None,
        "call_seconds": None,
        "model_dir": None,
        "src_dir": None,
        "handler_style": None,
        "python": sys.executable,
        "traceback": None,
    }
    staging = None
    try:
        if version != VERSION:
            raise TryError(
                f"This kernel's jupyter-hub-api speaks version {VERSION} of Try in kernel, the "
                f"page version {version}; install the same jupyter-hub-api in the kernel's "
                "environment as the server has."
            )
        text = body if isinstance(body, str) else ""
        if not text.strip():
            raise TryError("The body is empty; write a JSON value, e.g. [[5.1, 3.5, 1.4, 0.2]].")
        try:
            json.loads(text)
        except ValueError as exc:
            raise TryError(f"The body is not valid JSON: {exc}.") from None
        root = _server_root(session_dir)
        if project:
            folder = _inside(root, project, "The project folder")
            if not folder.is_dir():
                raise TryError(f"The project folder {project} does not exist.")
            src, model_dir = folder / "src", folder / "model"
            api_name = _project_name(folder)
        else:
            staging = Path(tempfile.mkdtemp(prefix="hub-try-"))
            src, model_dir = _stage(staging, root, template, model_files, source)
            api_name = name or "new-api"
        if not src.is_dir():
            raise TryError(f"{src} does not exist; a project keeps main.py in its src/ folder.")
        result["src_dir"], result["model_dir"] = str(src), str(model_dir)
        _call(result, str(src.resolve()), str(model_dir), source, text, api_name)
    except TryError as exc:
        result["status"] = "bad_request"
        result["error"] = {"type": "BadRequest", "message": str(exc)}
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return result


def _server_root(session_dir: str) -> Path:
    """The server root: the kernel's working directory without ``session_dir``'s parts."""
    cwd = Path.cwd()
    parts = [p for p in session_dir.strip("/").split("/") if p]
    root = cwd
    for part in reversed(parts):
        if root.name != part:
            raise TryError(
                f"The kernel's working directory {cwd} is not the folder {session_dir} it was "
                "started in; restart the Try in kernel kernel."
            )
        root = root.parent
    return root


def _inside(root: Path, relative: str, what: str) -> Path:
    path = (root / relative).resolve()
    if path != root.resolve() and root.resolve() not in path.parents:
        raise TryError(f"{what} {relative} is outside the server's root folder.")
    return path


def _project_name(folder: Path) -> str:
    try:
        config = json.loads((folder / "hub_config.json").read_text(encoding="utf-8"))
        return str(config.get("name") or folder.name)
    except (OSError, ValueError, AttributeError):
        return folder.name


def _stage(staging: Path, root: Path, template: str, model_files, source: str):
    """The wizard's project, laid out as ``hub init`` would, in ``staging``: (src, model)."""
    from ..errors import HubError
    from ..project import scaffold

    if template not in scaffold.TEMPLATES:
        raise TryError(
            f"There is no template {template!r}; choose one of {', '.join(scaffold.TEMPLATES)}."
        )
    scaffold._copy_tree(scaffold.TEMPLATES_DIR / "_shared", staging)
    scaffold._copy_tree(scaffold.TEMPLATES_DIR / template, staging)
    src, model_dir = staging / "src", staging / "model"
    src.mkdir(exist_ok=True)
    (src / "main.py").write_text(source, encoding="utf-8")
    model_dir.mkdir()
    paths = [_inside(root, given, "The model file") for given in model_files]
    try:
        planned = scaffold._plan_model_files(paths)
    except HubError as exc:
        raise TryError(str(exc)) from None
    for rel, path in planned:  # links, not copies: the same names and bytes as model/ will have
        dest = model_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(path, dest)
    return src, model_dir


class _Channel:
    """The worker's protocol socket, in memory: the frames to receive, the frames sent."""

    def __init__(self) -> None:
        self.incoming: list[tuple[int, bytes]] = []
        self.sent: list[tuple[int, bytes]] = []

    def send(self, kind: int, payload: bytes) -> None:
        self.sent.append((kind, bytes(payload)))

    def receive(self):
        return self.incoming.pop(0) if self.incoming else None


class _MainFinder(MetaPathFinder):
    """Imports ``main`` from the editor's text, as if it were ``src/main.py`` on disk."""

    def __init__(self, path: str, source: str) -> None:
        self.path, self.source = path, source

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "main":
            return None
        return spec_from_file_location(
            "main", self.path, loader=_TextLoader(self.path, self.source)
        )


class _TextLoader(SourceLoader):
    def __init__(self, path: str, source: str) -> None:
        self.path, self.source = path, source

    def get_filename(self, fullname):
        return self.path

    def get_data(self, path):
        if path == self.path:
            return self.source.encode("utf-8")
        with open(path, "rb") as file:
            return file.read()


def _forget_modules(src: str) -> None:
    """Drop ``main`` and every module loaded from ``src``, so the next import is fresh."""
    prefix = src + os.sep
    for module_name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if module_name == "main" or (isinstance(file, str) and file.startswith(prefix)):
            del sys.modules[module_name]


def _call(result: dict, src: str, model_dir: str, source: str, body: str, api_name: str) -> None:
    """Load main.py and call its handler once with the worker's own code (see the module doc)."""
    import hub
    from hub import _protocol as P
    from hub import _worker as W

    main_path = os.path.join(src, "main.py")
    saved_cwd = os.getcwd()
    saved_path = list(sys.path)
    saved_out, saved_err = sys.stdout, sys.stderr
    saved_env = os.environ.get("MODEL_DIR")
    saved_handlers = list(hub._handlers)
    saved_lines = linecache.cache.get(main_path)
    finder = _MainFinder(main_path, source)
    channel = _Channel()
    args = W._Args()
    args.api = f"try/{api_name}"
    args.timeout = 0.0
    stage = "load"
    started = time.perf_counter()
    try:
        os.environ["MODEL_DIR"] = model_dir
        os.chdir(src)
        if sys.path[:1] != [src]:
            sys.path.insert(0, src)
        _forget_modules(src)
        hub._handlers.clear()
        sys.meta_path.insert(0, finder)
        # Tracebacks show the editor's lines, not the file's (which may be older).
        linecache.cache[main_path] = (
            len(source),
            None,
            source.splitlines(keepends=True),
            main_path,
        )
        sys.stdout = W._LogStream(channel, P.LOG_STDOUT, 1)
        sys.stderr = W._LogStream(channel, P.LOG_STDERR, 2)
        handler = W._load(channel, args)
        result["load_seconds"] = time.perf_counter() - started
        if handler is None:
            result["status"] = "load_failed"
            _collect(result, channel.sent, P)
            return
        call, ping, batch = handler
        if batch is not None:
            result["handler_style"] = "batch"
        elif ping is not None:
            result["handler_style"] = "event"
        else:
            result["handler_style"] = "hub_handler"
        invocation_id = f"try-{uuid.uuid4().hex[:12]}"
        data = body.encode("utf-8")
        if batch is not None:  # the engine sends a batch handler BATCH frames (here: one request)
            channel.incoming.append(
                (P.BATCH, P.batch_frame([(invocation_id, data)])[P.HEADER_SIZE :])
            )
        else:
            channel.incoming.append(
                (P.INVOKE, P.invoke_frame(invocation_id, data)[P.HEADER_SIZE :])
            )
        stage = "call"
        called = time.perf_counter()
        W._serve(channel, handler, args)
        result["call_seconds"] = time.perf_counter() - called
        _collect(result, channel.sent, P)
    except BaseException as exc:  # noqa: BLE001 - Ctrl-C (interrupt) or sys.exit() in the user's code
        now = time.perf_counter()
        if stage == "load":
            result["load_seconds"] = now - started
        else:
            result["call_seconds"] = now - called
        _collect(result, channel.sent, P)
        if isinstance(exc, KeyboardInterrupt):
            result["status"] = "interrupted"
            result["error"] = {
                "type": "KeyboardInterrupt",
                "message": "The kernel was interrupted while the handler ran.",
            }
        else:
            result["status"] = "error" if stage == "call" else "load_failed"
            result["error"] = W._describe(exc)
            result["traceback"] = W._traceback_text(exc)
    finally:
        sys.stdout, sys.stderr = saved_out, saved_err
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
        _forget_modules(src)
        hub._handlers[:] = saved_handlers
        if saved_lines is None:
            linecache.cache.pop(main_path, None)
        else:
            linecache.cache[main_path] = saved_lines
        sys.path[:] = saved_path
        os.chdir(saved_cwd)
        if saved_env is None:
            os.environ.pop("MODEL_DIR", None)
        else:
            os.environ["MODEL_DIR"] = saved_env


def _collect(result: dict, frames, P) -> None:
    """Fill ``result`` from the frames the worker's code sent."""
    out: list[str] = []
    err: list[str] = []
    items: list = []
    for kind, payload in frames:
        if kind == P.LOG_STDOUT:
            out.append(payload.decode("utf-8", "replace"))
        elif kind == P.LOG_STDERR:
            err.append(payload.decode("utf-8", "replace"))
        elif kind == P.LOG_ONE_STDERR:  # a batch item's own traceback
            (id_len,) = P.ID_LEN.unpack_from(payload)
            err.append(payload[P.ID_LEN.size + id_len :].decode("utf-8", "replace"))
        elif kind == P.LOAD_FAILED or kind == P.ERROR:
            result["status"] = "load_failed" if kind == P.LOAD_FAILED else "error"
            result["error"] = json.loads(payload)
            # The worker writes the traceback to stderr just before the error: show it apart.
            if err and err[-1].startswith("Traceback (most recent call last):"):
                result["traceback"] = err.pop()
        elif kind == P.RESULT:
            result["status"] = "ok"
            result["output"] = json.loads(payload) if payload else None
            result["streamed"] = False
        elif kind == P.ITEM:
            items.append(json.loads(payload))
        elif kind == P.END:  # a generator handler: its outputs, as one JSON list
            result["status"] = "ok"
            result["output"] = items
            result["streamed"] = True
    if items and result.get("status") == "error":
        result["output"] = items  # what the stream sent before it failed
        result["streamed"] = True
    result["stdout"] = "".join(out)
    result["stderr"] = "".join(err)
