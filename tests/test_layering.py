"""The parts import each other only downwards: no import runs back up (ARCHITECTURE.md).

Every ``import`` and ``from ... import`` of every module is read with ``ast`` (also the ones
inside functions, which run later but are dependencies all the same), relative imports are
resolved, and an edge from a part to one it must not know fails the test, naming the file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jupyter_hub_api

PACKAGE = Path(jupyter_hub_api.__file__).parent
RUNTIME = PACKAGE.parent / "hub"

# part -> the parts it must not import. The CLI and the server extension are the top (nothing
# imports them); the platform serves over HTTP and knows none of its clients; the client
# speaks HTTP to the platform; the event protocol is below everyone who reports work.
FORBIDDEN = {
    "platform": {"cli", "client", "server"},
    "client": {"cli", "server"},
    "artifacts": {"cli", "client", "platform", "server"},
    "project": {"cli", "client", "platform", "server"},
    "events": {"cli", "client", "platform", "server"},
    "server": {"cli"},
}


def imported_modules(path: Path, module: str) -> set[str]:
    """The absolute names of what ``path`` (the module ``module``) imports."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # `from .. import client` imports the part `client`
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def part_of(module: str) -> str | None:
    """The part (``cli``, ``platform``...) a module of the package belongs to."""
    names = module.split(".")
    if names[0] != "jupyter_hub_api" or len(names) < 2:
        return None
    return names[1]


def package_modules(root: Path, name: str):
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = [name, *rel.parts]
        if parts[-1] == "__init__":
            parts.pop()
        yield path, ".".join(parts)


def upward_imports() -> list[str]:
    bad = []
    for path, module in package_modules(PACKAGE, "jupyter_hub_api"):
        part = part_of(module)
        for target in imported_modules(path, module):
            target_part = part_of(target)
            if target_part in FORBIDDEN.get(part, ()):
                bad.append(f"{path.relative_to(PACKAGE.parent)}: {part} imports {target}")
    return sorted(set(bad))


def test_no_part_imports_one_above_it():
    assert upward_imports() == []


def test_the_worker_runtime_imports_nothing_of_the_product():
    # It runs in the API's own environment, where the product is not installed.
    bad = [
        f"{path.relative_to(RUNTIME.parent)}: imports {target}"
        for path, module in package_modules(RUNTIME, "hub")
        for target in imported_modules(path, module)
        if target.split(".")[0] == "jupyter_hub_api"
    ]
    assert bad == []


def test_the_check_finds_an_upward_import(tmp_path):
    # The walk itself must see relative, absolute and function-level imports.
    module = tmp_path / "deploy.py"
    module.write_text(
        "from ..cli.output import Output\n"
        "import jupyter_hub_api.client.api\n"
        "def later():\n    from .. import server\n"
    )
    found = imported_modules(module, "jupyter_hub_api.platform.deploy")
    assert {"jupyter_hub_api.cli.output", "jupyter_hub_api.client.api"} <= found
    assert "jupyter_hub_api.server" in found
