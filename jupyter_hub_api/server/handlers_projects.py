"""``/hub-api/projects``: what the launcher wizard needs (create, list, check, add model files)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from tornado import web

from ..errors import HubError, UsageError
from ..project.config import load_config
from ..project.handler_check import find_handler
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
        files = body_field(
            body, "model_files", list, [], "a list of paths relative to the server root"
        )
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
            ["init", name, "--template", template, "--dir", str(parent), "--json"],
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
    """``GET``: the templates, with the requirements and ``main.py`` each one writes."""

    @web.authenticated
    async def get(self) -> None:
        self.write_json({"templates": await asyncio.to_thread(template_texts)})


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
