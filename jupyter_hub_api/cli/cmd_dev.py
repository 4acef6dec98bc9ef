"""``hub dev``: run the project on this machine, reloading when ``src/`` changes.

The project runs in its own environment (the one ``hub build`` makes, made now when missing)
through the platform's local engine, so it is loaded and called exactly as when deployed: the
same worker (``hub/_worker.py``), the same framing, the same errors. What the handler prints is
shown here, line by line, with its invocation id.

It answers on 127.0.0.1 only, without an API key:

- our wire format: ``GET /`` (loads the API: ``{"statusCode": 200, "body": {"status": "ready"}}``)
  and ``POST /`` with a JSON body (``{"statusCode": 200, "body": {"output": ...}}``);
- the path the hosted service's ``hub dev`` served, the AWS Lambda runtime interface emulator's
  ``POST /2015-03-31/functions/function/invocations``, whose body is the Lambda event the hosted
  handler received: ``"PING"`` for a GET, ``{"inputs": "<the request body as JSON text>"}`` for a
  POST. It answers as Lambda did: the handler's ``{"statusCode", "body": "<JSON text>"}``, or
  ``{"errorType", "errorMessage"}`` when the handler raised.

Changes are seen with ``watchfiles`` (inotify through Rust's ``notify``: no polling, changes
debounced into one reload, editors' temporary files and ``__pycache__`` ignored). A reload
starts a new version of the API in a new worker and stops the old one once its requests are
answered; a reload that fails keeps the last version that loaded serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import tempfile
import time
from pathlib import Path

import click

from .. import paths
from ..artifacts.builder import Project, validate_project
from ..artifacts.environments import Environment, ensure_environment
from ..errors import HubError, UsageError
from .common import make_output, path_options, project_path
from .output import Output

LAMBDA_PATH = "/2015-03-31/functions/function/invocations"
HOST = "127.0.0.1"  # never another interface: hub dev asks for no API key


@click.command(
    epilog=f"""\b
Examples:
  cd sentiment-analyser && hub dev
  hub dev -p ./sentiment-analyser --port 9000
  curl -X POST http://127.0.0.1:8080/ -d '"What a great day"'
  curl -X POST http://127.0.0.1:8080{LAMBDA_PATH} -d '{{"inputs": "\\"What a great day\\""}}'"""
)
@path_options
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8080,
    show_default=True,
    help="The port on 127.0.0.1 to answer on.",
)
def dev(path: str | None, path_option: str | None, port: int) -> None:
    """Run the project in PATH (default: the current folder) here, reloading on every change.

    Serves GET / and POST / (our wire format) and the hosted hub dev's Lambda path on
    127.0.0.1:PORT without an API key, prints what the handler prints, and reloads when a file
    of src/ changes. Ctrl-C stops it.
    """
    out = make_output(False)
    project = validate_project(project_path(path, path_option))
    with out.step("environment", "Preparing the Python environment"):
        env = ensure_environment(project.config["python"], project.requirements, out)
    sock = _bind(port)
    try:
        asyncio.run(DevServer(project, env, out).run(sock, port))
    finally:
        sock.close()


def _bind(port: int):
    from ..platform.server import bind

    try:
        return bind(HOST, port)
    except HubError as err:
        if err.type != "port_in_use":
            raise
        raise UsageError(
            f"Port {port} on {HOST} is already in use by another program.",
            type="port_in_use",
            hint=f"Choose another one, e.g. hub dev --port {port + 1}.",
        ) from None


class DevServer:
    """The engine running the project, the HTTP app in front of it and the file watcher."""

    def __init__(self, project: Project, env: Environment, out: Output) -> None:
        from ..platform.engines import create_engine

        self.project = project
        self.env = env
        self.out = out
        self.api = f"{paths.username()}/{project.config['name']}"
        self.engine = create_engine("local", on_log=self._on_log)
        self.live = None  # the VersionSpec being served
        self._versions = itertools.count(1)
        self._invocations = itertools.count(1)
        self._empty_model: tempfile.TemporaryDirectory | None = None
        self._stop: asyncio.Event | None = None
        self._retiring: set[asyncio.Task] = set()  # old versions finishing their requests

    # -- running ------------------------------------------------------------------------------
    async def run(self, sock, port: int) -> None:
        """Serve until Ctrl-C (SIGINT) or SIGTERM, then stop every worker."""
        import uvicorn

        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        config = uvicorn.Config(
            self.app, interface="asgi3", log_level="warning", access_log=False, lifespan="off"
        )
        server = _quiet_server(config)
        await self.engine.start()
        try:
            await self._switch(self.project, "Loading")
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            watching = asyncio.create_task(self._watch())
            base = f"http://{HOST}:{port}"
            self.out.console.print(
                f"\n[bold]Serving {self.project.config['name']}[/] at {base}/ (GET, POST) and "
                f"{base}{LAMBDA_PATH}\n[dim]No API key needed: it answers on {HOST} only. "
                "Reloads when src/ changes; Ctrl-C stops.[/]",
                highlight=False,
            )
            stopping = asyncio.create_task(self._stop.wait())
            done, _ = await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
            server.should_exit = True
            for task in (watching, stopping):
                task.cancel()
            await asyncio.gather(
                serving, watching, stopping, *self._retiring, return_exceptions=True
            )
            if serving in done and serving.exception():
                raise serving.exception()
        finally:
            await self.engine.stop()
            if self._empty_model is not None:
                self._empty_model.cleanup()
        self.out.console.print("Stopped hub dev; its workers have ended.")

    async def _watch(self) -> None:
        from watchfiles import awatch

        src = self.project.root / "src"
        async for changes in awatch(src, stop_event=self._stop):
            names = _changed_names(changes, src)
            if not names:
                continue  # only a temporary file came and went (an editor's, sed -i's)
            self.out.console.print(f"\n[bold cyan]↻[/] src/{', src/'.join(names)} changed")
            try:
                project = validate_project(self.project.root)
                if project.requirements != self.project.requirements:
                    self.env = await asyncio.to_thread(
                        ensure_environment, project.config["python"], project.requirements, self.out
                    )
            except HubError as err:
                self.out.error(err)
                self.out.console.print("[dim]Still serving the code that last loaded.[/]")
                continue
            await self._switch(project, "Reloading")

    async def _switch(self, project: Project, verb: str) -> None:
        """Load ``project`` as a new version; serve it if it loads (or if nothing else does)."""
        from ..platform.engines import VersionSpec
        from ..runtime_defaults import RUNTIME_DEFAULTS

        spec = VersionSpec(
            version_id=f"dev-{next(self._versions)}",
            api=self.api,
            src_dir=project.root / "src",
            model_dir=self._model_dir(project.root),
            python=self.env.python,
            **RUNTIME_DEFAULTS.updated(project.config["runtime"]).engine_options(),
        )
        await self.engine.deploy(spec)
        status = await self.engine.warm(spec.version_id)
        if status["state"] == "failed":
            self.out.error(
                UsageError(
                    f"{status['load_error'].rstrip('.')}.", hint="Fix it and save; hub dev reloads."
                )
            )
            if self.live is not None:
                self.out.console.print("[dim]Still serving the code that last loaded.[/]")
                await self.engine.undeploy(spec.version_id, drain=False)
                return
        else:
            self.out.console.print(
                f"[bold green]✓[/] {verb} {project.config['name']}: ready in "
                f"{status['load_seconds']:.2f} s (handler {project.handler}())"
            )
        old, self.live, self.project = self.live, spec, project
        if old is not None:  # requests already running on it are answered first
            task = asyncio.get_running_loop().create_task(self.engine.undeploy(old.version_id))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    def _model_dir(self, root: Path) -> Path:
        model = root / "model"
        if model.is_dir():
            return model
        if self._empty_model is None:  # a project without model/ still runs, with an empty one
            self._empty_model = tempfile.TemporaryDirectory(prefix="hub-dev-model-")
        return Path(self._empty_model.name)

    # -- logs ---------------------------------------------------------------------------------
    def _on_log(self, version_id: str, invocation_id: str | None, stream: str, line: str) -> None:
        console = self.out.err_console if stream == "stderr" else self.out.console
        stamp = time.strftime("%H:%M:%S")
        console.print(
            f"[dim]{stamp} {invocation_id or 'load':10}[/] {_escape(line)}", highlight=False
        )

    def _access(self, method: str, path: str, status: int, started: float, inv: str) -> None:
        ms = (time.perf_counter() - started) * 1000
        self.out.console.print(
            f"[dim]{time.strftime('%H:%M:%S')} {inv:10} {method} {path} → {status} "
            f"({ms:.1f} ms)[/]",
            highlight=False,
        )

    # -- HTTP ---------------------------------------------------------------------------------
    async def app(self, scope, receive, send) -> None:
        """The ASGI app: ``/`` in our wire format, the Lambda path as the emulator answered."""
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        method, path = scope["method"], scope["path"]
        body = await _read_body(receive)
        inv = f"dev-{next(self._invocations):06d}"
        if path == "/" and method in ("GET", "POST"):
            status, answer, headers = await self._wire(method, body, inv)
        elif path == LAMBDA_PATH and method == "POST":
            status, answer, headers = await self._lambda(body, inv)
        else:
            from ..platform.gateway import envelope_error

            status, headers = 404, []
            answer = envelope_error(
                404,
                "not_found",
                f"hub dev answers GET and POST on / and POST on {LAMBDA_PATH}; "
                f"not {method} {path}.",
            )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *headers],
            }
        )
        await send({"type": "http.response.body", "body": answer})
        self._access(method, path, status, started, inv)

    async def _wire(self, method: str, body: bytes, inv: str) -> tuple[int, bytes, list]:
        from ..platform.gateway import envelope_error, envelope_output

        version = self.live.version_id
        if method == "GET":
            status = await self.engine.warm(version)
            if status["state"] == "failed":
                return 500, envelope_error(500, "LoadError", status["load_error"]), []
            answer = {"status": "ready", "api": self.api, "version": self.project.config["version"]}
            if status.get("pings"):  # a 2021-style handler(event, context): called with 'PING'
                result = await self.engine.invoke(version, b"", inv)
                if not result.ok:
                    return _result_error(result, inv)
                answer["output"] = json.loads(result.output_json or b"null")
            return 200, _json({"statusCode": 200, "body": answer}), []
        if not body.strip():
            message = "The request body is empty; send a JSON value."
            return 400, envelope_error(400, "bad_json", message), []
        result = await self.engine.invoke(version, body, inv)
        if not result.ok:
            return _result_error(result, inv)
        return 200, envelope_output(result.output_json or b"null", inv), []

    async def _lambda(self, raw: bytes, inv: str) -> tuple[int, bytes, list]:
        try:
            event = json.loads(raw)
        except ValueError:
            event = None
        inputs = event.get("inputs") if isinstance(event, dict) else None
        if event == "PING":
            payload = b""
        elif isinstance(inputs, str) and inputs.strip():
            payload = inputs.encode()
        else:
            message = (
                'The Lambda event must be "PING" or {"inputs": "<the request body as JSON '
                'text>"}, as the hosted service sent it.'
            )
            return 400, _json({"errorType": "InvalidEvent", "errorMessage": message}), []
        result = await self.engine.invoke(self.live.version_id, payload, inv)
        if result.ok:
            output = result.output_json.decode() if result.output_json else '"PING RESPONSE"'
            return 200, _json({"statusCode": 200, "body": output}), []
        if result.http_status:  # a 2021 handler's own error answer, as it returned it
            answer = {"statusCode": result.http_status, "body": json.dumps(result.error_message)}
            return 200, _json(answer), []
        error = {
            "errorType": result.error_type or result.status,
            "errorMessage": result.error_message,
        }
        return 200, _json(error), [(b"x-amz-function-error", b"Unhandled")]


def _changed_names(changes, src: Path) -> list[str]:
    """The files of a batch of changes, without temporary ones that came and went."""
    from watchfiles import Change

    kinds: dict[str, set] = {}
    for change, path in changes:
        kinds.setdefault(Path(path).relative_to(src).as_posix(), set()).add(change)
    return sorted(n for n, k in kinds.items() if not {Change.added, Change.deleted} <= k)


def _quiet_server(config):
    """uvicorn's Server without its own signal handling (``hub dev`` handles Ctrl-C itself)."""
    import uvicorn

    class Server(uvicorn.Server):
        def capture_signals(self):
            return contextlib.nullcontext()

    return Server(config)


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _result_error(result, inv: str) -> tuple[int, bytes, list]:
    from ..platform.gateway import envelope_error

    code = result.http_code
    message = result.error_message or "The handler failed; see the lines above."
    return code, envelope_error(code, result.error_type or result.status, message, inv), []


def _json(value) -> bytes:
    return json.dumps(value).encode()


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
