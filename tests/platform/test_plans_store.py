"""Plans, groups and the plan columns of users (migration step 3) on SQLite and PostgreSQL, and
the resolution rule of platform/plans.py over them."""

from __future__ import annotations

import asyncio

from jupyter_hub_api.platform.config import parse_config
from jupyter_hub_api.platform.db import Database
from jupyter_hub_api.platform.plans import PlanBook
from jupyter_hub_api.platform.store import Repositories

CONFIG = parse_config(
    {
        "plans": {"small": {"monthly_calls": 10}, "big": {"monthly_calls": None}},
        "default_plan": "small",
        "users": {"carol": {"plan": "big"}},
    }
)


def test_plans_groups_and_user_columns_round_trip_and_resolve(database_url):
    db = Database(database_url)
    try:
        asyncio.run(_round_trip(Repositories(db)))
    finally:
        db.close()


async def _round_trip(repos: Repositories) -> None:
    ids = {
        name: await repos.users.create(name, f"digest-{name}", "2026-12-01T00:00:00Z")
        for name in ("alice", "bob", "carol", "dave")
    }
    plans = repos.plans
    limits = {
        "max_apis": None,
        "monthly_calls": 5000,
        "rate_limit_per_second": 0.0,
        "rate_limit_burst": 10,
    }
    await plans.put_plan("team", limits, "2026-12-01T00:00:00Z")
    await plans.put_plan("team", {**limits, "monthly_calls": 6000}, "2026-12-02T00:00:00Z")
    assert [(p["name"], p["monthly_calls"], p["max_apis"]) for p in plans.plans()] == [
        ("team", 6000, None)
    ]
    await plans.put_group("staff", "team", False, [ids["dave"], ids["carol"]], "t")
    await plans.put_group("students", "small", False, [ids["dave"]], "t")
    await plans.put_group("staff", None, True, None, "t")  # keeps its plan and members
    await plans.set_user_groups(ids["bob"], ["students", "newcomers"], "t")
    assert plans.groups() == {"newcomers": None, "staff": "team", "students": "small"}
    assert plans.memberships()[ids["dave"]] == ["staff", "students"]
    assert plans.memberships()[ids["bob"]] == ["newcomers", "students"]
    await plans.set_user(ids["alice"], plan="big", is_admin=True)
    await plans.set_user(ids["bob"], disabled=True)
    alice, bob = repos.users.by_id(ids["alice"]), repos.users.by_id(ids["bob"])
    assert (alice.plan, alice.is_admin, alice.disabled) == ("big", True, False)
    assert (bob.plan, bob.is_admin, bob.disabled) == (None, False, True)

    book = PlanBook(CONFIG)
    book.reload(plans)
    rows = {name: repos.users.by_id(uid) for name, uid in ids.items()}

    def resolved(name):
        r = book.resolve(ids[name], name, rows[name].plan)
        return r.plan.name, r.source, r.group

    assert resolved("alice") == ("big", "user", None)
    assert resolved("carol") == ("big", "config", None)  # her config entry beats her group
    assert resolved("dave") == ("team", "group", "staff")  # the more generous group
    assert resolved("bob") == ("small", "group", "students")
    assert book.plans["team"].monthly_calls == 6000
