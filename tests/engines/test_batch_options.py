"""``@hub_handler``'s batch options: bad ones are refused in one sentence, at import.

The decorator itself is plain Python (what a notebook calls before any build); a wrong option
in a deployed ``main.py`` is the API's load error, with that sentence.
"""

from __future__ import annotations

import json

import pytest

from hub import hub_handler


def test_the_decorator_keeps_the_function_callable_and_marks_batch_options():
    def predict(inputs, contexts):
        return [x * 2 for x in inputs]

    marked = hub_handler(batch=True, max_batch_size=8, max_wait_ms=2)(predict)
    assert marked is predict and marked([1, 2], None) == [2, 4]
    assert predict.__hub_batch__ == {"max_batch_size": 8, "max_wait_ms": 2.0}

    def plain(inputs, context):
        return inputs

    assert hub_handler(plain) is plain and not hasattr(plain, "__hub_batch__")
    assert hub_handler()(plain) is plain


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"batch": True, "max_batch_size": 0}, ValueError, "max_batch_size=0"),
        ({"batch": True, "max_batch_size": 2.5}, ValueError, "whole number from 1 to 1024"),
        ({"batch": True, "max_wait_ms": -1}, ValueError, "milliseconds from 0 to 1000"),
        ({"batch": "yes"}, TypeError, "True or False"),
        ({"max_batch_size": 8}, TypeError, "add batch=True"),
    ],
)
def test_bad_options_are_refused_in_one_sentence(options, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(")):
        hub_handler(**options)(lambda inputs, contexts: inputs)


async def test_a_bad_option_in_main_py_is_the_apis_load_error(engine, make_spec):
    spec = make_spec(
        "from hub import hub_handler\n\n"
        "@hub_handler(batch=True, max_batch_size=5000)\n"
        "def predict(inputs, contexts):\n"
        "    return inputs\n"
    )
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, json.dumps([1]).encode(), "inv")
    assert result.error_type == "LoadError"
    assert "max_batch_size=5000" in result.error_message
    assert "whole number from 1 to 1024" in result.error_message
