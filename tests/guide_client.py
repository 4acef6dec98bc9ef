"""The hosted guide's client code, run as a script of its own against one of our platforms.

``guide_client.py.txt`` beside this file holds the code verbatim; :func:`run_guide_client` puts
a test's key, user, API name and platform address in place of the guide's placeholders (and,
when asked, another payload in place of ``sample_inputs[0]``), runs it with this interpreter
and returns what it printed. The code is in a ``.txt`` file so no formatter ever changes it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

GUIDE_CLIENT = (Path(__file__).parent / "guide_client.py.txt").read_text()


def run_guide_client(platform, api: str, payload=..., timeout: float = 600) -> object:
    """Run the guide's client against ``platform``'s API ``api``; the value it prints (a str
    output prints as its bare text, which is what this returns for it).

    ``payload`` (any JSON value) replaces the guide's ``sample_inputs[0]`` when given.
    """
    code = GUIDE_CLIENT
    replacements = [
        ('"YOUR API KEY"', repr(platform.key())),
        ('"YOUR USERNAME"', repr(platform.user)),
        ('"sentiment-analyser"', repr(api)),
        ("https://api.cellstrathub.com", platform.url),
    ]
    if payload is not ...:
        replacements.append(("payload = sample_inputs[0]", f"payload = {payload!r}"))
    for placeholder, value in replacements:
        assert code.count(placeholder) == 1, placeholder
        code = code.replace(placeholder, value)
    proc = subprocess.run(  # noqa: S603 - argv list
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout.strip()
    try:
        return ast.literal_eval(printed)  # print(output) of a list, dict, number...
    except (ValueError, SyntaxError):
        return printed  # ...or of a string, which prints without its quotes
