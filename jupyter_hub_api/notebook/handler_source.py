"""Write ``src/main.py`` from a ``predict(model, inputs)`` function defined in the kernel.

The function's own text is taken with :func:`inspect.getsource` (IPython keeps every cell's
text, so functions of a notebook have one). The names it reads from the notebook's globals are
written into ``main.py`` as what they are there:

- a module (``np``): its import, ``import numpy as np``;
- a function or class of an installed module (``from scipy.special import softmax``): its
  import;
- a function of the notebook itself (of predict's module): its source too, with the names it
  uses in turn;
- a constant (numbers, text, and lists, tuples, dicts and sets of them): ``NAME = <repr>``;
- the deployed model: the model ``main.py`` loads.

Anything else (an open file, a data frame, a class of the notebook) is refused with the name
and what to do, as are lambdas (their text is the whole line around them) and closures.
"""

from __future__ import annotations

import ast
import builtins
import cmath
import inspect
import sys
import textwrap
import types
from dataclasses import dataclass, field

from ..errors import UsageError
from ..project.snippets import JSON_READY
from .model_files import ModelFormat

MARKER = "Written by jupyter_hub_api.deploy()"
# Names main.py defines itself; the notebook's code may not use them for something else.
RESERVED = frozenset({"os", "MODEL_DIR", "model", "hub_handler", "inference_handler", "json_ready"})
_CONSTANT_TYPES = (bool, int, float, complex, str, bytes, type(None))
_MAX_CONSTANT = 100_000  # characters of a constant's repr: larger data belongs in the model

HEADER = '''\
"""{name}: an API made in a notebook with jupyter_hub_api.deploy().

{marker} from the notebook's {predict}(model, inputs);
deploying again from the notebook rewrites it. The platform imports this file once per worker
(which loads the model), then calls inference_handler for every POST request.
"""

import os
'''

BODY = """\
# The folder that holds the files of model/ (the platform sets MODEL_DIR).
MODEL_DIR = os.getenv("MODEL_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
# Loaded once per worker, at import. Only load pickles you trust: unpickling runs code.
{load}
"""

FOOTER = '''

@hub_handler
def inference_handler(inputs, context):
    """The notebook's {predict}(model, inputs), its result made JSON-ready."""
    return json_ready({predict}(model, inputs))


{json_ready}'''


@dataclass
class _Collected:
    home: str  # predict's module (``__main__`` in a notebook): its functions are copied
    imports: dict[str, None] = field(default_factory=dict)  # import lines, in order
    constants: dict[str, str] = field(default_factory=dict)  # name -> "NAME = repr"
    functions: dict[str, str] = field(default_factory=dict)  # name -> source (helpers first)
    aliases: list[str] = field(default_factory=list)  # "name = model" lines


def handler_source(predict, model, fmt: ModelFormat, name: str) -> str:
    """The text of ``main.py`` for ``predict`` serving ``model`` (saved as ``fmt``)."""
    _check_predict(predict)
    collected = _Collected(home=predict.__module__)
    _collect_function(predict, model, collected, seen=set())
    imports = [*fmt.imports, *collected.imports, "from hub import hub_handler"]
    parts = [
        HEADER.format(name=name, marker=MARKER, predict=predict.__name__),
        "".join(line + "\n" for line in dict.fromkeys(imports) if line != "import os"),
        "\n",
        BODY.format(load=fmt.load),
        "".join(line + "\n" for line in collected.aliases),
    ]
    if collected.constants:
        parts += ["\n", "".join(line + "\n" for line in collected.constants.values())]
    for source in collected.functions.values():
        parts += ["\n\n", source]
    parts.append(FOOTER.format(predict=predict.__name__, json_ready=JSON_READY))
    return "".join(parts)


def _check_predict(predict) -> None:
    if not isinstance(predict, types.FunctionType):
        raise UsageError(
            f"predict must be a function defined with def, not {_describe(predict)}.",
            type="bad_predict",
            hint="Write def predict(model, inputs): ... and pass predict.",
        )
    try:
        inspect.signature(predict).bind(None, None)
    except TypeError:
        raise UsageError(
            f"{predict.__name__}{inspect.signature(predict)} cannot be called as "
            f"{predict.__name__}(model, inputs).",
            type="bad_predict",
            hint="Give it two parameters: the model and the decoded JSON input.",
        ) from None
    if predict.__name__ in RESERVED:
        raise _reserved(predict.__name__)


def _collect_function(func, model, collected: _Collected, seen: set[str]) -> None:
    """Add ``func``'s source and what it reads from its globals to ``collected``."""
    seen.add(func.__name__)
    if func.__name__ == "<lambda>":
        raise UsageError(
            "A lambda cannot be deployed: its source is the whole line around it.",
            type="bad_predict",
            hint="Define the function with def and pass it by name.",
        )
    if func.__code__.co_freevars:
        raise UsageError(
            f"{func.__name__} uses {', '.join(func.__code__.co_freevars)} of the function it is "
            "defined in, which main.py cannot hold.",
            type="bad_predict",
            hint="Define it at the top level of the notebook.",
        )
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        raise UsageError(
            f"The source of {func.__name__} cannot be found.",
            type="bad_predict",
            hint="Define it with def in a notebook cell (or a .py file) and run that cell.",
        ) from None
    node, source = _function_node(source, func.__name__)
    for used in _free_names(node):
        if used in seen:
            continue
        if used in func.__globals__:
            _collect_global(func.__name__, used, func.__globals__[used], model, collected, seen)
        elif not hasattr(builtins, used):
            raise UsageError(
                f"{func.__name__} uses {used}, which is not defined in the notebook.",
                type="bad_predict",
                hint="Define it (run the cell that does), or pass it inside the model.",
            )
    collected.functions[func.__name__] = source


def _collect_global(
    func_name: str, used: str, value, model, collected: _Collected, seen: set[str]
) -> None:
    if value is model and model is not None:
        if used != "model":
            collected.aliases.append(f"{used} = model")
        return
    if used in RESERVED and not (used == "os" and value is sys.modules.get("os")):
        raise _reserved(used)
    if isinstance(value, types.ModuleType):
        module = value.__name__
        collected.imports[
            f"import {module}" if module == used else f"import {module} as {used}"
        ] = None
        return
    if isinstance(value, types.FunctionType) and value.__module__ == collected.home:
        _collect_function(value, model, collected, seen)
        return
    # A function, class or other named object that its module holds under that name.
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if (
        isinstance(module, str)
        and isinstance(qualname, str)
        and _importable(module, qualname, value)
    ):
        alias = "" if qualname == used else f" as {used}"
        collected.imports[f"from {module} import {qualname}{alias}"] = None
        return
    if _is_constant(value):
        text = repr(value)
        if len(text) <= _MAX_CONSTANT:
            collected.constants[used] = f"{used} = {text}"
            return
    raise UsageError(
        f"{func_name} uses {used}, {_describe(value)} of the notebook, which main.py cannot hold.",
        type="bad_predict",
        hint="Create it inside the function, or put it into the model you deploy "
        "(e.g. a dict {'model': model, 'extra': ...}).",
    )


def _function_node(source: str, name: str) -> tuple[ast.FunctionDef, str]:
    """The function's node, and its text without decorators (deploy's ``@`` would re-run)."""
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    lines = source.splitlines(keepends=True)
    return node, "".join(lines[node.lineno - 1 : node.end_lineno])


def _free_names(node: ast.AST) -> list[str]:
    """Names the function reads that it does not bind itself (parameters, assignments...)."""
    bound: set[str] = set()
    declared_global: set[str] = set()
    loaded: dict[str, None] = {}
    parts = [node.args, *node.body] + ([node.returns] if node.returns else [])  # no decorators
    for sub in (found for part in parts for found in ast.walk(part)):
        if isinstance(sub, ast.arg):
            bound.add(sub.arg)
        elif isinstance(sub, ast.Name):
            if isinstance(sub.ctx, ast.Load):
                loaded.setdefault(sub.id, None)
            else:
                bound.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in sub.names)
        elif isinstance(sub, ast.ExceptHandler) and sub.name:
            bound.add(sub.name)
        elif isinstance(sub, ast.Global):
            declared_global.update(sub.names)
    return [n for n in loaded if n not in bound or n in declared_global]


def _importable(module: str, qualname: str, value) -> bool:
    if "<" in qualname or module in ("__main__", "builtins") or module not in sys.modules:
        return False
    found = sys.modules[module]
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found is value


def _is_constant(value) -> bool:
    if isinstance(value, _CONSTANT_TYPES):
        return not isinstance(value, (float, complex)) or cmath.isfinite(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value) in (list, tuple, set, frozenset) and all(map(_is_constant, value))
    if isinstance(value, dict):
        return type(value) is dict and all(
            _is_constant(k) and _is_constant(v) for k, v in value.items()
        )
    return False


def _describe(value) -> str:
    kind = type(value)
    return (
        f"a {kind.__qualname__}"
        if kind.__module__ == "builtins"
        else (f"a {kind.__module__}.{kind.__qualname__}")
    )


def _reserved(name: str) -> UsageError:
    return UsageError(
        f"The name {name} is one main.py defines itself.",
        type="bad_predict",
        hint=f"Rename {name} in the notebook (and run that cell again).",
    )
