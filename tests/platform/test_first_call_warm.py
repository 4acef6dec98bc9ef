"""The first call after a deploy is served warm: by the worker the deploy loaded (forked from
the version's template), after the warm-up call of ``runtime.warmup`` ran in it.

Through the real platform and CLI: ``hub build --deploy``, then POSTs with a key; what the
worker did is read from its answer (its import stamp, the calls it saw) and from ``hub logs``.
"""

from __future__ import annotations

import json

import requests

MAIN = """
import os
import time

from hub import hub_handler

print("importing main.py", flush=True)
IMPORTED = time.time_ns()
CALLS = []
{extra}

@hub_handler
def inference_handler(inputs, context):
    if inputs == "fail" and not CALLS:
        raise ValueError("this model needs a list of rows")
    CALLS.append(context.invocation_id)
    return {{"imported": IMPORTED, "calls": list(CALLS), "pid": os.getpid()}}
"""


def imports_logged(platform, api: str) -> int:
    out = platform.hub("logs", api, "--tail", "200", check=True).stdout
    return out.count("importing main.py")


def test_the_first_call_after_a_deploy_finds_the_warmed_up_worker(platform):
    project = platform.make_project(
        "warm", MAIN.format(extra=""), runtime={"warmup": {"input": [[1, 2]]}, "max_workers": 2}
    )
    endpoint = platform.deploy(project)["endpoint"]
    assert imports_logged(platform, "warm") == 1  # the deploy loaded it
    h = {"x-api-key": platform.key(), "Content-Type": "application/json"}
    first = requests.post(endpoint, headers=h, data="[[5, 6]]", timeout=30).json()
    assert first["statusCode"] == 200, first
    output = first["body"]["output"]
    # The same process the deploy loaded, which made the warm-up call before the switch.
    assert output["calls"] == ["warmup", first["body"]["invocation_id"]]
    assert imports_logged(platform, "warm") == 1
    status = platform.control("GET", "/api/v1/apis/warm").json()
    assert status["workers"] == 1 and status["status"] == "ready"


def test_a_failing_warmup_input_fails_the_deploy_and_the_old_version_keeps_serving(platform):
    project = platform.make_project("warmfail", MAIN.format(extra=""))
    endpoint = platform.deploy(project)["endpoint"]
    (project / "hub_config.json").write_text(
        json.dumps(
            {"name": "warmfail", "version": "0.2.0", "runtime": {"warmup": {"input": "fail"}}}
        )
    )
    (project / "src" / "main.py").write_text(MAIN.format(extra="# v2"))
    result = platform.hub("build", "--deploy", cwd=project)
    assert result.returncode != 0
    said = result.stdout + result.stderr
    assert "warm-up call" in said and "this model needs a list of rows" in said, said
    h = {"x-api-key": platform.key(), "Content-Type": "application/json"}
    still = requests.post(endpoint, headers=h, data='"ok"', timeout=30).json()
    assert still["statusCode"] == 200 and still["body"]["output"]["calls"]


def test_a_warmup_that_is_not_an_object_with_input_is_refused_at_build(platform):
    project = platform.make_project("warmbad", MAIN.format(extra=""), runtime={"warmup": [1]})
    result = platform.hub("build", cwd=project)
    assert result.returncode != 0
    assert "warmup" in (result.stdout + result.stderr)
