"""Deploying from projects: the guide's client snippet, redeploys, rollback, delete, limits."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time

import pytest
import requests
from guide_client import run_guide_client


def test_guide_snippet_against_an_sklearn_project_made_by_hub_init(platform):
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    root = platform.home / "projects"
    root.mkdir(exist_ok=True)
    platform.hub("init", "iris", "--template", "sklearn", "--dir", str(root), check=True)
    x, y = load_iris(return_X_y=True)
    joblib.dump(
        LogisticRegression(max_iter=500).fit(x, y), root / "iris" / "model" / "model.joblib"
    )
    result = platform.deploy(root / "iris")
    assert result["endpoint"] == platform.endpoint("iris")
    output = run_guide_client(platform, "iris", [5.1, 3.5, 1.4, 0.2])
    assert output[0]["prediction"] == 0
    assert set(output[0]["probabilities"]) == {"0", "1", "2"}


def test_guide_snippet_with_a_text_payload(platform, behaviour_api):
    assert run_guide_client(platform, "behave", "Deployment is so simple and quick!") == (
        "Deployment is so simple and quick!"
    )


def test_hub_deploy_prints_the_endpoint_and_examples(platform):
    project = platform.make_project("printed")
    platform.hub("build", cwd=project, check=True)
    result = platform.hub("deploy", cwd=project, check=True)
    assert platform.endpoint("printed") in result.stdout
    assert "curl -X POST" in result.stdout and "x-api-key" in result.stdout
    again = platform.hub("deploy", "--json", cwd=project, check=True)
    final = json.loads(again.stdout.splitlines()[-1])
    assert final["event"] == "result" and final["endpoint"] == platform.endpoint("printed")
    assert final["unchanged"] is True


def test_deploy_without_a_build_is_a_usage_error(platform):
    project = platform.make_project("unbuilt")
    result = platform.hub("deploy", cwd=project)
    assert result.returncode == 2 and "hub build" in result.stderr


def test_redeploy_switches_versions_without_a_failed_call(platform):
    project = platform.make_project("rolling", version="one", runtime={"max_workers": 2})
    endpoint = platform.deploy(project)["endpoint"]
    key = platform.key()
    seen: list[tuple[int, object]] = []
    stop = threading.Event()

    def caller():
        session = requests.Session()
        h = {"x-api-key": key, "Content-Type": "application/json"}
        while not stop.is_set():
            resp = session.post(endpoint, headers=h, data=json.dumps({"op": "version"}), timeout=60)
            seen.append((resp.status_code, resp.json()["body"].get("output")))

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        (project / "src" / "main.py").write_text(
            (project / "src" / "main.py").read_text().replace("VERSION = 'one'", "VERSION = 'two'")
        )
        result = platform.deploy(project)
        assert result["version_number"] == 2
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(out == "two" for _, out in seen[-5:]):
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert seen and all(status == 200 for status, _ in seen), {s for s, _ in seen}
    outputs = [out for _, out in seen]
    assert "one" in outputs and "two" in outputs
    # Once the switch happened, no call went to the old version again.
    first_two = outputs.index("two")
    assert "one" not in outputs[first_two + 8 :]


def test_rollback_and_versions(platform):
    project = platform.make_project("versioned", version="first")
    platform.deploy(project)
    (project / "src" / "main.py").write_text(
        (project / "src" / "main.py").read_text().replace("'first'", "'second'")
    )
    platform.deploy(project)
    h = {"x-api-key": platform.key(), "Content-Type": "application/json"}
    ep = platform.endpoint("versioned")

    def version():
        return requests.post(ep, headers=h, data='{"op": "version"}', timeout=30).json()["body"][
            "output"
        ]

    assert version() == "second"
    listed = json.loads(platform.hub("versions", "--json", cwd=project, check=True).stdout)
    assert [(v["version_number"], v["live"]) for v in listed["versions"]] == [(2, True), (1, False)]
    # Each version says what it changed from the one before it (the panel's Changes column).
    assert [v["changes"] for v in listed["versions"]] == [
        ["src/main.py changed"],
        ["first version"],
    ]
    rolled = platform.hub("rollback", cwd=project, check=True)
    assert "#1" in rolled.stdout
    assert version() == "first"
    platform.hub("rollback", "2", "--api", "versioned", check=True)
    assert version() == "second"
    missing = platform.hub("rollback", "9", "--api", "versioned")
    assert missing.returncode == 2 and "no deployable version '9'" in missing.stderr


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(platform):
    project = platform.make_project("sturdy", version="good")
    endpoint = platform.deploy(project)["endpoint"]
    (project / "src" / "main.py").write_text(
        "from hub import hub_handler\n"
        "raise RuntimeError('broken at import')\n"
        "@hub_handler\n"
        "def inference_handler(inputs, context):\n"
        "    return inputs\n"
    )
    result = platform.hub("build", "--deploy", cwd=project)
    assert result.returncode == 1
    assert "broken at import" in result.stderr
    h = {"x-api-key": platform.key(), "Content-Type": "application/json"}
    resp = requests.post(endpoint, headers=h, data='{"op": "version"}', timeout=30)
    assert resp.json()["body"]["output"] == "good"


def test_delete_removes_the_api_but_keeps_the_months_count(platform):
    project = platform.make_project("doomed")
    deployed = platform.deploy(project)
    endpoint = deployed["endpoint"]
    version_dir = platform.home / "platform" / "versions" / deployed["build_id"]
    assert version_dir.is_dir()
    h = {"x-api-key": platform.key(), "Content-Type": "application/json"}
    assert requests.post(endpoint, headers=h, data="1", timeout=30).status_code == 200
    refused = platform.hub("delete", "--api", "doomed")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    platform.hub("delete", "--api", "doomed", "--yes", check=True)
    assert requests.post(endpoint, headers=h, data="1", timeout=30).status_code == 404
    usage = platform.control("GET", "/api/v1/usage").json()
    doomed = next(a for a in usage["apis"] if a["api"] == "doomed")
    assert doomed["deleted"] and doomed["calls"] == 1
    assert not version_dir.exists()


def test_the_plan_allows_five_apis(launch_platform):
    proc = launch_platform()
    for i in range(5):
        proc.deploy(proc.make_project(f"api-{i}"))
    result = proc.hub("build", "--deploy", cwd=proc.make_project("api-5"))
    assert result.returncode == 1
    assert "allows 5 APIs" in result.stderr
    # Redeploying one of the five is fine.
    project = proc.home / "projects" / "api-0"
    (project / "src" / "main.py").write_text(
        (project / "src" / "main.py").read_text() + "\n# changed\n"
    )
    proc.deploy(project)


def test_scale_to_zero_then_cold_start(platform):
    endpoint = platform.deploy(platform.make_project("sleepy", runtime={"idle_seconds": 0.5}))[
        "endpoint"
    ]
    h = {"x-api-key": platform.key(), "Content-Type": "application/json"}
    first = requests.post(endpoint, headers=h, data='{"op": "pid"}', timeout=30).json()
    deadline = time.monotonic() + 20
    status = None
    while time.monotonic() < deadline:
        status = platform.control("GET", "/api/v1/apis/sleepy").json()
        if status["status"] == "cold" and status["workers"] == 0:
            break
        time.sleep(0.1)
    assert status["status"] == "cold" and status["workers"] == 0
    # A POST to a cold API waits for the load instead of failing.
    second = requests.post(endpoint, headers=h, data='{"op": "pid"}', timeout=60).json()
    assert second["statusCode"] == 200
    assert second["body"]["output"] != first["body"]["output"]  # a new worker process


def test_invoke_prints_the_output_and_fails_on_an_error_envelope(platform, behaviour_api):
    ok = platform.hub("invoke", "behave", '{"x": 1}', check=True)
    assert json.loads(ok.stdout) == {"x": 1}
    piped = platform.hub("invoke", "behave", input='"from stdin"', check=True)
    assert json.loads(piped.stdout) == "from stdin"
    failed = platform.hub("invoke", "behave", '{"op": "raise", "msg": "boom"}')
    assert failed.returncode == 1 and "bad input: boom" in failed.stderr
    bad = platform.hub("invoke", "behave", "{not json")
    assert bad.returncode == 2 and "not valid JSON" in bad.stderr


def test_logs_show_what_the_handler_printed_per_invocation_and_follow_live(platform, behaviour_api):
    endpoint, key = behaviour_api
    h = {"x-api-key": key, "Content-Type": "application/json"}
    body = json.dumps({"op": "print", "lines": ["hello from the handler", "second line"]})
    inv = requests.post(endpoint, headers=h, data=body, timeout=30).json()["body"]["invocation_id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = platform.hub("logs", "behave", "--invocation", inv, check=True).stdout
        if "second line" in text:
            break
        time.sleep(0.1)
    assert "hello from the handler" in text and "to stderr" in text

    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_hub_api.cli.main",
            "logs",
            "behave",
            "--follow",
            "--json",
            "--tail",
            "0",
        ],
        env=platform.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in follower.stdout], daemon=True)
    reader.start()
    try:
        # Print until the follower shows a line: it may not be connected for the first ones
        # (with --tail 0 it shows only what is printed after it connected).
        deadline = time.monotonic() + 60
        n = 0
        while True:
            n += 1
            body = json.dumps({"op": "print", "lines": [f"live line {n}"]})
            requests.post(endpoint, headers=h, data=body, timeout=30)
            try:
                line = lines.get(timeout=1.0)
                break
            except queue.Empty:
                assert follower.poll() is None, "the follower exited"
                assert time.monotonic() < deadline, "the follower showed no line in 60 s"
        event = json.loads(line)
        assert event["event"] == "log" and event["line"].startswith("live line ")
    finally:
        follower.terminate()
        follower.wait(10)


def test_invocation_history_keeps_truncated_inputs_and_outputs(platform, behaviour_api):
    endpoint, key = behaviour_api
    h = {"x-api-key": key, "Content-Type": "application/json"}
    big = "y" * 10000
    requests.post(endpoint, headers=h, data=json.dumps(big), timeout=30)
    items = platform.control("GET", "/api/v1/apis/behave/invocations", params={"limit": 1}).json()
    latest = items["invocations"][0]
    assert latest["status"] == 200 and latest["latency_ms"] > 0
    assert latest["input_truncated"] and len(latest["input"]) <= 4096
    assert latest["output_truncated"] and latest["output"].startswith('"yyy')


@pytest.mark.parametrize("command", [["status"], ["usage"], ["versions", "--api", "behave"]])
def test_listing_commands_have_json_forms(platform, behaviour_api, command):
    result = platform.hub(*command, "--json", check=True)
    event = json.loads(result.stdout.splitlines()[-1])
    assert event["event"] == "result"


def test_a_model_folder_that_disappears_is_a_clear_500_and_the_api_recovers(platform):
    deployed = platform.deploy(platform.make_project("fragile", runtime={"idle_seconds": 0.3}))
    endpoint = deployed["endpoint"]
    h = {"x-api-key": platform.key(), "Content-Type": "application/json"}
    assert requests.post(endpoint, headers=h, data="1", timeout=30).status_code == 200
    deadline = time.monotonic() + 20
    while platform.control("GET", "/api/v1/apis/fragile").json()["status"] != "cold":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    model = platform.home / "platform" / "versions" / deployed["build_id"] / "model"
    away = model.with_name("model-away")
    model.rename(away)
    try:
        for method in ("GET", "POST"):  # waking it (GET) and calling it say the same
            resp = requests.request(method, endpoint, headers=h, data="1", timeout=30)
            assert resp.status_code == 500
            error = resp.json()["body"]["error"]
            assert error["type"] == "LoadError" and "model folder" in error["message"]
    finally:
        away.rename(model)
    deadline = time.monotonic() + 40
    while True:
        resp = requests.post(endpoint, headers=h, data="2", timeout=30)
        if resp.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert resp.json()["body"]["output"] == 2


def test_scaling_and_limits_change_without_a_build(platform):
    """PATCH /apis/{name}/runtime: a new version with the live one's files and new settings."""
    project = platform.make_project("scaled", version="v", runtime={"max_workers": 1})
    first = platform.deploy(project)
    path = "/api/v1/apis/scaled/runtime"
    changed = platform.control(
        "PATCH",
        path,
        json={
            "min_workers": 1,
            "max_workers": 3,
            "idle_seconds": 60,
            "timeout_seconds": 5,
            "async_timeout_seconds": 120,
        },
    )
    assert changed.status_code == 200, changed.text
    result = changed.json()
    assert result["version_number"] == first["version_number"] + 1
    assert result["build_id"] != first["build_id"]
    h = {"x-api-key": platform.key(), "Content-Type": "application/json"}
    answer = requests.post(platform.endpoint("scaled"), headers=h, data='{"op": "version"}')
    assert answer.status_code == 200 and answer.json()["body"]["output"] == "v"
    versions = platform.control("GET", "/api/v1/apis/scaled/versions").json()["versions"]
    assert versions[0]["live"] and versions[0]["changes"] == ["settings changed"]
    assert versions[0]["runtime"] == {
        "min_workers": 1,
        "max_workers": 3,
        "idle_seconds": 60,
        "timeout_seconds": 5,
        "async_timeout_seconds": 120,
        "memory_mb": versions[1]["runtime"]["memory_mb"],
    }
    assert versions[1]["runtime"]["max_workers"] == 1
    detail = platform.control("GET", "/api/v1/apis/scaled").json()
    assert detail["workers"] >= 1  # min_workers 1 keeps one loaded
    # Bad inputs: one sentence each, nothing deployed.
    for body, words in [
        ({}, "at least one"),
        ({"min_workers": 5}, "min_workers (5) is more than max_workers (3)"),
        ({"max_workers": 0}, "max_workers"),
        ({"async_timeout_seconds": 0}, "async_timeout_seconds"),
        ({"cpus": 4}, "'cpus' is not a field of this request"),  # not a setting changed here
    ]:
        refused = platform.control("PATCH", path, json=body)
        assert refused.status_code in (400, 422), (body, refused.text)
        assert words in refused.json()["error"]["message"], (body, refused.text)
    missing = platform.control("PATCH", "/api/v1/apis/nothing/runtime", json={"max_workers": 2})
    assert missing.status_code == 404
    after = platform.control("GET", "/api/v1/apis/scaled/versions").json()["versions"]
    assert len(after) == len(versions)
