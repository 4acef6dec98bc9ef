"""The handler's input schema and streaming, read from main.py with ast (project/input_schema.py).

Each schema is also checked against real inputs with fastjsonschema, so a wrong schema (one
that refuses what the handler takes, or takes what it refuses) fails here.
"""

from __future__ import annotations

import textwrap

import fastjsonschema
import pytest

from jupyter_hub_api.errors import UsageError
from jupyter_hub_api.project.input_schema import handler_info


def info(tmp_path, source: str, config: dict | None = None) -> dict:
    main = tmp_path / "main.py"
    main.write_text(textwrap.dedent(source), encoding="utf-8")
    return handler_info(main, config or {})


def schema_of(tmp_path, annotation: str, prelude: str = "") -> dict | None:
    source = (
        "from typing import *\nfrom hub import hub_handler\n"
        + textwrap.dedent(prelude)
        + f"\n@hub_handler\ndef predict(inputs: {annotation}, context):\n    return inputs\n"
    )
    return info(tmp_path, source)["input_schema"]


def accepts(schema: dict, value) -> bool:
    try:
        fastjsonschema.compile(schema)(value)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


@pytest.mark.parametrize(
    ("annotation", "good", "bad"),
    [
        ("str", "hi", 3),
        ("int", 3, 3.5),
        ("float", 3.5, "x"),
        ("bool", True, 1),
        ("list", [1, "a"], {}),
        ("dict", {"a": 1}, []),
        ("list[list[float]]", [[5.1, 3.5]], [["x"]]),
        ("List[int]", [1, 2], [1.5]),
        ("dict[str, int]", {"a": 1}, {"a": "b"}),
        ("Dict[str, list[str]]", {"a": ["x"]}, {"a": [1]}),
        ("Optional[int]", None, "x"),
        ("int | None", 4, "x"),
        ("Union[int, str]", "x", 1.5),
        ('Literal["en", "de"]', "de", "fr"),
        ("Literal[1, 2]", 2, 3),
        ("tuple[int, str]", [1, "a"], [1, "a", 2]),
        ("tuple[float, ...]", [1.0, 2.0, 3.0], ["a"]),
        ("Annotated[int, 'a note']", 1, "x"),
        ('"list[int]"', [1], ["a"]),
    ],
)
def test_annotations_become_schemas(tmp_path, annotation, good, bad):
    schema = schema_of(tmp_path, annotation)
    assert schema is not None, annotation
    assert accepts(schema, good)
    assert not accepts(schema, bad)


def test_typed_dict_fields_required_and_not(tmp_path):
    schema = schema_of(
        tmp_path,
        "Query",
        """
        class Query(TypedDict):
            '''A question for the model.'''
            text: str
            lang: NotRequired[Literal["en", "de"]]
            top_k: int
        """,
    )
    assert schema["title"] == "Query"
    assert schema["description"] == "A question for the model."
    assert schema["required"] == ["text", "top_k"]
    assert accepts(schema, {"text": "hi", "top_k": 3})
    assert not accepts(schema, {"text": "hi"})
    assert not accepts(schema, {"text": "hi", "top_k": 3, "lang": "fr"})


def test_typed_dict_total_false(tmp_path):
    schema = schema_of(
        tmp_path, "Opts", "class Opts(TypedDict, total=False):\n    a: int\n    b: Required[str]\n"
    )
    assert schema["required"] == ["b"]


def test_pydantic_model_defaults_and_bounds(tmp_path):
    schema = schema_of(
        tmp_path,
        "Request",
        """
        from pydantic import BaseModel, Field

        class Flower(BaseModel):
            sepal_length: float = Field(..., ge=0, description="cm")
            sepal_width: float = 3.0

        class Request(BaseModel):
            flowers: list[Flower]
            explain: bool = False
            note: Optional[str] = None
        """,
    )
    assert schema["required"] == ["flowers"]
    assert schema["properties"]["explain"] == {"type": "boolean", "default": False}
    flower = schema["properties"]["flowers"]["items"]
    assert flower["required"] == ["sepal_length"]
    assert flower["properties"]["sepal_length"] == {
        "type": "number",
        "minimum": 0,
        "description": "cm",
    }
    assert accepts(schema, {"flowers": [{"sepal_length": 5.1}]})
    assert not accepts(schema, {"flowers": [{"sepal_length": -1}]})


def test_dataclass_and_alias(tmp_path):
    schema = schema_of(
        tmp_path,
        "Point",
        """
        from dataclasses import dataclass, field
        Row = list[float]

        @dataclass
        class Point:
            rows: Row
            label: str = "x"
            tags: list[str] = field(default_factory=list)
        """,
    )
    assert schema["required"] == ["rows"]
    assert schema["properties"]["rows"] == {"type": "array", "items": {"type": "number"}}
    assert schema["properties"]["label"]["default"] == "x"


@pytest.mark.parametrize(
    ("annotation", "prelude"),
    [
        ("np.ndarray", "import numpy as np"),
        ("Any", ""),
        ("Image", "from PIL import Image"),  # an imported class: unknown here
        ("Plain", "class Plain:\n    x: int\n"),  # not a TypedDict, model or dataclass
        ("Node", "class Node(TypedDict):\n    child: 'Node'\n"),  # recursive
        ("dict[int, str]", ""),  # JSON keys are strings
        ("list[Any]", ""),
        ("Literal[Color.RED]", "import enum\nclass Color(enum.Enum):\n    RED = 1\n"),
        ("int()", ""),
    ],
)
def test_unknown_annotations_give_no_schema(tmp_path, annotation, prelude):
    assert schema_of(tmp_path, annotation, prelude) is None


def test_no_annotation_no_schema(tmp_path):
    got = info(
        tmp_path,
        "from hub import hub_handler\n@hub_handler\ndef p(inputs, context):\n    return 1\n",
    )
    assert got == {"input_schema": None, "input_source": None, "streams": False}


def test_malformed_code_gives_no_schema(tmp_path):
    assert info(tmp_path, "def predict(inputs: list[int], context:\n")["input_schema"] is None
    (tmp_path / "bin.py").write_bytes(b"\xff\xfe\x00")
    assert handler_info(tmp_path / "bin.py", {})["input_schema"] is None
    assert handler_info(tmp_path / "missing.py", {})["streams"] is False


def test_batch_handler_takes_one_item(tmp_path):
    got = info(
        tmp_path,
        """
        from hub import hub_handler
        @hub_handler(batch=True, max_batch_size=8)
        def predict(inputs: list[list[float]], contexts):
            return inputs
        """,
    )
    assert got["input_schema"] == {"type": "array", "items": {"type": "number"}}


def test_event_style_handler(tmp_path):
    got = info(tmp_path, "def handler(event: dict[str, str], context):\n    return event\n")
    assert got["input_schema"] == {"type": "object", "additionalProperties": {"type": "string"}}


def test_generators_stream(tmp_path):
    plain = "from hub import hub_handler\n@hub_handler\ndef p(inputs: str, context):\n"
    assert info(tmp_path, plain + "    yield inputs\n")["streams"] is True
    assert info(tmp_path, plain + "    yield from inputs\n")["streams"] is True
    asyncgen = plain.replace("def p", "async def p") + "    yield inputs\n"
    assert info(tmp_path, asyncgen)["streams"] is True
    nested = plain + "    def inner():\n        yield 1\n    return list(inner())\n"
    assert info(tmp_path, nested)["streams"] is False


def test_hub_config_schema_wins(tmp_path):
    declared = {"type": "object", "properties": {"text": {"type": "string"}}}
    got = info(
        tmp_path,
        "from hub import hub_handler\n@hub_handler\ndef p(inputs: int, context):\n    return 1\n",
        {"input_schema": declared},
    )
    assert got == {"input_schema": declared, "input_source": "hub_config", "streams": False}


@pytest.mark.parametrize(
    ("declared", "says"),
    [
        ([1, 2], "must be a JSON Schema object"),
        ({"type": "strng"}, "is not a valid JSON Schema"),
    ],
)
def test_bad_declared_schema_is_refused(tmp_path, declared, says):
    with pytest.raises(UsageError, match=says):
        info(tmp_path, "def handler(event, context):\n    return 1\n", {"input_schema": declared})


DECORATED = """\
from hub import hub_handler
SCHEMA_NOTE = "a module constant is not a literal in place"

@hub_handler(input_schema={"type": "object", "properties": {"text": {"type": "string"}},
                           "required": ["text"], "additionalProperties": False})
def p(inputs: int, context):
    return 1
"""


def test_decorator_schema_comes_before_the_type_hints(tmp_path):
    got = info(tmp_path, DECORATED)
    assert got["input_source"] == "decorator"
    assert accepts(got["input_schema"], {"text": "hi"})
    assert not accepts(got["input_schema"], 3)  # the hint (int) is not what the form asks for
    # hub_config.json's input_schema still comes first.
    declared = {"type": "integer"}
    first = info(tmp_path, DECORATED, {"input_schema": declared})
    assert (first["input_schema"], first["input_source"]) == (declared, "hub_config")
    # input_schema=None is as if it were not there: the hints again.
    hinted = info(tmp_path, DECORATED.replace('input_schema={"type"', 'input_schema=None, x={"t"'))
    assert hinted["input_source"] == "type_hints" and hinted["input_schema"] == {"type": "integer"}


@pytest.mark.parametrize(
    ("argument", "says"),
    [
        ("SCHEMA_NOTE", r"\(line 4\) must be written out as a dict literal"),
        ("dict(type='string')", "must be written out as a dict literal"),
        ("[1, 2]", r"@hub_handler\(input_schema=...\) must be a JSON Schema object"),
        ('{"type": "strng"}', r"@hub_handler\(input_schema=...\) is not a valid JSON Schema"),
    ],
)
def test_bad_decorator_schema_is_refused(tmp_path, argument, says):
    source = f"from hub import hub_handler\n\n\n@hub_handler(input_schema={argument})\n"
    source += "def p(inputs, context):\n    return 1\n"
    with pytest.raises(UsageError, match=says):
        info(tmp_path, source)


def test_decorator_keeps_the_schema_on_the_function():
    from hub import hub_handler

    schema = {"type": "string"}

    @hub_handler(input_schema=schema)
    def predict(inputs, context):
        return inputs

    assert predict.__hub_input_schema__ == schema and predict("x", None) == "x"
    with pytest.raises(TypeError, match="takes a JSON Schema dict"):
        hub_handler(input_schema="string")(lambda inputs, context: inputs)
