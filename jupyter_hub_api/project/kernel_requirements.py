"""Requirements pinned to what the running interpreter (a notebook's kernel) has installed.

A model pickled with scikit-learn 1.9 and loaded by 1.5 is a classic failure, so a project made
from a kernel should ask for the versions the kernel has. :func:`kernel_requirements` reads the
modules ``main.py`` imports (with :mod:`ast`, nothing is imported), maps each top-level module
to the distributions that provide it (``importlib.metadata.packages_distributions``: ``sklearn``
-> ``scikit-learn``) and pins each to its installed version::

    >>> kernel_requirements("import sklearn\\nimport json\\n").lines
    ['scikit-learn==1.9.1']

A local version label is dropped (``torch==2.3.1``, not ``2.3.1+cpu``: only the index that
built it has that). The standard library, the worker runtime ``hub`` and the project's own modules (files and
packages of ``src/``) are skipped; a module that nothing installed provides, or that comes from
a local folder (an editable install), is reported in ``unresolved`` with the reason instead of
being guessed. The JupyterLab frontend can call it in a kernel:
``kernel_requirements(source).as_dict()`` is JSON-ready.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import UsageError

# Never requirements: the worker runtime the platform provides, and this product itself.
PROVIDED = frozenset({"hub", "jupyter_hub_api", "__main__", "__future__"})


@dataclass
class KernelRequirements:
    """Requirement lines pinned to the kernel's versions, and the imports that could not be."""

    lines: list[str] = field(default_factory=list)
    unresolved: dict[str, str] = field(default_factory=dict)  # module -> why it is not pinned

    @property
    def text(self) -> str:
        """The lines as a requirements.txt (one per line, sorted)."""
        return "".join(line + "\n" for line in self.lines)

    def as_dict(self) -> dict:
        """``{"requirements": [...], "text": "...", "unresolved": {module: reason}}``."""
        return {"requirements": self.lines, "text": self.text, "unresolved": self.unresolved}


def imported_modules(source: str, filename: str = "main.py") -> list[str]:
    """The top-level names of every absolute import in ``source``, in order of first use.

    Imports inside functions and ``try`` blocks count too (they run when called); relative
    imports (``from . import x``) are the project's own and are skipped. Raises
    :class:`UsageError` when ``source`` is not valid Python.
    """
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as err:
        raise UsageError(
            f"{filename} line {err.lineno}: {err.msg}, so its imports cannot be read.",
            type="bad_source",
            hint="Fix the syntax error first.",
        ) from None
    found: dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.setdefault(alias.name.split(".")[0], None)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.setdefault(node.module.split(".")[0], None)
    return list(found)


def kernel_requirements(
    source: str | Path, *, modules: Iterable[str] = (), local: Iterable[str] = ()
) -> KernelRequirements:
    """Pinned requirements for what ``source`` imports, from this interpreter's installs.

    ``source`` is the text of ``main.py``, or a project folder (every ``.py`` file of its
    ``src/`` is read, and the modules ``src/`` holds count as the project's own). ``modules``
    adds top-level modules the code needs without importing them by name (e.g. ``sklearn``
    for a pickled estimator that ``joblib.load`` unpickles); ``local`` names more modules of
    the project's own.
    """
    own = set(local)
    if isinstance(source, Path):
        src = source / "src" if (source / "src").is_dir() else source
        files = sorted(src.rglob("*.py"))
        own |= {p.stem for p in src.glob("*.py")} | {p.name for p in src.iterdir() if p.is_dir()}
        names = [m for f in files for m in imported_modules(f.read_text("utf-8"), f.name)]
    else:
        names = imported_modules(source)
    return pin_modules([*names, *modules], skip=own)


def pin_modules(modules: Iterable[str], skip: Iterable[str] = ()) -> KernelRequirements:
    """Pin the distributions of the top-level ``modules`` (see :func:`kernel_requirements`)."""
    skipped = set(skip) | PROVIDED | set(sys.stdlib_module_names) | set(sys.builtin_module_names)
    providers = metadata.packages_distributions()
    result = KernelRequirements()
    pins: dict[str, str] = {}
    for module in dict.fromkeys(m.split(".")[0] for m in modules):
        if module in skipped or module.startswith("_"):
            continue
        dists = providers.get(module)
        if not dists:
            result.unresolved[module] = "no installed package provides it"
            continue
        for dist_name in dict.fromkeys(dists):
            dist = metadata.distribution(dist_name)
            name = canonicalize_name(dist.metadata["Name"])
            if name in pins:
                continue
            if _local_install(dist):
                result.unresolved[module] = f"{name} is installed from a local folder"
                continue
            pins[name] = f"{name}=={_public(dist.version)}"
    result.lines = sorted(pins.values())
    return result


def _public(version: str) -> str:
    """``version`` without a local label (``2.3.1+cpu`` -> ``2.3.1``): no public index has those."""
    try:
        return Version(version).public
    except InvalidVersion:
        return version


def _local_install(dist: metadata.Distribution) -> bool:
    """Whether ``dist`` was installed from a folder on this machine (pip's direct_url.json)."""
    text = dist.read_text("direct_url.json")
    if not text:
        return False
    try:
        info = json.loads(text)
    except ValueError:
        return False
    return "dir_info" in info or str(info.get("url", "")).startswith("file:")
