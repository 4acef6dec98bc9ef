"""``hub plan`` (your plan, its limits and this month's use; ``hub plan set`` raises them) and
``hub admin ...`` (every user, plan, group and API of a shared platform; admins only)."""

from __future__ import annotations

import click
from rich.table import Table

from ..client.api import connect, segment
from ..errors import UsageError
from .common import json_option, make_output

LIMITS = ("monthly_calls", "max_apis", "rate_limit_per_second", "rate_limit_burst")
_UNLIMITED = {"none", "null", "unlimited", "-"}


def parse_limits(assignments: tuple[str, ...]) -> dict:
    """``("monthly_calls=100000", "max_apis=none")`` -> the JSON body of a plan change."""
    if not assignments:
        raise UsageError(
            "Name at least one limit to change, e.g. `monthly_calls=100000`.",
            type="bad_usage",
            hint=f"Limits: {', '.join(LIMITS)} (none = no limit).",
        )
    body: dict = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in LIMITS:
            raise UsageError(
                f"{item!r} is not LIMIT=VALUE with a known limit; the limits are "
                f"{', '.join(LIMITS)}.",
                type="bad_usage",
            )
        raw = raw.strip().replace("_", "").replace(",", "")
        if raw.lower() in _UNLIMITED and key != "rate_limit_burst":
            body[key] = None
            continue
        try:
            value = float(raw) if key == "rate_limit_per_second" else int(raw)
        except ValueError:
            raise UsageError(
                f"{key} must be a whole number"
                + (" (or a number for the rate)" if key == "rate_limit_per_second" else "")
                + f" or none (no limit), not {raw!r}.",
                type="bad_usage",
            ) from None
        body[key] = value
    return body


def _limit(value, unit: str = "") -> str:
    return "unlimited" if value is None or value == 0 and unit == "/s" else f"{value:g}{unit}"


def _plan_text(body: dict) -> str:
    plan, quota = body["plan"], body["quota"]
    source = {
        "user": "set for you by an admin",
        "config": "from the platform's config file",
        "group": f"from your group {body['group']}",
        "default": "the platform's default plan",
    }[body["source"]]
    limit = quota["monthly_calls"]
    used = f"{quota['used']} of {_limit(limit)} calls in {body['month']} (UTC)"
    if limit is not None:
        used += f", {quota['remaining']} left; the count starts again on {body['renews_at'][:10]}"
    lines = [
        f"Plan {plan['name']} ({source}) for {body['user']}:",
        f"  calls this month  {used}",
        f"  APIs              {quota['apis']} of {_limit(plan['max_apis'])}",
        f"  rate limit        {_limit(plan['rate_limit_per_second'], '/s')} per key"
        f" (burst {plan['rate_limit_burst']})",
    ]
    if body["quota_spent"]:
        lines.append("The monthly quota is used up: your APIs answer 429 to every call until then.")
    if body["can_edit"]:
        others = body["users_on_plan"] - 1
        shared = f" (and of the {others} other users on it)" if others > 0 else ""
        lines.append(
            f"Raise your limits{shared}: hub plan set monthly_calls=100000 (none = no limit)."
        )
    else:
        lines.append("To change your plan, ask your platform's administrator.")
    return "\n".join(lines)


@click.group(
    invoke_without_command=True,
    epilog="""\b
Examples:
  hub plan
  hub plan set monthly_calls=100000
  hub plan set monthly_calls=none max_apis=20""",
)
@json_option
@click.pass_context
def plan(ctx: click.Context, json_mode: bool) -> None:
    """Show your plan, its limits and this month's use of them.

    On your own (embedded) platform you are its admin: `hub plan set` raises your limits.
    """
    if ctx.invoked_subcommand is not None:
        return
    out = make_output(json_mode)
    with connect() as client:
        body = client.get("/api/v1/plan")
    out.result(_plan_text(body), **body)


@plan.command(
    name="set",
    epilog="""\b
Examples:
  hub plan set monthly_calls=100000
  hub plan set rate_limit_per_second=none""",
)
@click.argument("limits", nargs=-1, metavar="LIMIT=VALUE...")
@json_option
def plan_set(limits: tuple[str, ...], json_mode: bool) -> None:
    """Change the limits of your plan (the platform's owner or an admin).

    Limits: monthly_calls, max_apis, rate_limit_per_second, rate_limit_burst; `none` means no
    limit. Every user on the same plan gets the new limits.
    """
    out = make_output(json_mode)
    body = parse_limits(limits)
    with connect() as client:
        answer = client.request("PATCH", "/api/v1/plan", json=body)
    out.result(_plan_text(answer), **answer)


# -- hub admin --------------------------------------------------------------------------------


@click.group(
    epilog="""\b
Examples:
  hub admin users
  hub admin plan team monthly_calls=50000 max_apis=20
  hub admin set-plan bob team
  hub admin group staff --plan team --members alice,bob
  hub admin apis --user bob"""
)
def admin() -> None:
    """Administer a shared platform: users, plans, groups, everyone's APIs (admins only).

    A user's plan is their own plan if an admin set one, else the config file's entry for
    them, else the most generous plan of their groups, else the default plan.
    """


@admin.command(epilog="Example:\n  hub admin users --json")
@json_option
def users(json_mode: bool) -> None:
    """List every user with their plan, groups and this month's usage."""
    out = make_output(json_mode)
    with connect() as client:
        body = client.get("/api/v1/admin/users")
    if json_mode:
        out.result(None, **body)
        return
    table = Table(
        box=None, pad_edge=False, title=f"Users in {body['month']} (UTC)", title_justify="left"
    )
    for col in ("user", "plan", "from", "groups", "APIs", "calls", "of", "state"):
        table.add_column(col)
    for u in body["users"]:
        state = "disabled" if u["disabled"] else "quota spent" if u["quota_spent"] else "ok"
        table.add_row(
            u["name"] + (" (admin)" if u["is_admin"] else ""),
            u["plan"],
            u["plan_source"],
            ", ".join(u["groups"]) or "-",
            str(u["apis"]),
            str(u["calls_this_month"]),
            _limit(u["monthly_calls"]),
            state,
        )
    out.console.print(table)


@admin.command(epilog="Example:\n  hub admin plans")
@json_option
def plans(json_mode: bool) -> None:
    """List the plans, their limits and how many users are on each."""
    out = make_output(json_mode)
    with connect() as client:
        body = client.get("/api/v1/admin/plans")
    if json_mode:
        out.result(None, **body)
        return
    table = Table(box=None, pad_edge=False)
    for col in ("plan", "calls/month", "APIs", "rate/s", "burst", "users", "from"):
        table.add_column(col)
    for p in body["plans"]:
        table.add_row(
            p["name"] + (" (default)" if p["default"] else ""),
            _limit(p["monthly_calls"]),
            _limit(p["max_apis"]),
            _limit(p["rate_limit_per_second"], "/s"),
            str(p["rate_limit_burst"]),
            str(p["users"]),
            p["source"],
        )
    out.console.print(table)


@admin.command(name="plan", epilog="Example:\n  hub admin plan team monthly_calls=50000")
@click.argument("name")
@click.argument("limits", nargs=-1, metavar="LIMIT=VALUE...")
@json_option
def plan_edit(name: str, limits: tuple[str, ...], json_mode: bool) -> None:
    """Create plan NAME or change its limits (a new plan starts from the default plan's)."""
    out = make_output(json_mode)
    body = parse_limits(limits)
    with connect() as client:
        p = client.request("PUT", f"/api/v1/admin/plans/{segment(name)}", json=body)
    out.result(
        f"Plan {p['name']}: {_limit(p['monthly_calls'])} calls a month, "
        f"{_limit(p['max_apis'])} APIs, {_limit(p['rate_limit_per_second'], '/s')} per key "
        f"({p['users']} users on it).",
        **p,
    )


def _change_user(name: str, body: dict, json_mode: bool, done: str) -> None:
    out = make_output(json_mode)
    with connect() as client:
        u = client.request("PATCH", f"/api/v1/admin/users/{segment(name)}", json=body)
    out.result(f"{done} {u['name']} is on plan {u['plan']} ({u['plan_source']}).", **u)


@admin.command(name="set-plan", epilog="Example:\n  hub admin set-plan bob team")
@click.argument("user")
@click.argument("plan_name", metavar="PLAN")
@json_option
def set_plan(user: str, plan_name: str, json_mode: bool) -> None:
    """Give USER their own PLAN (`none`: back to their groups' or the default plan)."""
    value = None if plan_name.lower() in _UNLIMITED else plan_name
    _change_user(user, {"plan": value}, json_mode, "Done:")


@admin.command(name="set-groups", epilog="Example:\n  hub admin set-groups bob staff,ml")
@click.argument("user")
@click.argument("groups", metavar="GROUP[,GROUP...]")
@json_option
def set_groups(user: str, groups: str, json_mode: bool) -> None:
    """Make USER a member of exactly these groups (`none`: of none)."""
    names = [] if groups.lower() in _UNLIMITED else [g.strip() for g in groups.split(",")]
    _change_user(user, {"groups": [g for g in names if g]}, json_mode, "Done:")


@admin.command(epilog="Example:\n  hub admin disable mallory")
@click.argument("user")
@json_option
def disable(user: str, json_mode: bool) -> None:
    """Disable USER: their token and their APIs are refused until enabled again."""
    _change_user(user, {"disabled": True}, json_mode, "Disabled:")


@admin.command(epilog="Example:\n  hub admin enable mallory")
@click.argument("user")
@json_option
def enable(user: str, json_mode: bool) -> None:
    """Enable USER again."""
    _change_user(user, {"disabled": False}, json_mode, "Enabled:")


@admin.command(epilog="Example:\n  hub admin group staff --plan team --members alice,bob")
@click.argument("name")
@click.option("--plan", "plan_name", default=None, help="The group's plan (none: no plan).")
@click.option("--members", default=None, help="All of its members, comma-separated.")
@json_option
def group(name: str, plan_name: str | None, members: str | None, json_mode: bool) -> None:
    """Create group NAME or change its plan or members."""
    out = make_output(json_mode)
    body: dict = {}
    if plan_name is not None:
        body["plan"] = None if plan_name.lower() in _UNLIMITED else plan_name
    if members is not None:
        body["members"] = [m.strip() for m in members.split(",") if m.strip()]
    with connect() as client:
        g = client.request("PUT", f"/api/v1/admin/groups/{segment(name)}", json=body)
    out.result(
        f"Group {g['name']}: plan {g['plan'] or '-'}, members {', '.join(g['members']) or '-'}.",
        **g,
    )


@admin.command(epilog="Example:\n  hub admin groups")
@json_option
def groups(json_mode: bool) -> None:
    """List the groups with their plans and members."""
    out = make_output(json_mode)
    with connect() as client:
        body = client.get("/api/v1/admin/groups")
    if json_mode:
        out.result(None, **body)
        return
    table = Table(box=None, pad_edge=False)
    for col in ("group", "plan", "members"):
        table.add_column(col)
    for g in body["groups"]:
        table.add_row(g["name"], g["plan"] or "-", ", ".join(g["members"]) or "-")
    out.console.print(table)


@admin.command(epilog="Example:\n  hub admin apis --user bob")
@click.option("--user", default=None, help="Only this user's APIs.")
@json_option
def apis(user: str | None, json_mode: bool) -> None:
    """List every user's APIs with their status and this month's calls."""
    out = make_output(json_mode)
    with connect() as client:
        body = client.get("/api/v1/admin/apis", params={"user": user} if user else None)
    if json_mode:
        out.result(None, **body)
        return
    table = Table(box=None, pad_edge=False)
    for col in ("user", "API", "status", "version", "calls", "errors", "endpoint"):
        table.add_column(col)
    for a in body["apis"]:
        live = a["live_version"]
        status = "quota spent" if a["quota_spent"] else a["status"]
        table.add_row(
            a["user"],
            a["name"],
            status,
            f"v{live['version_number']}" if live else "-",
            str(a["calls_this_month"]),
            str(a["errors_this_month"]),
            a["endpoint"],
        )
    out.console.print(table)


@admin.command(epilog="Example:\n  hub admin api bob iris --json")
@click.argument("user")
@click.argument("name")
@json_option
def api(user: str, name: str, json_mode: bool) -> None:
    """Show USER's API NAME as its owner sees it."""
    out = make_output(json_mode)
    with connect() as client:
        a = client.get(f"/api/v1/admin/apis/{segment(user)}/{segment(name)}")
    live = a["live_version"]
    out.result(
        f"{a['user']}/{a['name']}: {'quota spent' if a['quota_spent'] else a['status']}, "
        f"{'v' + str(live['version_number']) if live else 'no version'}, "
        f"{a['calls_this_month']} calls this month, endpoint {a['endpoint']}.",
        **a,
    )
