"""Plans per user and per group in the database, admins, and the owner's own limits.

Driven as people would: the embedded platform's owner with `hub plan` / `hub plan set`, an
admin with `hub admin ...`, and users calling their APIs through the gateway (HTTP).
"""

from __future__ import annotations

import json

import httpx
import pytest
from platform_helpers import PlatformProcess

CONFIG = {
    # The config file stays the seed: its plans, default and users entries keep working.
    "plans": {
        "tiny": {"monthly_calls": 3, "rate_limit_per_second": 0, "max_apis": 2},
        "pro": {"monthly_calls": 1000, "rate_limit_per_second": 0, "max_apis": 10},
    },
    "default_plan": "tiny",
    "users": {"carol": {"plan": "pro"}},
}


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    proc = PlatformProcess(tmp_path_factory.mktemp("plans"), CONFIG).start()
    yield proc
    proc.stop()


def post(endpoint: str, key: str, value) -> httpx.Response:
    return httpx.post(endpoint, headers={"x-api-key": key}, content=json.dumps(value), timeout=60)


def hub_json(team, *args, token=None) -> dict:
    result = team.hub(*args, "--json", token=token)
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()][-1]


def test_spent_quota_shows_in_the_api_list_and_the_owner_raises_it(team):
    endpoint = team.deploy(team.make_project("echo"))["endpoint"]
    key = team.key()
    for i in range(3):
        assert post(endpoint, key, i).status_code == 200
    refused = post(endpoint, key, 4)
    assert refused.status_code == 429
    message = refused.json()["body"]["error"]["message"]
    assert "plan tiny" in message and "`hub plan`" in message and "hub plan set" in message

    # The panel's list says so (not just a green "ready").
    listed = team.control("GET", "/api/v1/apis").json()
    assert [a["quota_spent"] for a in listed["apis"]] == [True]
    assert listed["quota"]["remaining"] == 0

    status = team.hub("status").stdout
    assert "quota spent" in status and "`hub plan`" in status
    shown = team.hub("plan")
    assert shown.returncode == 0, shown.stderr
    assert "Plan tiny" in shown.stdout and "3 of 3 calls" in shown.stdout
    assert "used up" in shown.stdout and "hub plan set" in shown.stdout

    raised = hub_json(team, "plan", "set", "monthly_calls=1_000")
    assert raised["plan"]["monthly_calls"] == 1000 and raised["quota_spent"] is False
    assert post(endpoint, key, 5).status_code == 200  # at once, no restart
    assert team.control("GET", "/api/v1/apis").json()["apis"][0]["quota_spent"] is False


def test_bad_limits_get_one_sentence(team):
    bad = team.hub("plan", "set", "monthly_calls=lots")
    assert bad.returncode == 2 and "monthly_calls must be a whole number" in bad.stderr
    unknown = team.hub("plan", "set", "calls=5")
    assert unknown.returncode == 2 and "the limits are monthly_calls" in unknown.stderr
    resp = team.control("PATCH", "/api/v1/plan", json={"monthly_calls": -1})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"].startswith("monthly_calls must be a whole number")
    resp = team.control("PATCH", "/api/v1/plan", json={"monthly_call": 5})
    assert resp.status_code == 400 and "'monthly_call'" in resp.json()["error"]["message"]


def test_user_over_config_over_group_over_default(team):
    bob = team.add_user("bob")
    carol = team.add_user("carol")
    dave = team.add_user("dave")
    assert team.control("GET", "/api/v1/plan", bob).json()["source"] == "default"
    # A plan made by an admin, and two groups: dave is in both, the more generous wins.
    made = hub_json(team, "admin", "plan", "team", "monthly_calls=50000", "max_apis=none")
    assert made["source"] == "database" and made["max_apis"] is None
    hub_json(team, "admin", "group", "students", "--plan", "tiny", "--members", "bob,dave")
    hub_json(team, "admin", "group", "staff", "--plan", "team", "--members", "dave,carol")
    dave_plan = team.control("GET", "/api/v1/plan", dave).json()
    assert (dave_plan["plan"]["name"], dave_plan["source"], dave_plan["group"]) == (
        "team",
        "group",
        "staff",
    )
    # carol's config entry beats her group; bob's own plan beats everything.
    assert team.control("GET", "/api/v1/plan", carol).json()["plan"]["name"] == "pro"
    hub_json(team, "admin", "set-plan", "bob", "pro")
    bob_plan = team.control("GET", "/api/v1/plan", bob).json()
    assert (bob_plan["plan"]["name"], bob_plan["source"]) == ("pro", "user")
    assert bob_plan["can_edit"] is False

    users = {u["name"]: u for u in hub_json(team, "admin", "users")["users"]}
    assert users["alice"]["is_admin"] is True and users["bob"]["is_admin"] is False
    assert users["dave"]["groups"] == ["staff", "students"]
    assert users["alice"]["calls_this_month"] >= 4
    table = team.hub("admin", "users").stdout
    assert "alice (admin)" in table and "staff, students" in table


def test_non_admins_are_refused_admins_see_any_api_and_disable_users(team):
    erin = team.add_user("erin")
    endpoint = team.deploy(team.make_project("erins"), token=erin)["endpoint"]
    assert post(endpoint, team.key(erin), "hi").json()["body"]["output"] == "hi"
    for method, path in [
        ("GET", "/api/v1/admin/users"),
        ("GET", "/api/v1/admin/apis"),
        ("PUT", "/api/v1/admin/plans/free"),
        ("PATCH", "/api/v1/plan"),
    ]:
        resp = team.control(method, path, erin, json={"monthly_calls": 10**9})
        assert resp.status_code == 403, (path, resp.text)
        assert "Only a platform admin" in resp.json()["error"]["message"]
    refused = team.hub("admin", "users", token=erin)
    assert refused.returncode == 1 and "Only a platform admin" in refused.stderr

    everyone = hub_json(team, "admin", "apis")["apis"]
    assert {(a["user"], a["name"]) for a in everyone} >= {("alice", "echo"), ("erin", "erins")}
    one = hub_json(team, "admin", "api", "erin", "erins")
    assert one["calls_this_month"] == 1 and one["quota"]["plan"] == "tiny"
    missing = team.control("GET", "/api/v1/admin/apis/erin/nope")
    assert missing.status_code == 404 and "erin has no API" in missing.json()["error"]["message"]

    # An admin disables erin: her token and her API are refused until she is enabled again.
    key = team.key(erin)
    hub_json(team, "admin", "disable", "erin")
    call = post(endpoint, key, 1)
    assert call.status_code == 403 and call.json()["body"]["error"]["type"] == "disabled_user"
    assert team.control("GET", "/api/v1/apis", erin).json()["error"]["type"] == "disabled_user"
    owner = team.control("PATCH", "/api/v1/admin/users/alice", json={"disabled": True})
    assert owner.status_code == 400 and "cannot be disabled" in owner.json()["error"]["message"]
    hub_json(team, "admin", "enable", "erin")
    assert post(endpoint, key, 1).status_code == 200


def test_plans_and_groups_survive_a_restart(team):
    team.stop()
    team.start()
    plans = {p["name"]: p for p in team.control("GET", "/api/v1/admin/plans").json()["plans"]}
    assert plans["team"]["monthly_calls"] == 50000 and plans["tiny"]["monthly_calls"] == 1000
    groups = {g["name"]: g for g in team.control("GET", "/api/v1/admin/groups").json()["groups"]}
    assert groups["staff"] == {"name": "staff", "plan": "team", "members": ["carol", "dave"]}
