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

The server's own environment is rarely the kernel's: :func:`probe_interpreter` runs a small
standard-library script (:data:`PROBE`, argv only, no shell) with another interpreter (a
kernelspec's) and :func:`pin_with_probe` pins from what it reports, so the wizard proposes the
versions of the kernel the user works in. Each pinned line says where it came from
(``origins``: the import that needs it, or the template line it pins).
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
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
    origins: dict[str, str] = field(default_factory=dict)  # line -> where it came from

    @property
    def text(self) -> str:
        """The lines as a requirements.txt (one per line, sorted)."""
        return "".join(line + "\n" for line in self.lines)

    def as_dict(self) -> dict:
        """``{"requirements": [...], "text", "unresolved": {module: reason}, "origins"}``."""
        return {
            "requirements": self.lines,
            "text": self.text,
            "unresolved": self.unresolved,
            "origins": self.origins,
        }


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
    return _local_url(dist.read_text("direct_url.json"))


# Run by another interpreter (a kernel's), which may not have this package: standard library
# only, Python 3.8+. Reads {"modules": [...], "distributions": [...]} on stdin, writes JSON.
PROBE = r"""
import json, sys
import importlib.metadata as md

ask = json.load(sys.stdin)
providers = md.packages_distributions() if hasattr(md, "packages_distributions") else {}


def describe(name):
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        return None
    return {"name": dist.metadata["Name"], "version": dist.version,
            "direct_url": dist.read_text("direct_url.json")}


stdlib = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names)
json.dump({
    "python": sys.executable,
    "python_version": "%d.%d.%d" % sys.version_info[:3],
    "stdlib": sorted(stdlib),
    "modules": {m: [d for d in (describe(n) for n in dict.fromkeys(providers.get(m, ()))) if d]
                for m in ask["modules"]},
    "distributions": {n: describe(n) for n in ask["distributions"]},
}, sys.stdout)
"""

PROBE_TIMEOUT = 60.0


def probe_command(python: str) -> list[str]:
    """The argv that runs :data:`PROBE` with ``python`` (isolated from the current folder)."""
    return [python, "-c", PROBE]


def probe_input(modules: Iterable[str], distributions: Iterable[str]) -> str:
    """The JSON :data:`PROBE` reads on stdin."""
    return json.dumps({"modules": list(modules), "distributions": list(distributions)})


def probe_interpreter(
    python: str,
    modules: Iterable[str] = (),
    distributions: Iterable[str] = (),
    *,
    env: dict | None = None,
    timeout: float = PROBE_TIMEOUT,
) -> dict:
    """Ask ``python`` which distributions provide ``modules`` and which versions of
    ``distributions`` it has (runs :data:`PROBE`; argv, no shell). Raises :class:`UsageError`
    when the interpreter cannot run or answers nothing readable."""
    import subprocess

    try:
        done = subprocess.run(  # noqa: S603 - argv list, no shell
            probe_command(python),
            input=probe_input(modules, distributions),
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise UsageError(
            f"The kernel's Python {python} could not be run ({err}), so its packages are unknown.",
            type="kernel_unavailable",
            hint="Check the kernel's kernelspec (jupyter kernelspec list).",
        ) from None
    return read_probe_output(python, done.returncode, done.stdout, done.stderr)


def read_probe_output(python: str, returncode: int, stdout: str, stderr: str) -> dict:
    """The probe's answer, or a one-sentence :class:`UsageError` saying why there is none."""
    try:
        if returncode:
            raise ValueError
        answer = json.loads(stdout)
        if not isinstance(answer, dict) or not isinstance(answer.get("modules"), dict):
            raise ValueError
        return answer
    except ValueError:
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(
            f"The kernel's Python {python} did not say which packages it has ({last}).",
            type="kernel_unavailable",
            hint="Check that the kernel's interpreter runs (jupyter kernelspec list).",
        ) from None


def pin_with_probe(
    probe: dict,
    sources: dict[str, str],
    *,
    requirements: str = "",
    modules: Iterable[str] = (),
    local: Iterable[str] = (),
    optional: Iterable[str] = (),
) -> KernelRequirements:
    """Requirements pinned to the versions ``probe`` (:func:`probe_interpreter`) reported.

    ``sources`` maps file names to their text (``{"main.py": ..., "utils.py": ...}``); each
    absolute import becomes a pinned line whose origin names the import and the file.
    ``requirements`` (a template's requirements.txt) is kept line by line: a bare name the
    kernel has installed is pinned to its version, a line with a version or a URL stays as it
    is, a name the kernel lacks stays unpinned (and says so in ``unresolved``). An import of a
    file named in ``optional`` (the template's ``utils.py``, whose imports are inside functions
    that need them) is pinned when the kernel has it and otherwise left out silently.
    """
    optional = set(optional)
    # A kernel older than Python 3.10 has no list of its standard library: this one's, then.
    stdlib = probe.get("stdlib") or [*sys.stdlib_module_names, *sys.builtin_module_names]
    skipped = set(local) | PROVIDED | set(stdlib)
    result = KernelRequirements()
    pins: dict[str, str] = {}

    def pin(dist: dict | None) -> str | None:
        if not dist:
            return None
        if _local_url(dist.get("direct_url")):
            return None
        name = canonicalize_name(dist["name"])
        pins.setdefault(name, f"{name}=={_public(dist['version'])}")
        return name

    for line in requirements.splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            req = Requirement(text)
        except InvalidRequirement:
            pins.setdefault(text, text)
            result.origins.setdefault(text, "the template's requirements.txt")
            continue
        name = canonicalize_name(req.name)
        if req.specifier or req.url:
            pins.setdefault(name, text)
            result.origins.setdefault(text, "the template's requirements.txt")
            continue
        dist = (probe.get("distributions") or {}).get(req.name) or (
            probe.get("distributions") or {}
        ).get(name)
        if pin(dist) is None:
            pins.setdefault(name, text)
            result.origins.setdefault(text, "the template's requirements.txt, not pinned")
            result.unresolved[req.name] = (
                f"{name} is installed from a local folder in the kernel"
                if dist
                else "not installed in the kernel"
            )
        else:
            result.origins.setdefault(
                pins[name], "the template's requirements.txt, at the kernel's version"
            )
    wanted: dict[str, str] = {}
    quiet: set[str] = set()
    for filename, source in sources.items():
        for module in imported_modules(source, filename):
            if filename in optional and module not in wanted:
                quiet.add(module)
            elif filename not in optional:
                quiet.discard(module)
            wanted.setdefault(module, f"import {module} in {filename}, at the kernel's version")
    for module in modules:
        wanted.setdefault(
            module.split(".")[0], f"{module}, needed by the model, at the kernel's version"
        )
    for module, origin in wanted.items():
        if module in skipped or module.startswith("_"):
            continue
        dists = (probe.get("modules") or {}).get(module) or []
        if not dists:
            if module not in quiet:
                result.unresolved.setdefault(
                    module, "no package installed in the kernel provides it"
                )
            continue
        for dist in dists:
            name = pin(dist)
            if name is None:
                result.unresolved.setdefault(
                    module, f"{canonicalize_name(dist['name'])} is installed from a local folder"
                )
            elif pins[name] not in result.origins:
                result.origins[pins[name]] = origin
    result.lines = sorted(pins.values(), key=lambda line: line.lower())
    return result


def _local_url(direct_url: str | None) -> bool:
    """Whether pip's direct_url.json text says a local folder or file was installed."""
    if not direct_url:
        return False
    try:
        info = json.loads(direct_url)
    except ValueError:
        return False
    return "dir_info" in info or str(info.get("url", "")).startswith("file:")
