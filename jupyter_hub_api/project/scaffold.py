"""``hub init``: write a new project folder from a template (ARCHITECTURE.md (projects and builds)).

Templates are real files under ``project/templates/``: ``_shared/`` (Dockerfile, .dockerignore,
src/utils.py) is laid down first, then ``<template>/`` (src/main.py, src/requirements.txt) on top.
Everything is written into a hidden temporary folder beside the target and renamed into place
at the end, so a failure or Ctrl-C never leaves a half-made project.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import UsageError, WorkError
from .config import CONFIG_FILE, default_config
from .files import walk_files
from .names import check_name

TEMPLATES_DIR = Path(__file__).parent / "templates"
TEMPLATES = ("pytorch", "transformers", "keras", "sklearn", "blank")
DEFAULT_TEMPLATE = "blank"


def init_project(
    name: str,
    template: str = DEFAULT_TEMPLATE,
    model_files: list[str | Path] = (),
    parent: str | Path = ".",
    python: str | None = None,
    out=None,
) -> dict:
    """Create the project ``parent/name``; return what was written.

    The result is ``{"project": <absolute path>, "name", "template", "files": [relative
    paths, sorted], "model_files": [paths under model/], "model_bytes": n}``. Raises
    :class:`UsageError` for a bad name or template, an existing folder, or a model file that
    is missing or holds a directory loop; nothing is left behind then.
    """
    from ..artifacts.environments import current_python

    check_name(name)
    if template not in TEMPLATES:
        raise UsageError(
            f"There is no template {template!r}.",
            type="bad_template",
            hint=f"Choose one of: {', '.join(TEMPLATES)}.",
        )
    parent = Path(parent).expanduser()
    if not parent.is_dir():
        raise UsageError(
            f"The folder {parent} does not exist.",
            type="bad_parent",
            hint="Create it first or choose another folder with --dir.",
        )
    parent = parent.resolve()
    target = parent / name
    _refuse_existing(target)
    sources = _plan_model_files(model_files)

    try:
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{name}.tmp-"))
    except OSError as err:
        raise UsageError(
            f"Cannot create a folder in {parent}: {err.strerror or err}.",
            type="bad_parent",
            hint="Choose a folder you can write to with --dir.",
        ) from None
    try:
        _copy_tree(TEMPLATES_DIR / "_shared", tmp)
        _copy_tree(TEMPLATES_DIR / template, tmp)
        config = default_config(name, python or current_python())
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (tmp / "model").mkdir()
        model_bytes = _copy_model_files(sources, tmp / "model", out)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a project is an ordinary folder
        _refuse_existing(target)  # it may have appeared while we copied
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = sorted(rel for rel, _ in walk_files(target, label=name))
    return {
        "project": str(target),
        "name": name,
        "template": template,
        "files": files,
        "model_files": [f for f in files if f.startswith("model/")],
        "model_bytes": model_bytes,
    }


def _refuse_existing(target: Path) -> None:
    if os.path.lexists(target):
        raise UsageError(
            f"{target} already exists.",
            type="project_exists",
            hint="Choose another name, or remove or rename that folder first.",
        )


def _plan_model_files(model_files) -> list[tuple[str, Path]]:
    """Check every --model-file before writing anything: ``[(relative dest, source)]``."""
    planned: dict[str, Path] = {}
    for given in model_files:
        source = Path(given).expanduser()
        if not source.exists():
            what = "a symbolic link that leads nowhere" if source.is_symlink() else "not there"
            raise UsageError(
                f"The model file {given} is {what}.",
                type="missing_model_file",
                hint="Check the path (relative paths start from the current folder).",
            )
        if source.is_dir():
            entries = [
                (f"{source.name}/{rel}", path) for rel, path in walk_files(source, str(given))
            ]
        elif source.is_file():
            entries = [(source.name, source)]
        else:
            raise UsageError(
                f"The model file {given} is not a regular file (a pipe, socket or device).",
                type="bad_model_file",
                hint="Give the path of a file or a folder of files.",
            )
        for rel, path in entries:
            if rel in planned:
                raise UsageError(
                    f"Two model files would both be copied to model/{rel}.",
                    type="model_file_clash",
                    hint="Rename one of them, or put them in different folders.",
                )
            planned[rel] = path
    return list(planned.items())


def _copy_model_files(sources: list[tuple[str, Path]], model_dir: Path, out) -> int:
    total = sum(path.stat().st_size for _, path in sources)
    done = 0
    for rel, path in sources:
        dest = model_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(path, dest)
            done += path.stat().st_size
        except OSError as err:
            raise WorkError(
                f"Could not copy {path} into model/: {err.strerror or err}.",
                type="copy_failed",
                hint="Check that the file is readable and the disk has room, then try again.",
            ) from None
        if out is not None:
            out.progress(done, total, step="copy-model", bytes_=True)
    return done


def _copy_tree(source: Path, dest: Path) -> None:
    for path in sorted(source.rglob("*")):
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        target = dest / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
