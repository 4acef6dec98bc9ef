"""``/hub-api/projects``: what the launcher wizard needs (create, list, check, add model files)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

from jupyter_core.utils import ensure_async
from packaging.requirements import InvalidRequirement, Requirement
from tornado import web

from ..errors import HubError, UsageError
from ..project.config import load_config
from ..project.handler_check import find_handler
from ..project.kernel_requirements import pin_with_probe, probe_interpreter
from ..project.mlflow import read_mlflow_model
from ..project.names import check_name
from ..project.requirements import normalise_requirements, project_requirements
from ..project.scaffold import TEMPLATES, TEMPLATES_DIR
from .base import HubAPIHandler, body_field
from .handlers_jobs import project_path
from .hub_cli import run_hub
from .jobs.copy import plan_copy
from .jobs.models import JobKind
from .paths import SKIPPED_DIRS, is_hidden, relative, resolve

# The wizard's names for the templates of ``project/templates/`` (``hub init --template``).
TEMPLATE_LABELS = {
    "pytorch": "PyTorch",
    "transformers": "Transformers (Hugging Face)",
    "keras": "TensorFlow / Keras",
    "sklearn": "scikit-learn",
    "blank": "Blank",
}


def template_texts() -> list[dict]:
    """Each template's name, label, and the ``src/requirements.txt`` and ``src/main.py`` it writes."""
    out = []
    for name in TEMPLATES:
        src = TEMPLATES_DIR / name / "src"
        out.append(
            {
                "name": name,
                "label": TEMPLATE_LABELS.get(name, name),
                "requirements": (src / "requirements.txt").read_text(encoding="utf-8"),
                "main_py": (src / "main.py").read_text(encoding="utf-8"),
            }
        )
    return out


def _template_names(requirements: str) -> list[str]:
    """The distribution names of a template's requirements text (lines that parse)."""
    names = []
    for line in requirements.splitlines():
        try:
            names.append(Requirement(line.split("#", 1)[0].strip()).name)
        except InvalidRequirement:
            continue
    return names


def pin_templates(templates: list[dict], python: str, env: dict | None = None) -> dict:
    """Each template's requirements pinned to what ``python`` (a kernel's interpreter) has.

    One run of the probe for every template: the modules their ``main.py`` and the shared
    ``utils.py`` import, and the names their requirements list. Adds ``pinned`` to each
    template (``{"requirements", "text", "origins", "unresolved"}``) and answers the probe's
    ``{"python", "python_version"}``.
    """
    from ..project.kernel_requirements import imported_modules

    utils = (TEMPLATES_DIR / "_shared" / "src" / "utils.py").read_text(encoding="utf-8")
    modules: dict[str, None] = dict.fromkeys(imported_modules(utils, "utils.py"))
    distributions: dict[str, None] = {}
    for t in templates:
        modules.update(dict.fromkeys(imported_modules(t["main_py"])))
        distributions.update(dict.fromkeys(_template_names(t["requirements"])))
    probe = probe_interpreter(python, modules, distributions, env=env)
    for t in templates:
        t["pinned"] = pin_with_probe(
            probe,
            {"main.py": t["main_py"], "utils.py": utils},
            requirements=t["requirements"],
            optional=["utils.py"],
        ).as_dict()
    return {"python": probe.get("python") or python, "python_version": probe.get("python_version")}


def kernel_python(argv: list[str]) -> str | None:
    """The interpreter a Python kernelspec's ``argv`` runs (``python`` is the server's own, as
    jupyter_client launches it), or None when it names no program that exists."""
    if not argv:
        return None
    program = argv[0]
    if program in {
        "python",
        f"python{sys.version_info[0]}",
        "python{}.{}".format(*sys.version_info[:2]),
    }:
        return sys.executable
    if os.path.isabs(program):
        return program if os.path.exists(program) else None
    return shutil.which(program)


def find_projects(root: Path, max_depth: int) -> list[dict]:
    """Folders under ``root`` (at most ``max_depth`` deep) that hold a ``hub_config.json``.

    Hidden folders, ``node_modules`` and the like are skipped; symlinked folders are not
    followed (a link loop or a link out of the root cannot make the walk wander).
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).relative_to(root).parts)
        dirnames[:] = sorted(
            d for d in dirnames if not is_hidden(d) and d not in SKIPPED_DIRS and depth < max_depth
        )
        if "hub_config.json" in filenames:
            folder = Path(dirpath)
            found.append(describe_project(root, folder))
            dirnames[:] = [d for d in dirnames if d not in ("model", "src")]
    return found


def describe_project(root: Path, folder: Path) -> dict:
    """Name, version and path of a project, and what is wrong with its config if anything."""
    entry = {"path": relative(root, folder), "name": folder.name, "version": None, "error": None}
    try:
        config = json.loads((folder / "hub_config.json").read_text(encoding="utf-8"))
        entry["name"] = config.get("name", folder.name) if isinstance(config, dict) else folder.name
        entry["version"] = config.get("version") if isinstance(config, dict) else None
    except (OSError, ValueError) as err:
        entry["error"] = f"hub_config.json cannot be read: {err}"
    last = folder / ".hub" / "last-build"
    entry["last_build"] = last.read_text().strip() if last.is_file() else None
    return entry


def check_project(folder: Path) -> dict:
    """Validate a project as ``hub build`` will: config, handler, requirements.

    Answers ``{"config", "valid", "errors": [{"field", "type", "message"}], "handler"}``: every
    problem found, not only the first, so the wizard can show them all.
    """
    errors: list[dict] = []
    raw = None
    try:
        raw = json.loads((folder / "hub_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    config = None
    try:
        config = load_config(folder)
    except HubError as err:
        errors.append(
            {"field": err.field or "hub_config.json", "type": err.type, "message": str(err)}
        )
    handler = None
    try:
        handler = find_handler(folder / "src" / "main.py")
    except HubError as err:
        errors.append({"field": "src/main.py", "type": err.type, "message": str(err)})
    try:
        project_requirements(folder)
    except HubError as err:
        errors.append({"field": "src/requirements.txt", "type": err.type, "message": str(err)})
    return {
        "config": config if config is not None else raw,
        "valid": not errors,
        "errors": errors,
        "handler": handler,
    }


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` whole or not at all (temporary file, then rename)."""
    tmp = path.with_name(path.name + ".hub-partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


MAX_MAIN_PY_BYTES = 1024 * 1024
"""The largest ``main_py`` a create takes (UTF-8 bytes): code, not data (data goes in model/)."""


def _check_main_py(text: str) -> None:
    """A 400 for a ``main_py`` too large to be a handler's code."""
    size = len(text.encode("utf-8"))
    if size > MAX_MAIN_PY_BYTES:
        raise UsageError(
            f"main_py is {size} bytes; keep src/main.py under 1 MiB (put data in model/ instead).",
            type="bad_main_py",
        )


class ProjectsHandler(HubAPIHandler):
    """``GET`` lists projects under the root; ``POST`` creates one (``hub init``)."""

    @web.authenticated
    async def get(self) -> None:
        depth = self.hub.app.project_search_depth
        projects = await asyncio.to_thread(find_projects, self.hub.root_dir, depth)
        self.write_json({"projects": projects})

    @web.authenticated
    async def post(self) -> None:
        """Create a project; copy model files as a job (``job`` in the answer) when asked."""
        body = self.read_json()
        root = self.hub.root_dir
        name = check_name(body.get("name"), field="name")
        template = body.get("template", "blank")
        if not isinstance(template, str) or template not in TEMPLATES:
            raise UsageError(
                f"Unknown template {template!r}; use one of {', '.join(TEMPLATES)}.",
                type="bad_template",
            )
        parent_rel = body_field(body, "parent", str, "", "a folder path relative to the root")
        parent = resolve(root, parent_rel, what="parent folder")
        if not parent.is_dir():
            raise UsageError(f"The parent folder '{parent_rel}' does not exist.", type="not_found")
        texts = {
            key: body_field(body, key, str, None, "a string (the file's text)")
            for key in ("requirements", "main_py")
        }
        if texts["requirements"] is not None:
            normalise_requirements(
                texts["requirements"]
            )  # 400 naming the bad line, before creating
        if texts["main_py"] is not None:
            _check_main_py(texts["main_py"])  # before anything is created
        files = body_field(
            body, "model_files", list, [], "a list of paths relative to the server root"
        )
        mlflow_rel = body_field(
            body, "from_mlflow", str, None, "a folder path relative to the root (an MLflow model)"
        )
        mlflow_dir = None
        if mlflow_rel is not None:
            if template != "blank":
                raise UsageError(
                    "An MLflow model brings its own main.py, so it takes no template; leave "
                    "'template' out.",
                    type="bad_template",
                )
            mlflow_dir = resolve(root, mlflow_rel, what="MLflow model folder")
            # One sentence (no MLmodel, no flavor...) before anything is written, naming the
            # folder as the user knows it (relative to the root), not the server's own path.
            try:
                await asyncio.to_thread(read_mlflow_model, mlflow_dir)
            except UsageError as err:
                shown = relative(root, mlflow_dir) or "The server root"
                raise UsageError(
                    err.message.replace(str(mlflow_dir), shown),
                    type=err.type,
                    hint=err.hint,
                ) from None
        target = parent / name
        # Checked before the folder exists (paths, sizes, free disk), so a bad file list
        # leaves nothing behind.
        if files:
            if target.exists():
                raise UsageError(
                    f"'{relative(root, target)}' exists already; choose another name.",
                    type="exists",
                )
            await asyncio.to_thread(plan_copy, root, target, files, False)
        result = await run_hub(
            self.hub.app.hub_command,
            [
                "init",
                name,
                *(["--from-mlflow", str(mlflow_dir)] if mlflow_dir else ["--template", template]),
                "--dir",
                str(parent),
                "--json",
            ],
            cwd=parent,
            env={str(k): str(v) for k, v in self.hub.app.job_env.items()},
        )
        for key, path in (("requirements", "src/requirements.txt"), ("main_py", "src/main.py")):
            if texts[key] is not None:
                _write_text(target / path, texts[key])
        rel = relative(root, target)
        job = None
        if files:
            job = self.hub.jobs.submit(
                JobKind.MODEL_FILES, rel, {"files": files, "overwrite": False}
            ).to_dict()
        self.write_json(
            {
                "project": describe_project(root, target),
                "files": result.get("files", []),
                "job": job,
            },
            status=201,
        )


class TemplatesHandler(HubAPIHandler):
    """``GET``: the templates, with the requirements and ``main.py`` each one writes.

    With ``?kernel_id=`` (a running kernel, the notebook's) or ``?kernel=`` (a kernelspec name,
    ``default`` for the server's default one), each template also gets ``pinned``: its
    requirements pinned to the versions that kernel's interpreter has installed, with where
    each line came from; ``kernel`` says which kernel and interpreter answered, or
    ``kernel_error`` why none could (the templates' own requirements stay usable then).
    """

    @web.authenticated
    async def get(self) -> None:
        kernel_id = self.get_argument("kernel_id", "")
        kernel = self.get_argument("kernel", "")
        templates = await asyncio.to_thread(template_texts)
        answer: dict = {"templates": templates}
        if kernel_id or kernel:
            try:
                answer["kernel"] = await self._pin(templates, kernel_id, kernel)
            except HubError as err:
                answer["kernel_error"] = str(err)
        self.write_json(answer)

    async def _pin(self, templates: list[dict], kernel_id: str, kernel: str) -> dict:
        source = "default"
        if kernel_id:
            if kernel_id not in self.kernel_manager:
                raise UsageError(
                    "The notebook's kernel is not running any more, so its packages cannot be read.",
                    type="not_found",
                )
            name = self.kernel_manager.get_kernel(kernel_id).kernel_name
            source = "notebook"
        elif kernel == "default":
            name = self.kernel_manager.default_kernel_name
        else:
            name, source = kernel, "named"
        try:
            spec = await ensure_async(self.kernel_spec_manager.get_kernel_spec(name))
        except Exception:  # jupyter_client's NoSuchKernel, or a kernel.json that does not parse
            raise UsageError(
                f"There is no kernel {name!r} (see jupyter kernelspec list).", type="not_found"
            ) from None
        if (spec.language or "").lower() != "python":
            raise UsageError(
                f"The kernel {spec.display_name} runs {spec.language}, not Python, so it cannot "
                "say which Python packages to pin.",
                type="not_python",
            )
        python = kernel_python(list(spec.argv))
        if python is None:
            raise UsageError(
                f"The kernel {spec.display_name}'s interpreter {spec.argv[:1]} does not exist.",
                type="kernel_unavailable",
            )
        env = {**os.environ, **{str(k): str(v) for k, v in (spec.env or {}).items()}}
        found = await asyncio.to_thread(pin_templates, templates, python, env)
        return {"name": name, "display_name": spec.display_name, "source": source, **found}


class ProjectConfigHandler(HubAPIHandler):
    """``GET``: the project's config, checked as ``hub build`` checks it."""

    @web.authenticated
    async def get(self, project: str) -> None:
        rel = project_path(self.hub.root_dir, project)
        report = await asyncio.to_thread(check_project, self.hub.root_dir / rel)
        self.write_json({"path": rel, **report})


class ModelFilesHandler(HubAPIHandler):
    """``POST {"files": [...], "overwrite": false}``: copy files into ``model/`` as a job (202)."""

    @web.authenticated
    async def post(self, project: str) -> None:
        body = self.read_json()
        root = self.hub.root_dir
        rel = project_path(root, project)
        files = body.get("files")
        overwrite = body_field(body, "overwrite", bool, False, "true or false")
        # Everything checked before the job starts: paths, existing files, free disk space.
        await asyncio.to_thread(plan_copy, root, root / rel, files, overwrite)
        job = self.hub.jobs.submit(
            JobKind.MODEL_FILES, rel, {"files": files, "overwrite": overwrite}
        )
        self.write_json(job.to_dict(), status=202)
