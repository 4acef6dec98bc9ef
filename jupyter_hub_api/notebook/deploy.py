"""``deploy(model, predict, name=...)``: from objects in a notebook's kernel to a live API.

The project is an ordinary one, made by the same scaffold as ``hub init`` in
``<parent>/<name>/``: the model saved into ``model/`` (``model_files.py``), ``src/main.py``
written from ``predict`` (``handler_source.py``) and ``src/requirements.txt`` pinned to the
kernel's versions (``project/kernel_requirements.py``); the modules of the notebook's own
folder that the model or ``predict`` use are copied into ``src/``. It is then built and deployed by the
real CLI, ``hub build --deploy --json`` as a subprocess, whose events are shown in the cell as
they come. Deploying again rewrites those three files and deploys a new version, or nothing
when code and model did not change.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import HubError, UsageError
from ..events import decode
from ..project.kernel_requirements import imported_modules, kernel_requirements
from ..project.names import check_name
from .handler_source import MARKER, handler_source
from .model_files import MODEL_FILES, model_format, save_model

HUB_CLI = (sys.executable, "-m", "jupyter_hub_api.cli.main")


class DeployError(HubError):
    """A deploy from the notebook failed; its message is the one sentence to read.

    In IPython the cell shows only that sentence, not a traceback of this package's frames.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"DeployError: {self}"]


@dataclass
class Deployment:
    """An API deployed from a notebook: where it answers and which version is live."""

    name: str
    endpoint: str
    version: int  # the platform's version number (1, 2, ...)
    label: str  # hub_config.json's version label
    build_id: str
    project: Path
    unchanged: bool = False  # the build was live already: nothing was deployed
    requirements: list[str] = field(default_factory=list)
    _key: str | None = field(default=None, repr=False)

    def predict(self, inputs, timeout: float = 120):
        """POST ``inputs`` (any JSON value) to the API with your default key; its output.

        The call is the hosted guide's: an ``x-api-key`` header and the JSON body; the output
        is ``body.output`` of the answer. Raises :class:`DeployError` with the API's message
        when it answers with an error.
        """
        import httpx

        headers = {"x-api-key": self.key(), "Content-Type": "application/json"}
        try:
            resp = httpx.post(
                self.endpoint, headers=headers, content=json.dumps(inputs), timeout=timeout
            )
        except httpx.HTTPError as err:
            raise DeployError(f"{self.endpoint} could not be reached: {err}.") from None
        try:
            envelope = resp.json()
        except ValueError:
            envelope = {}
        body = envelope.get("body") if isinstance(envelope, dict) else None
        if resp.status_code != 200 or not isinstance(body, dict) or "output" not in body:
            error = (body or {}).get("error") or {}
            message = error.get("message") or resp.text[:300]
            raise DeployError(f"{self.name} answered {resp.status_code}: {message}")
        return body["output"]

    def key(self) -> str:
        """Your default API key (``hub keys reveal default``); keep it secret."""
        if self._key is None:
            proc = subprocess.run(  # noqa: S603 - argv list, no shell
                [*HUB_CLI, "keys", "reveal", "default"], capture_output=True, text=True
            )
            if proc.returncode != 0:
                raise DeployError(
                    f"Your default key could not be read: {proc.stderr.strip() or proc.stdout}"
                )
            self._key = proc.stdout.strip()
        return self._key

    def __repr__(self) -> str:
        state = "unchanged, " if self.unchanged else ""
        return f"<Deployment {self.name} version {self.version} ({state}live) at {self.endpoint}>"

    def _repr_html_(self) -> str:
        rows = [
            (
                "endpoint",
                f'<a href="{html.escape(self.endpoint)}">{html.escape(self.endpoint)}</a>',
            ),
            ("version", f"{self.version} ({html.escape(self.label)})"),
            ("build", html.escape(self.build_id[:12])),
            ("project", html.escape(str(self.project))),
            ("requirements", html.escape(", ".join(self.requirements) or "none")),
        ]
        cells = "".join(
            f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{v}</td></tr>"
            for k, v in rows
        )
        title = f"{html.escape(self.name)}: live" + (" (unchanged)" if self.unchanged else "")
        return f"<div><strong>{title}</strong><table>{cells}</table></div>"


def deploy(model, predict, name: str, *, parent: str | Path | None = None) -> Deployment:
    """Save ``model``, write ``main.py`` from ``predict(model, inputs)``, build and deploy.

    ``name`` is the API's name (lower-case letters, digits and ``-``); the project is
    ``<parent>/<name>/``, ``parent`` being the current folder (the notebook's) by default.
    Every log line of the build and the deploy is printed as it comes. Returns the
    :class:`Deployment`; raises :class:`DeployError` with one sentence when something fails
    (a lambda, a model that cannot be saved, a failed build), having changed nothing of an
    existing project then unless the build itself failed.
    """
    try:
        return _deploy(model, predict, name, Path(parent) if parent is not None else Path.cwd())
    except DeployError:
        raise
    except HubError as err:
        raise DeployError(str(err), type=err.type) from None


def _deploy(model, predict, name: str, parent: Path) -> Deployment:
    from ..project.scaffold import init_project

    check_name(name)
    fmt = model_format(model)
    main_py = handler_source(predict, model, fmt, name)
    local = _local_modules([*fmt.modules, *imported_modules(main_py)], Path.cwd())
    pins = kernel_requirements(main_py, modules=fmt.modules, local=local)
    project = parent.expanduser().resolve() / name
    if not project.exists():
        init_project(name, "blank", parent=project.parent)
    elif not _made_here(project):
        raise UsageError(
            f"{project} exists and is not a project made by deploy().",
            type="project_exists",
            hint="Choose another name or parent folder, or build that project with hub build.",
        )
    save_model(model, fmt, project / "model")
    for stale in MODEL_FILES:
        if stale != fmt.filename:
            (project / "model" / stale).unlink(missing_ok=True)
    _copy_local_modules(local, project / "src")
    (project / "src" / "main.py").write_text(main_py, encoding="utf-8")
    (project / "src" / "requirements.txt").write_text(pins.text, encoding="utf-8")
    _say(f"Project {project}: requirements {', '.join(pins.lines) or 'none'}")
    for module, why in pins.unresolved.items():
        _say(f"  not pinned: {module} ({why}); add it to src/requirements.txt if it is needed")
    result = _build_and_deploy(project)
    deployed = result.get("deploy") or {}
    deployment = Deployment(
        name=name,
        endpoint=result.get("endpoint") or deployed.get("endpoint", ""),
        version=deployed.get("version_number", 0),
        label=deployed.get("version", ""),
        build_id=deployed.get("build_id", ""),
        project=project,
        unchanged=bool(deployed.get("unchanged")),
        requirements=pins.lines,
    )
    if deployment.unchanged:
        _say(f"Unchanged: version {deployment.version} stays live at {deployment.endpoint}")
    else:
        _say(f"Live: version {deployment.version} at {deployment.endpoint}")
    return deployment


def _local_modules(modules: list[str], folder: Path) -> dict[str, Path]:
    """Those of ``modules`` whose code is a ``.py`` file or a package in ``folder`` (the
    notebook's): ``{name: file or package folder}``. They go into ``src/``, on a worker's path."""
    found: dict[str, Path] = {}
    folder = folder.resolve()
    for name in dict.fromkeys(modules):
        file = getattr(sys.modules.get(name), "__file__", None)
        if not file:
            continue
        path = Path(file).resolve()
        path = path.parent if path.name == "__init__.py" else path
        if path.parent == folder:
            if name in ("main", "requirements"):
                raise UsageError(
                    f"{path.name} beside the notebook has a name that src/ needs for itself.",
                    type="bad_predict",
                    hint="Rename it (and its imports).",
                )
            found[name] = path
    return found


def _copy_local_modules(local: dict[str, Path], src: Path) -> None:
    for name, path in local.items():
        if path.is_dir():
            shutil.rmtree(src / name, ignore_errors=True)  # files removed there go here too
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copyfile(path, src / f"{name}.py")
        _say(f"  copied {path.name} into src/")


def _made_here(project: Path) -> bool:
    main = project / "src" / "main.py"
    try:
        return MARKER in main.read_text(encoding="utf-8")[:2000]
    except (OSError, UnicodeDecodeError):
        return False


def _build_and_deploy(project: Path) -> dict:
    """Run ``hub build --deploy --json`` for ``project``, showing its events; its result."""
    argv = [*HUB_CLI, "build", "--deploy", "--json", "-p", str(project)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
        errors="replace",
        bufsize=1,
    )
    result: dict | None = None
    error: str | None = None
    other: list[str] = []
    try:
        for line in proc.stdout:
            event = decode(line)
            if event is None:
                if line.strip():
                    other.append(line.rstrip())
                    _say(f"  {line.rstrip()}")
                continue
            kind = event["event"]
            if kind == "result":
                result = event
            elif kind == "error":
                error = str(event.get("message") or "the build failed")
            else:
                _show(event)
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()  # the CLI cleans up as for Ctrl-C
        proc.wait()
        raise DeployError(
            "Interrupted; nothing half-written was kept.", type="interrupted"
        ) from None
    finally:
        proc.stdout.close()
    if error is not None or code != 0 or result is None:
        raise DeployError(
            error or f"hub build --deploy stopped (exit code {code}): {' '.join(other[-3:])}",
            type="build_failed",
        )
    return result


def _show(event: dict) -> None:
    """One event of the CLI, as a person reads it in the cell's output."""
    kind = event["event"]
    if kind == "step":
        status, name = event.get("status"), event.get("name", "")
        if status == "started":
            _say(f"→ {name}…")
        else:
            mark = "✓" if status == "done" else "✗"
            _say(f"{mark} {name} ({event.get('seconds') or 0:.2f}s)")
    elif kind == "log":
        line = str(event.get("line", ""))
        _say(line if line.startswith("  ") else f"  {line}")


def _say(text: str) -> None:
    print(text, flush=True)
