"""The panel's plan line and admin view, through the server extension's forwards, against the
real platform (the extension's user is the embedded platform's owner, so an admin)."""

from __future__ import annotations

import json
import os

import httpx
import pytest

from .conftest import fetch_json, free_port, platform_process


@pytest.fixture
def platform(hub_home, monkeypatch):
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("HUB_PLATFORM_URL", url)
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    monkeypatch.delenv("HUB_PLATFORM_TOKEN", raising=False)
    with platform_process(url, dict(os.environ), hub_home / "platform-test.log"):
        yield url


def send(jp_fetch, method, *parts, body=None):
    return fetch_json(jp_fetch, "hub-api", *parts, method=method, body=json.dumps(body))


async def test_owner_sees_and_raises_own_plan_and_admin_views(platform, jp_fetch, hub_home):
    status, plan = await fetch_json(jp_fetch, "hub-api", "platform", "plan")
    assert status == 200, plan
    assert plan["user"] == "alice" and plan["plan"]["name"] == "free" and plan["can_edit"]
    assert plan["quota"]["monthly_calls"] == 1000

    status, raised = await send(jp_fetch, "PATCH", "platform", "plan", body={"monthly_calls": None})
    assert status == 200, raised
    assert raised["plan"]["monthly_calls"] is None  # no limit, and nothing else changed
    assert raised["plan"]["max_apis"] == 5

    status, bad = await send(jp_fetch, "PATCH", "platform", "plan", body={"calls": 5})
    assert status == 400 and "unknown field(s) calls" in bad["message"]
    status, bad = await send(jp_fetch, "PATCH", "platform", "plan", body={"max_apis": "many"})
    assert status == 400 and "'max_apis' must be a whole number or null" in bad["message"]

    # A second user, made on the platform, shows in the admin view; the owner gives them a plan.
    token = (hub_home / "platform" / "token").read_text().strip()
    made = httpx.post(
        f"{platform}/api/v1/users",
        json={"name": "bob"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert made.status_code == 201, made.text
    status, team = await send(
        jp_fetch, "PUT", "platform", "admin", "plans", "team", body={"monthly_calls": 50000}
    )
    assert status == 200 and team["monthly_calls"] == 50000 and team["source"] == "database"
    status, bob = await send(
        jp_fetch, "PATCH", "platform", "admin", "users", "bob", body={"plan": "team"}
    )
    assert status == 200 and (bob["plan"], bob["plan_source"]) == ("team", "user")
    status, group = await send(
        jp_fetch, "PUT", "platform", "admin", "groups", "staff", body={"members": ["bob"]}
    )
    assert status == 200 and group == {"name": "staff", "plan": None, "members": ["bob"]}

    status, users = await fetch_json(jp_fetch, "hub-api", "platform", "admin", "users")
    assert status == 200
    assert {u["name"]: u["plan"] for u in users["users"]} == {"alice": "free", "bob": "team"}
    status, plans = await fetch_json(jp_fetch, "hub-api", "platform", "admin", "plans")
    assert {p["name"]: p["users"] for p in plans["plans"]} == {"free": 1, "team": 1}
    status, groups = await fetch_json(jp_fetch, "hub-api", "platform", "admin", "groups")
    assert groups["groups"] == [group]
    status, apis = await fetch_json(
        jp_fetch, "hub-api", "platform", "admin", "apis", params={"user": "bob"}
    )
    assert status == 200 and apis == {"apis": []}
    status, missing = await fetch_json(
        jp_fetch, "hub-api", "platform", "admin", "apis", "bob", "iris"
    )
    assert status == 404 and "bob has no API called 'iris'" in missing["message"]
    status, nobody = await send(
        jp_fetch, "PATCH", "platform", "admin", "users", "zed", body={"plan": "team"}
    )
    assert status == 404 and "no user 'zed'" in nobody["message"]
