"""src/main.py must hold exactly one @hub_handler (found without importing it); requirements
must parse, and equivalent requirement files normalise to the same text."""

from __future__ import annotations

import pytest

from jupyter_hub_api.errors import UsageError
from jupyter_hub_api.project.handler_check import find_handler
from jupyter_hub_api.project.requirements import normalise_requirements


def _main(tmp_path, text):
    path = tmp_path / "main.py"
    path.write_text(text)
    return path


def test_the_one_handler_is_found_without_importing_heavy_libraries(tmp_path):
    # Importing this file would fail (no such module): the check must only parse it.
    path = _main(
        tmp_path,
        "import a_library_that_is_not_installed\nfrom hub import hub_handler\n\n"
        "@hub_handler\ndef predict(inputs, _):\n    return inputs\n",
    )
    assert find_handler(path) == "predict"


def test_attribute_and_async_forms_count_as_handlers(tmp_path):
    assert (
        find_handler(_main(tmp_path, "import hub\n@hub.hub_handler\nasync def h(i, c): pass\n"))
        == "h"
    )


def test_no_handler_is_refused(tmp_path):
    with pytest.raises(UsageError, match="no function decorated with @hub_handler") as err:
        find_handler(_main(tmp_path, "def inference_handler(inputs, context):\n    return 1\n"))
    assert err.value.type == "no_handler"


def test_two_handlers_are_refused_with_both_names(tmp_path):
    text = "from hub import hub_handler\n@hub_handler\ndef a(i, c): pass\n@hub_handler\ndef b(i, c): pass\n"
    with pytest.raises(UsageError) as err:
        find_handler(_main(tmp_path, text))
    assert "a (line 3)" in str(err.value) and "b (line 5)" in str(err.value)
    assert err.value.type == "two_handlers"


def test_a_handler_without_arguments_is_refused_but_one_argument_is_fine(tmp_path):
    with pytest.raises(UsageError, match=r"def h\(inputs, context\)"):
        find_handler(_main(tmp_path, "from hub import hub_handler\n@hub_handler\ndef h(): pass\n"))
    assert (
        find_handler(_main(tmp_path, "from hub import hub_handler\n@hub_handler\ndef h(x): pass\n"))
        == "h"
    )


def test_a_syntax_error_is_reported_with_its_line(tmp_path):
    with pytest.raises(UsageError, match="line 2"):
        find_handler(_main(tmp_path, "x = 1\ndef broken(:\n"))


def test_a_missing_main_py_is_refused(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        find_handler(tmp_path / "main.py")


HOSTED_2021_MAIN = """\
import json

def handler(event, context):
    if event == 'PING':
        return {'statusCode': 200, 'body': json.dumps("PING RESPONSE")}
    inputs = json.loads(event['inputs'])
    return {'statusCode': 200, 'body': json.dumps(inputs)}
"""


def test_the_hosted_2021_handler_without_a_decorator_is_accepted(tmp_path):
    assert find_handler(_main(tmp_path, HOSTED_2021_MAIN)) == "handler"


def test_a_decorated_handler_wins_over_a_function_called_handler(tmp_path):
    text = (
        HOSTED_2021_MAIN + "\nfrom hub import hub_handler\n@hub_handler\ndef predict(i, c): pass\n"
    )
    assert find_handler(_main(tmp_path, text)) == "predict"


@pytest.mark.parametrize(
    "text",
    [
        "def handler(event):\n    return event\n",  # not called with one argument
        "class A:\n    def handler(self, event, context): pass\n",  # not top-level
        "def outer():\n    def handler(event, context): pass\n",
        "handler = lambda event, context: None\n",
    ],
)
def test_only_a_top_level_two_argument_handler_counts_as_the_2021_style(tmp_path, text):
    with pytest.raises(UsageError, match="no function decorated with @hub_handler") as err:
        find_handler(_main(tmp_path, text))
    assert "def handler(event, context)" in str(err.value)


def test_equivalent_requirements_normalise_to_the_same_text():
    a = "Scikit_Learn >= 1.4\n# a comment\n\njoblib  # trailing comment\n"
    b = "joblib\nscikit-learn>=1.4\n"
    assert normalise_requirements(a) == normalise_requirements(b) == "joblib\nscikit-learn>=1.4\n"


@pytest.mark.parametrize(
    "text",
    [
        "Torch[CUDA, extra]>=2,<3 ; python_version >= '3.9'\nnumpy\n",
        "--extra-index-url https://example.invalid/simple\npkg @ https://example.invalid/p.whl\n",
    ],
)
def test_normalising_twice_changes_nothing(text):
    # The platform re-normalises the text stored in a build record: it must key the same env.
    once = normalise_requirements(text)
    assert normalise_requirements(once) == once


def test_index_options_are_kept_and_change_the_text():
    text = normalise_requirements("--extra-index-url https://example.invalid/simple\ntorch\n")
    assert text.startswith("--extra-index-url https://example.invalid/simple\n")


@pytest.mark.parametrize(
    "text, words",
    [
        ("numpy\nscikit learn ==1\n", "line 2"),
        ("-r other.txt\n", "line 1: '-r other.txt' includes another file"),
        ("numpy\n-e .\n", "line 2: '-e .' is an editable install"),
        ("--no-such-option\n", "line 1: '--no-such-option' is not valid"),
    ],
)
def test_unparseable_requirements_name_the_line(text, words):
    with pytest.raises(UsageError, match=words):
        normalise_requirements(text)
