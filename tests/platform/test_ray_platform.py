"""The real platform on the Ray engine: `hub build --deploy`, then calls through the gateway.

A local Ray cluster (127.0.0.1) is started for this module; the platform process joins it by
address (``"engine": {"name": "ray", "address": ...}``), so the API's replicas run in the
cluster's processes, not the platform's, and the gateway reaches them through Serve handles.
"""

from __future__ import annotations

import json

import pytest
import requests
from platform_helpers import PlatformProcess, wait_until

# Starting a Ray cluster takes 20-40 s on 2 quiet cores, minutes on a busy machine.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def ray_platform(tmp_path_factory):
    from ray_cluster import ray_cluster

    with ray_cluster() as address:
        home = tmp_path_factory.mktemp("ray-platform-home")
        config = {
            "plans": {"free": {"rate_limit_per_second": 0, "monthly_calls": None}},
            "engine": {"name": "ray", "address": address},
        }
        proc = PlatformProcess(home, config).start(timeout=180)
        try:
            yield proc
        finally:
            proc.stop()


def post(endpoint: str, key: str, body) -> requests.Response:
    return requests.post(endpoint, headers={"x-api-key": key}, data=json.dumps(body), timeout=300)


def test_an_api_built_and_deployed_on_ray_answers_logs_and_times_out(ray_platform):
    project = ray_platform.make_project("on-ray", runtime={"timeout_seconds": 3})
    deployed = ray_platform.deploy(project)
    endpoint, key = deployed["endpoint"], ray_platform.key()

    resp = post(endpoint, key, {"op": "print", "lines": ["a line from ray"]})
    assert resp.status_code == 200, resp.text
    body = resp.json()["body"]
    assert body["output"] == 1
    logs = ray_platform.control(
        "GET", "/api/v1/apis/on-ray/logs", params={"invocation_id": body["invocation_id"]}
    ).json()["lines"]
    assert [line["line"] for line in logs if line["stream"] == "stdout"] == ["a line from ray"]

    slow = post(endpoint, key, {"op": "sleep", "seconds": 60})
    assert slow.status_code == 504, slow.text
    assert post(endpoint, key, "after").json()["body"]["output"] == "after"

    assert requests.post(endpoint, data="1", timeout=30).status_code in (401, 403)  # no key
    # It ran on the cluster: a Serve application of this API has a running replica there.
    from ray import serve

    apps = {n: a for n, a in serve.status().applications.items() if "alice-on-ray" in n}
    assert len(apps) == 1, list(serve.status().applications)
    (app,) = apps.values()
    assert app.deployments["hub"].replica_states.get("RUNNING", 0) >= 1
    summary = ray_platform.control("GET", "/api/v1/apis/on-ray").json()
    assert summary["name"] == "on-ray"


def test_an_asynchronous_call_on_ray_runs_to_its_own_limit_past_timeout_seconds(ray_platform):
    project = ray_platform.make_project(
        "async-on-ray", runtime={"timeout_seconds": 2, "async_timeout_seconds": 60}
    )
    endpoint = ray_platform.deploy(project)["endpoint"]
    key = ray_platform.key()
    assert post(endpoint, key, {"op": "sleep", "seconds": 4}).status_code == 504  # synchronous

    submitted = requests.post(
        endpoint,
        headers={"x-api-key": key, "Prefer": "respond-async"},
        data=json.dumps({"op": "sleep", "seconds": 4}),
        timeout=60,
    )
    assert submitted.status_code == 202, submitted.text
    url = submitted.json()["body"]["url"]

    def finished():
        body = requests.get(url, headers={"x-api-key": key}, timeout=30).json()["body"]
        return body if body["status"] in ("succeeded", "failed") else None

    body = wait_until(finished, "the asynchronous call to finish", guard=120)
    assert body["status"] == "succeeded", body  # past timeout_seconds: the call's own limit
    assert body["output"] == "slept"
    # The replica's limit for synchronous calls is unchanged after it.
    assert post(endpoint, key, {"op": "sleep", "seconds": 4}).status_code == 504
    assert post(endpoint, key, "after").json()["body"]["output"] == "after"
