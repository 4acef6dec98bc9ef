"""What a handler takes and how it answers, read at build time without importing user code.

The build record keeps ``handler``: ``{"input_schema", "input_source", "streams"}``; the
platform reports it with the API's detail and the deployments panel's test console offers a
form for the input when there is a schema.

- ``input_schema``: a JSON Schema of the request body, from (in this order)
  ``"input_schema"`` in hub_config.json (the project declares it), else
  ``@hub_handler(input_schema={...})`` in ``src/main.py`` (a dict literal, read with
  :func:`ast.literal_eval`: main.py is never run), else the type hint of the
  handler's first parameter in ``src/main.py``, read with :mod:`ast`: ``str``, ``int``,
  ``float``, ``bool``, ``list``/``dict``, ``list[X]``, ``dict[str, X]``, ``tuple[X, Y]``,
  ``tuple[X, ...]``, ``Optional[X]``/``X | None``, ``Literal[...]``, ``Annotated[X, ...]`` and
  the ``TypedDict``, pydantic ``BaseModel`` and ``@dataclass`` classes defined in main.py. An
  annotation it cannot read (``np.ndarray``, an imported class, a recursive class) gives no
  schema: the console then offers the JSON editor only, as without hints. ``None`` when there is
  neither.
- ``input_source``: ``"hub_config"``, ``"decorator"``, ``"type_hints"`` or ``None``.
- ``streams``: the handler is a generator (it has a ``yield`` of its own): its outputs can be
  asked for as Server-Sent Events (``Accept: text/event-stream``).

Nothing here raises on user code it cannot read: a syntax error or an odd annotation only
means no schema (``find_handler`` reports syntax errors during validation).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from ..errors import UsageError

#: The builtin names and the JSON Schema they stand for.
_SCALARS: dict[str, dict] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "list": {"type": "array"},
    "List": {"type": "array"},
    "Sequence": {"type": "array"},
    "dict": {"type": "object"},
    "Dict": {"type": "object"},
    "Mapping": {"type": "object"},
}
_LISTS = {"list", "List", "Sequence", "Iterable", "set", "frozenset", "Set"}
_DICTS = {"dict", "Dict", "Mapping"}
_BASES_TYPEDDICT = {"TypedDict"}
_BASES_MODEL = {"BaseModel"}
# A schema nested deeper than this is not shown as a form (and a cycle stops here too).
_MAX_DEPTH = 12


class _Unknown(Exception):
    """An annotation that has no JSON Schema here."""


def handler_info(main_py: Path | str, config: dict) -> dict:
    """``{"input_schema", "input_source", "streams"}`` of the project's handler (see module)."""
    declared = config.get("input_schema")
    tree = _parse(main_py)
    handler = _handler(tree) if tree is not None else None
    streams = handler is not None and _is_generator(handler)
    if declared is not None:
        check_declared_schema(declared)
        return {"input_schema": declared, "input_source": "hub_config", "streams": streams}
    decorated = _decorator_schema(handler) if handler is not None else None
    if decorated is not None:
        check_declared_schema(decorated, where=DECORATOR)
        return {"input_schema": decorated, "input_source": "decorator", "streams": streams}
    schema = None
    if handler is not None:
        try:
            schema = _Reader(tree).input_of(handler)
        except (_Unknown, RecursionError):
            schema = None
    return {
        "input_schema": schema,
        "input_source": "type_hints" if schema is not None else None,
        "streams": streams,
    }


HUB_CONFIG = "hub_config.json: input_schema"
DECORATOR = "src/main.py: @hub_handler(input_schema=...)"


def check_declared_schema(schema: Any, where: str = HUB_CONFIG) -> None:
    """Refuse a declared ``input_schema`` (``where`` says which) that is not a usable JSON
    Schema."""
    import fastjsonschema

    if not isinstance(schema, dict):
        raise UsageError(
            f"{where} must be a JSON Schema object, e.g. "
            '{"type": "object", "properties": {"text": {"type": "string"}}}.',
            type="bad_config",
            field="input_schema",
        )
    try:
        fastjsonschema.compile(schema)
    except fastjsonschema.JsonSchemaDefinitionException as err:
        raise UsageError(
            f"{where} is not a valid JSON Schema ({err}).",
            type="bad_config",
            field="input_schema",
            hint="Fix the schema (draft-07), or remove input_schema to use the type hints.",
        ) from None


def _decorator_schema(handler: ast.FunctionDef | ast.AsyncFunctionDef) -> Any:
    """The ``input_schema=`` of the handler's ``@hub_handler(...)``, or None without one."""
    value = _option(handler, "input_schema")
    if value is None or (isinstance(value, ast.Constant) and value.value is None):
        return None
    try:
        return ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise UsageError(
            f"{DECORATOR} (line {value.lineno}) must be written out as a dict literal: the "
            "build reads it without running main.py.",
            type="bad_config",
            field="input_schema",
            hint="Write the schema in place, or put it in hub_config.json's input_schema.",
        ) from None


# -- reading main.py ---------------------------------------------------------------------------
def _parse(main_py: Path | str) -> ast.Module | None:
    try:
        return ast.parse(Path(main_py).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None


def _decorator_name(node: ast.expr) -> str | None:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return None


def _handler(tree: ast.Module) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The ``@hub_handler`` function, else a top-level 2021-style ``handler``."""
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    marked = [
        n for n in functions if any(_decorator_name(d) == "hub_handler" for d in n.decorator_list)
    ]
    if len(marked) == 1:
        return marked[0]
    if not marked:
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "handler":
                return node
    return None


def _option(handler: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> ast.expr | None:
    """The expression of ``@hub_handler(name=...)`` on ``handler``, or None."""
    for d in handler.decorator_list:
        if isinstance(d, ast.Call) and _decorator_name(d) == "hub_handler":
            for kw in d.keywords:
                if kw.arg == name:
                    return kw.value
    return None


def _is_batch(handler: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    value = _option(handler, "batch")
    return isinstance(value, ast.Constant) and value.value is True


def _is_generator(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether ``function`` itself yields (not a function or lambda nested in it)."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


class _Reader:
    """Turns annotations of one module into JSON Schemas."""

    def __init__(self, tree: ast.Module) -> None:
        self.classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
        # Simple aliases at module level: Row = list[float]
        self.aliases: dict[str, ast.expr] = {}
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                self.aliases[node.targets[0].id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                if node.value is not None and _last_name(node.annotation) == "TypeAlias":
                    self.aliases[node.target.id] = node.value
            elif hasattr(ast, "TypeAlias") and isinstance(node, ast.TypeAlias):
                self.aliases[node.name.id] = node.value
        self._active: set[str] = set()

    def input_of(self, handler: ast.FunctionDef | ast.AsyncFunctionDef) -> dict | None:
        args = handler.args.posonlyargs + handler.args.args
        if not args or args[0].annotation is None:
            return None
        schema = self.schema(args[0].annotation, 0)
        if _is_batch(handler):
            # A batch handler is annotated with the list of inputs; a request sends one.
            if schema.get("type") != "array" or not isinstance(schema.get("items"), dict):
                return None
            schema = schema["items"]
        if not schema:
            return None
        return schema

    def schema(self, node: ast.expr, depth: int) -> dict:
        if depth > _MAX_DEPTH:
            raise _Unknown
        if isinstance(node, ast.Constant):
            if node.value is None:
                return {"type": "null"}
            if isinstance(node.value, str):  # a forward reference: "Query"
                try:
                    return self.schema(ast.parse(node.value, mode="eval").body, depth + 1)
                except SyntaxError:
                    raise _Unknown from None
            raise _Unknown
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self._union(_flatten_or(node), depth)
        if isinstance(node, ast.Subscript):
            return self._generic(node, depth)
        name = _dotted(node)
        if name is None:
            raise _Unknown
        last = name.rsplit(".", 1)[-1]
        if last in ("Any", "object", "JSON"):
            raise _Unknown  # any JSON at all: nothing a form could offer
        if name in self.classes:
            return self._class(self.classes[name], depth)
        if name in self.aliases and name not in self._active:
            self._active.add(name)
            try:
                return self.schema(self.aliases[name], depth + 1)
            finally:
                self._active.discard(name)
        if last in _SCALARS and ("." not in name or name.split(".")[0] == "typing"):
            return dict(_SCALARS[last])
        raise _Unknown

    def _generic(self, node: ast.Subscript, depth: int) -> dict:
        origin = _dotted(node.value)
        if origin is None:
            raise _Unknown
        last = origin.rsplit(".", 1)[-1]
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if last in _LISTS and len(args) == 1:
            return {"type": "array", "items": self.schema(args[0], depth + 1)}
        if last in _DICTS and len(args) == 2:
            if _dotted(args[0]) != "str":
                raise _Unknown  # JSON object keys are strings
            return {"type": "object", "additionalProperties": self.schema(args[1], depth + 1)}
        if last in ("tuple", "Tuple"):
            if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is ...:
                return {"type": "array", "items": self.schema(args[0], depth + 1)}
            items = [self.schema(a, depth + 1) for a in args]
            return {
                "type": "array",
                "items": items,
                "minItems": len(items),
                "maxItems": len(items),
            }
        if last == "Optional" and len(args) == 1:
            return self._union([args[0], ast.Constant(None)], depth)
        if last == "Union":
            return self._union(args, depth)
        if last == "Literal":
            values = []
            for a in args:
                if not isinstance(a, ast.Constant) or not isinstance(
                    a.value, str | int | float | bool | type(None)
                ):
                    raise _Unknown
                values.append(a.value)
            kinds = {_json_type(v) for v in values}
            schema: dict = {"enum": values}
            if len(kinds) == 1:
                schema["type"] = kinds.pop()
            return schema
        if last in ("Annotated", "Required", "NotRequired", "ReadOnly", "Final"):
            return self.schema(args[0], depth + 1)
        raise _Unknown

    def _union(self, members: list[ast.expr], depth: int) -> dict:
        nullable = any(isinstance(m, ast.Constant) and m.value is None for m in members)
        rest = [m for m in members if not (isinstance(m, ast.Constant) and m.value is None)]
        schemas = [self.schema(m, depth + 1) for m in rest]
        if not schemas:
            return {"type": "null"}
        if nullable:
            schemas.append({"type": "null"})
        if len(schemas) == 1:
            return schemas[0]
        return {"anyOf": schemas}

    def _class(self, cls: ast.ClassDef, depth: int) -> dict:
        if cls.name in self._active:
            raise _Unknown  # a recursive type
        bases = {_last_name(b) for b in cls.bases}
        is_typed_dict = bool(bases & _BASES_TYPEDDICT)
        is_model = bool(bases & _BASES_MODEL)
        is_dataclass = any(_decorator_name(d) == "dataclass" for d in cls.decorator_list)
        if not (is_typed_dict or is_model or is_dataclass):
            raise _Unknown
        total = True
        for kw in cls.keywords:
            if kw.arg == "total" and isinstance(kw.value, ast.Constant):
                total = kw.value.value is not False
        self._active.add(cls.name)
        try:
            properties: dict[str, dict] = {}
            required: list[str] = []
            for stmt in cls.body:
                if not isinstance(stmt, ast.AnnAssign) or not isinstance(stmt.target, ast.Name):
                    continue
                name = stmt.target.id
                if name.startswith("_") or _last_name(stmt.annotation) == "ClassVar":
                    continue
                field = self._field(stmt.annotation, depth)
                optional_hint = _outer(stmt.annotation) == "NotRequired"
                needed = total and not optional_hint or _outer(stmt.annotation) == "Required"
                extra = _field_call(stmt.value) if stmt.value is not None else None
                if extra is not None:
                    field.update(extra["schema"])
                    has_default = extra["has_default"]
                else:
                    has_default = stmt.value is not None
                    if has_default:
                        default = _literal(stmt.value)
                        if default is not _NO_VALUE:
                            field["default"] = default
                if is_typed_dict:
                    if needed:
                        required.append(name)
                elif not has_default:
                    required.append(name)
                properties[name] = field
        finally:
            self._active.discard(cls.name)
        schema: dict = {"type": "object", "title": cls.name, "properties": properties}
        doc = ast.get_docstring(cls)
        if doc:
            schema["description"] = doc.strip().split("\n\n")[0].replace("\n", " ")
        if required:
            schema["required"] = required
        return schema

    def _field(self, annotation: ast.expr, depth: int) -> dict:
        return self.schema(annotation, depth + 1)


_NO_VALUE = object()


def _literal(node: ast.expr) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NO_VALUE
    return value if _jsonable(value) else _NO_VALUE


def _jsonable(value: Any) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(_jsonable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _jsonable(v) for k, v in value.items())
    return False


_FIELD_BOUNDS = {
    "ge": "minimum",
    "le": "maximum",
    "gt": "exclusiveMinimum",
    "lt": "exclusiveMaximum",
    "min_length": "minLength",
    "max_length": "maxLength",
    "description": "description",
    "title": "title",
}


def _field_call(node: ast.expr) -> dict | None:
    """``Field(...)`` / ``field(...)`` of pydantic or dataclasses: default and bounds."""
    if not isinstance(node, ast.Call) or _decorator_name(node) not in ("Field", "field"):
        return None
    schema: dict = {}
    has_default = False
    if node.args:
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and first.value is ...):
            has_default = True
            value = _literal(first)
            if value is not _NO_VALUE:
                schema["default"] = value
    for kw in node.keywords:
        if kw.arg in ("default",):
            has_default = True
            value = _literal(kw.value)
            if value is not _NO_VALUE:
                schema["default"] = value
        elif kw.arg in ("default_factory",):
            has_default = True
        elif kw.arg in _FIELD_BOUNDS:
            value = _literal(kw.value)
            if value is not _NO_VALUE:
                schema[_FIELD_BOUNDS[kw.arg]] = value
    return {"schema": schema, "has_default": has_default}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Subscript):
        node = node.value
    name = _dotted(node)
    return name.rsplit(".", 1)[-1] if name else None


def _outer(node: ast.expr) -> str | None:
    return _last_name(node) if isinstance(node, ast.Subscript) else None


def _flatten_or(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _flatten_or(node.left) + _flatten_or(node.right)
    return [node]
