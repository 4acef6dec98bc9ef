"""Find the ``@hub_handler`` function of ``src/main.py`` by reading its syntax tree.

The file is parsed with :mod:`ast`, never imported, so checking a project does not load torch
or the model. Exactly one function must carry the decorator (``@hub_handler`` or
``@hub.hub_handler``); a module without one may instead define the hosted service's 2021 style,
a top-level ``def handler(event, context)`` (the runtime adapts it: ``hub/_worker.py``).
"""

from __future__ import annotations

import ast
from pathlib import Path

from ..errors import UsageError


def find_handler(main_py: Path) -> str:
    """Return the name of the one ``@hub_handler`` function in ``main_py``.

    Raises :class:`UsageError` when the file is missing, does not parse, or has no handler or
    more than one.
    """
    main_py = Path(main_py)
    try:
        source = main_py.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            "src/main.py does not exist.",
            type="no_handler",
            hint="Create src/main.py with one function decorated with @hub_handler "
            "(`hub init` writes a working one).",
        ) from None
    try:
        tree = ast.parse(source, filename=str(main_py))
    except SyntaxError as err:
        raise UsageError(
            f"src/main.py line {err.lineno}: {err.msg}.",
            type="bad_handler",
            hint="Fix the Python syntax error and build again.",
        ) from None
    found = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(_is_hub_handler(d) for d in node.decorator_list)
    ]
    if not found:
        event_style = _event_handler(tree)
        if event_style is not None:
            return event_style
        raise UsageError(
            "src/main.py has no function decorated with @hub_handler.",
            type="no_handler",
            hint="Add `from hub import hub_handler` and put @hub_handler on the function that "
            "answers requests: def inference_handler(inputs, context) (or keep the hosted "
            "service's 2021 style: a top-level def handler(event, context)).",
        )
    if len(found) > 1:
        where = ", ".join(f"{n.name} (line {n.lineno})" for n in found)
        raise UsageError(
            f"src/main.py has {len(found)} functions decorated with @hub_handler: {where}.",
            type="two_handlers",
            hint="Keep @hub_handler on exactly one function; an API has one handler.",
        )
    handler = found[0]
    args = handler.args
    if not (args.posonlyargs or args.args or args.vararg):
        raise UsageError(
            f"src/main.py line {handler.lineno}: {handler.name}() takes no arguments, but it is "
            "called with the request's input.",
            type="bad_handler",
            hint=f"Declare it as def {handler.name}(inputs, context).",
        )
    return handler.name


def _event_handler(tree: ast.Module) -> str | None:
    """``"handler"`` if the module defines the 2021 style ``def handler(event, context)``.

    Only a top-level function counts (the runtime looks the name up on the module), and it must
    take the two arguments it is called with.
    """
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "handler":
            args = node.args
            if len(args.posonlyargs) + len(args.args) >= 2 or args.vararg:
                return node.name
    return None


def _is_hub_handler(decorator: ast.expr) -> bool:
    if isinstance(decorator, ast.Call):  # tolerate @hub_handler() as the same marker
        decorator = decorator.func
    if isinstance(decorator, ast.Name):
        return decorator.id == "hub_handler"
    if isinstance(decorator, ast.Attribute):
        return decorator.attr == "hub_handler"
    return False
