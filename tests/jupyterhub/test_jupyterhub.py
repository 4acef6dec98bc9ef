"""Two users of one real JupyterHub, one shared platform (the hub's managed service).

alice and bob log in through the hub's login form, start their servers, and each creates and
deploys an API from their own JupyterLab (the server extension's endpoints, as the frontend
calls them); then: each sees only their own APIs, keys and usage; a key calls only its user's
APIs; the monthly quota counts per user; bob's credentials on alice's server are refused by
name; JupyterHub admins are platform admins; the API answers while alice's server is stopped
and after it restarts; a build counts as activity for JupyterHub's culler; the hub restarts
its platform when it dies and stops it when the hub stops.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import psutil
import pytest
from hubtest import HUB_ADMIN, MONTHLY_CALLS, ROOT, USERS, UserSession, wait_for

pytestmark = pytest.mark.timeout(400)

MAIN_PY = """from hub import hub_handler

OWNER = {owner!r}


@hub_handler
def inference_handler(inputs, context):
    print("called by a client of", OWNER, flush=True)
    return {{"owner": OWNER, "echo": inputs}}
"""


def _parallel(fn, items):
    """``fn(item)`` for every item at once (two users work at the same time); their results."""
    results, errors = {}, []

    def run(item):
        try:
            results[item] = fn(item)
        except BaseException as err:  # noqa: BLE001 - re-raised below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


@pytest.fixture(scope="module")
def users(hub) -> dict[str, UserSession]:
    """alice and bob, logged in through the hub, each with their JupyterLab open."""

    def login(name: str) -> UserSession:
        session = hub.sessions[name] = UserSession(hub, name)
        session.login()
        session.start_server()
        return session

    return _parallel(login, USERS)


def create_project(session: UserSession, name: str, **texts: str) -> None:
    """The wizard's "Create" (``main_py``, ``requirements``), then an edit of hub_config.json
    in JupyterLab (its contents API): no base packages, so the environment is quick to make
    and needs no index."""
    session.json(
        "POST", "hub-api/projects", expect=201, json={"name": name, "template": "blank", **texts}
    )
    path = f"api/contents/{name}/hub_config.json"
    config = json.loads(session.json("GET", path)["content"])
    config["base_packages"] = False
    session.json(
        "PUT", path, json={"type": "file", "format": "text", "content": json.dumps(config)}
    )


def deploy(session: UserSession, project: str = "echo") -> dict:
    """What the wizard does: create the project (its main.py), then a build+deploy job; wait
    for the job as the log panel does. Returns the ended job."""
    create_project(session, project, main_py=MAIN_PY.format(owner=session.name))
    job = session.json(
        "POST", "hub-api/jobs", expect=202, json={"kind": "build+deploy", "project": project}
    )

    def ended():
        current = session.json("GET", f"hub-api/jobs/{job['id']}")
        return current if current["state"] not in ("queued", "running") else None

    return wait_for(f"{session.name}'s deploy job", ended, timeout=240, every=0.5, hub=session.hub)


@pytest.fixture(scope="module")
def deployed(hub, users) -> dict[str, dict]:
    """Each user's API ``echo``, deployed from their own JupyterLab at the same time; their
    default key in full (revealed through their panel)."""
    jobs = _parallel(lambda name: deploy(users[name]), USERS)
    out = {}
    for name, job in jobs.items():
        assert job["state"] == "succeeded", (name, job, hub.tail())
        session = users[name]
        (key,) = session.json("GET", "hub-api/platform/keys")["keys"]
        secret = session.json("POST", f"hub-api/platform/keys/{key['id']}/reveal")["secret"]
        out[name] = {"job": job, "key_id": key["id"], "key": secret}
    return out


def call(hub, user: str, key: str | None, body=None) -> httpx.Response:
    """A call of ``user``'s API echo through the hub's proxy, as a hosted client makes it."""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["x-api-key"] = key
    return httpx.request(
        "GET" if body is None else "POST",
        f"{hub.platform_url}/{user}/echo",
        headers=headers,
        content=None if body is None else json.dumps(body),
        timeout=60,
        trust_env=False,
    )


def test_each_user_sees_only_their_own_apis_keys_and_usage(hub, users, deployed):
    for name in USERS:
        session = users[name]
        me = session.json("GET", "hub-api/platform/me")
        assert me["user"] == name
        assert me["gateway_url"] == hub.platform_url
        apis = session.json("GET", "hub-api/platform/apis")["apis"]
        assert [(a["user"], a["name"]) for a in apis] == [(name, "echo")]
        assert apis[0]["endpoint"] == f"{hub.platform_url}/{name}/echo"
        assert apis[0]["live_version"]["build_id"] == deployed[name]["job"]["result"]["build_id"]
        keys = session.json("GET", "hub-api/platform/keys")["keys"]
        assert [k["id"] for k in keys] == [deployed[name]["key_id"]]
        # The test console calls the user's own API with their key.
        result = session.json(
            "POST", "hub-api/platform/apis/echo/invoke", json={"body": f"hi from {name}"}
        )
        assert result["status"] == 200, result
        assert result["body"]["body"]["output"] == {"owner": name, "echo": f"hi from {name}"}
        assert result["endpoint"] == f"{hub.platform_url}/{name}/echo"
    # The other's API is not one of yours: 404 from your own panel.
    resp = users["bob"].server("GET", "hub-api/platform/apis/echo/versions")
    assert resp.status_code == 200  # bob's own echo
    other = users["bob"].server(
        "POST", "hub-api/platform/keys/" + deployed["alice"]["key_id"] + "/reveal"
    )
    assert other.status_code == 404, other.text
    usage = {name: users[name].json("GET", "hub-api/platform/usage") for name in USERS}
    assert [a["api"] for a in usage["alice"]["apis"]] == ["echo"]
    assert usage["alice"]["total_calls"] == 1 and usage["bob"]["total_calls"] == 1


def test_a_key_calls_only_its_users_api_and_quotas_count_per_user(hub, users, deployed):
    alice, bob = deployed["alice"]["key"], deployed["bob"]["key"]
    resp = call(hub, "alice", alice, {"n": 1})
    assert resp.status_code == 200, resp.text
    assert resp.json()["body"]["output"] == {"owner": "alice", "echo": {"n": 1}}
    # bob's key on alice's API: refused, and not counted anywhere.
    resp = call(hub, "alice", bob, {"n": 2})
    assert resp.status_code == 403, resp.text
    # No key: 401, as on the hosted service.
    assert call(hub, "alice", None, {"n": 3}).status_code == 401
    # bob spends his whole month (he has made 1 call from the test console).
    for i in range(MONTHLY_CALLS - 1):
        assert call(hub, "bob", bob, {"i": i}).status_code == 200
    spent = call(hub, "bob", bob, {"i": "one too many"})
    assert spent.status_code == 429, spent.text
    assert "quota" in spent.json()["body"]["error"]["message"].lower()
    # alice's quota is her own: 2 calls used.
    assert call(hub, "alice", alice, {"n": 4}).status_code == 200
    usage = {name: users[name].json("GET", "hub-api/platform/usage") for name in USERS}
    assert usage["alice"]["total_calls"] == 3
    assert usage["bob"]["total_calls"] == MONTHLY_CALLS
    assert usage["bob"]["quota"]["remaining"] == 0 and usage["alice"]["quota"]["remaining"] == (
        MONTHLY_CALLS - 3
    )


def test_jupyterhub_tokens_users_and_admins(hub, users, deployed):
    platform = f"{hub.platform_url}/api/v1"
    bob_token = hub.token_for("bob")
    # bob's hub token on alice's server: refused by name, not "log in".
    resp = httpx.get(
        f"{hub.url}/user/alice/hub-api/status",
        headers={"Authorization": f"token {bob_token}"},
        trust_env=False,
        timeout=30,
    )
    assert resp.status_code == 403, resp.text
    assert resp.json()["reason"] == "wrong_user"
    assert "logged in to JupyterHub as bob; this server belongs to alice" in resp.json()["message"]
    # A user's own hub token works on the platform directly (the hub CLI from a laptop).
    me = httpx.get(
        f"{platform}/me", headers={"Authorization": f"Bearer {bob_token}"}, trust_env=False
    )
    assert me.status_code == 200 and me.json()["user"] == "bob", me.text
    # A token without the platform's access scope is refused, saying which scope it lacks.
    narrow = hub.token_for("bob", scopes=["read:users:name!user"])
    resp = httpx.get(
        f"{platform}/me", headers={"Authorization": f"Bearer {narrow}"}, trust_env=False
    )
    assert resp.status_code == 403, resp.text
    assert "access:services!service=hub-api" in resp.json()["error"]["message"]
    # A token the hub does not know.
    resp = httpx.get(f"{platform}/me", headers={"Authorization": "Bearer nope"}, trust_env=False)
    assert resp.status_code == 401 and resp.json()["error"]["type"] == "invalid_token"
    # JupyterHub admins are platform admins: carol (a hub admin, first seen now) lists users.
    carol = hub.token_for(HUB_ADMIN)
    resp = httpx.get(
        f"{platform}/admin/users", headers={"Authorization": f"Bearer {carol}"}, trust_env=False
    )
    assert resp.status_code == 200, resp.text
    assert {"alice", "bob", HUB_ADMIN} <= {u["name"] for u in resp.json()["users"]}
    resp = httpx.get(
        f"{platform}/admin/users",
        headers={"Authorization": f"Bearer {bob_token}"},
        trust_env=False,
    )
    assert resp.status_code == 403, resp.text
    # JupyterHub groups are platform groups: carol gives the hub group "team" a plan; bob,
    # its member on the hub, has that plan (and his API answers again: a bigger quota).
    assert hub.api("POST", "/groups/team", json={"users": ["bob"]}).status_code == 201
    resp = httpx.put(
        f"{platform}/admin/groups/team",
        json={"plan": "team"},
        headers={"Authorization": f"Bearer {carol}"},
        trust_env=False,
    )
    assert resp.status_code == 200, resp.text
    fresh = hub.token_for("bob")  # the hub's answer about bob's older tokens is cached
    plan = httpx.get(
        f"{platform}/plan", headers={"Authorization": f"Bearer {fresh}"}, trust_env=False
    ).json()
    assert (plan["plan"]["name"], plan["source"], plan["group"]) == ("team", "group", "team")
    assert call(hub, "bob", deployed["bob"]["key"], {"plan": "team"}).status_code == 200


def test_the_api_answers_while_its_users_server_is_stopped_and_after_it_restarts(
    hub, users, deployed
):
    key = deployed["alice"]["key"]
    assert hub.api("DELETE", "/users/alice/server").status_code in (202, 204)

    def stopped():
        return hub.api("GET", "/users/alice").json()["servers"] == {}

    wait_for("alice's server stopping", stopped, hub=hub)
    resp = call(hub, "alice", key, {"while": "stopped"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["body"]["output"]["echo"] == {"while": "stopped"}
    users["alice"].start_server()
    apis = users["alice"].json("GET", "hub-api/platform/apis")["apis"]
    assert [(a["name"], a["endpoint"]) for a in apis] == [
        ("echo", f"{hub.platform_url}/alice/echo")
    ]
    assert call(hub, "alice", key, {"after": "restart"}).status_code == 200


def _server_activity(hub, user: str) -> datetime:
    model = hub.api("GET", f"/users/{user}").json()
    return datetime.fromisoformat(model["servers"][""]["last_activity"].replace("Z", "+00:00"))


def test_a_build_counts_as_activity_for_the_culler(hub, users, deployed, tmp_path):
    from server.conftest import slow_package  # the slow-to-build package of the job tests

    session = users["bob"]
    requirement = slow_package(tmp_path / "slow", seconds=6)
    create_project(session, "slow", requirements=requirement)
    job = session.json(
        "POST", "hub-api/jobs", expect=202, json={"kind": "build", "project": "slow"}
    )
    submitted = _server_activity(hub, "bob")
    # From now on nothing talks to bob's server until the build has ended: only the build can
    # move the activity JupyterHub records for it.
    builder = None

    def build_running():
        nonlocal builder
        for proc in psutil.process_iter(["cmdline", "cwd"]):
            cmd = " ".join(proc.info["cmdline"] or [])
            if "jupyter_hub_api.cli.main" in cmd and " build" in cmd:
                if str(hub.homes / "bob") in (proc.info["cwd"] or ""):
                    builder = proc
                    return True
        return False

    wait_for("bob's build starting", build_running, timeout=60, every=0.1)
    seen = []

    def building() -> bool:
        try:
            return builder.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    while building():
        seen.append(_server_activity(hub, "bob"))
        time.sleep(0.5)

    def job_ended():
        current = session.json("GET", f"hub-api/jobs/{job['id']}")
        return current if current["state"] not in ("queued", "running") else None

    ended = wait_for("bob's build job ending", job_ended, timeout=60, every=0.25)
    assert ended["state"] == "succeeded", ended
    finished = datetime.fromisoformat(ended["finished_at"])
    started = datetime.fromisoformat(ended["started_at"])
    during = [t for t in seen if started < t <= finished]
    assert during and max(during) > submitted, (submitted, started, finished, seen)
    assert (max(during) - started).total_seconds() > 2, (started, seen)


def test_the_second_users_view_in_a_browser(hub, users, deployed, tmp_path):
    """bob logs in on the hub's login page in Chromium and opens his deployments panel: his
    API only, at its endpoint behind the hub's proxy."""
    node, chromium = shutil.which("node"), os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    playwright = ROOT / "ui-tests" / "node_modules" / "playwright-core"
    if node is None or not Path(chromium).exists() or not playwright.exists():
        pytest.skip("needs node, Chromium and ui-tests/node_modules (scripts/setup.sh --test)")
    shot = tmp_path / "bob-deployments.png"
    proc = subprocess.run(  # noqa: S603 - argv list
        [node, str(Path(__file__).with_name("browser_view.js")), hub.url, "bob", str(shot)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    view = json.loads(proc.stdout.strip().splitlines()[-1])
    assert view["apis"] == ["echo"], view
    assert view["endpoints"] == [f"{hub.platform_url}/bob/echo"], view
    assert shot.stat().st_size > 10_000


def test_the_hub_restarts_its_platform_and_the_apis_come_back(hub, deployed):
    pid = hub.platform_pid()
    assert pid and psutil.Process(pid).ppid() == hub.proc.pid  # the hub's own child
    os.kill(pid, signal.SIGKILL)

    def back():
        new = hub.platform_pid()
        if new in (None, pid):
            return None
        try:
            ok = httpx.get(f"{hub.platform_url}/readyz", timeout=2, trust_env=False)
        except httpx.HTTPError:
            return None
        return new if ok.status_code == 200 else None

    new_pid = wait_for("the hub starting its platform again", back, timeout=90, hub=hub)
    assert psutil.Process(new_pid).ppid() == hub.proc.pid
    resp = call(hub, "alice", deployed["alice"]["key"], {"after": "platform restart"})
    assert resp.status_code == 200, resp.text
