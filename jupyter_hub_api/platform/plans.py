"""Which plan a user is on: plans and groups from the database over the config file's seed.

The plans in effect are the config file's ``plans`` (the seed: an existing config keeps
working unchanged) with the rows of the ``plans`` table over them by name (created or edited
through the admin API or ``hub plan set``). A user's plan is, first match wins:

1. ``user``: their own plan, set by an admin (``users.plan``);
2. ``config``: the config file's ``users.<name>.plan``;
3. ``group``: the most generous plan among their groups' plans;
4. ``default``: the config file's ``default_plan``.

Why the most generous group rather than the first: JupyterHub groups (and ours) have no order,
so "first" would be arbitrary; a user who is in ``students`` and in ``staff`` expects staff's
limits, and an admin who wants a user held to less sets that user's own plan, which wins over
every group. "Most generous" compares whole plans (so the quota shows one plan's name): more
monthly calls first, then more APIs, then the higher rate limit; "no limit" beats any number.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .config import Plan, PlatformConfig

_FIELDS = ("max_apis", "monthly_calls", "rate_limit_per_second", "rate_limit_burst")


@dataclass(frozen=True)
class Resolved:
    """A user's plan and where it came from."""

    plan: Plan
    source: str  # user | config | group | default
    group: str | None = None  # the group whose plan it is (source "group")


def generosity(plan: Plan) -> tuple:
    """A sort key: a larger key is the more generous plan (None = no limit = infinite)."""
    inf = float("inf")

    def lim(value):
        return inf if value is None else value

    rate = inf if not plan.rate_limit_per_second else plan.rate_limit_per_second
    return (lim(plan.monthly_calls), lim(plan.max_apis), rate, plan.rate_limit_burst)


def plan_from_row(row: dict, base: Plan | None = None) -> Plan:
    """A stored plan over ``base`` (the config's plan of that name): fields the table does not
    hold keep the config's values."""
    return replace(
        base or Plan(name=row["name"]),
        name=row["name"],
        max_apis=None if row["max_apis"] is None else int(row["max_apis"]),
        monthly_calls=None if row["monthly_calls"] is None else int(row["monthly_calls"]),
        rate_limit_per_second=float(row["rate_limit_per_second"]),
        rate_limit_burst=int(row["rate_limit_burst"]),
    )


class PlanBook:
    """The plans in effect, the groups and their plans, and the rule above (kept in memory;
    :meth:`reload` after every change, which the control plane makes)."""

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config
        self.plans: dict[str, Plan] = dict(config.plans)
        self.stored: set[str] = set()  # plans with a database row
        self.groups: dict[str, str | None] = {}
        self.memberships: dict[int, list[str]] = {}

    def reload(self, repo) -> None:
        """Read plans, groups and memberships from the ``Plans`` repository."""
        plans = dict(self.config.plans)
        rows = repo.plans()
        for row in rows:
            plans[row["name"]] = plan_from_row(row, plans.get(row["name"]))
        self.plans = plans
        self.stored = {row["name"] for row in rows}
        self.groups = repo.groups()
        self.memberships = repo.memberships()

    @property
    def default(self) -> Plan:
        return self.plans[self.config.default_plan]

    def resolve(self, user_id: int, name: str, own_plan: str | None) -> Resolved:
        """The plan of a user (see the module's rule)."""
        if own_plan and own_plan in self.plans:
            return Resolved(self.plans[own_plan], "user")
        configured = self.config.user_plans.get(name)
        if configured and configured in self.plans:
            return Resolved(self.plans[configured], "config")
        best: tuple[Plan, str] | None = None
        for group in self.memberships.get(user_id, ()):
            plan = self.plans.get(self.groups.get(group) or "")
            if plan is not None and (best is None or generosity(plan) > generosity(best[0])):
                best = (plan, group)
        if best is not None:
            return Resolved(best[0], "group", best[1])
        return Resolved(self.default, "default")

    def updated(self, base: Plan, name: str, changes: dict) -> Plan:
        """``base`` with ``changes`` (a subset of the plan's fields), named ``name``."""
        values = {k: v for k, v in changes.items() if k in _FIELDS}
        if "rate_limit_per_second" in values and values["rate_limit_per_second"] is None:
            values["rate_limit_per_second"] = 0.0  # no rate limit
        return replace(
            self.config.plans.get(name, base),
            name=name,
            **{f: getattr(base, f) for f in _FIELDS} | values,
        )
