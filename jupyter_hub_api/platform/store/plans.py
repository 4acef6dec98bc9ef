"""Plans, groups and the plan-related columns of ``users`` (migration step 3).

``plans`` holds the plans created or edited through the admin API (a row overrides the config
file's plan of that name); ``user_groups`` a plan per group; ``group_members`` who is in which
group; ``users.plan`` a user's own plan, ``users.is_admin`` and ``users.disabled``.
"""

from __future__ import annotations

from ..db import Database


class Plans:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- plans --------------------------------------------------------------------------------
    def plans(self) -> list[dict]:
        """Every plan row, as dicts of its columns."""
        return [dict(r) for r in self.db.query("SELECT * FROM plans ORDER BY name")]

    async def put_plan(self, name: str, limits: dict, stamp: str) -> None:
        """Create or replace the row of plan ``name``."""
        args = (
            name,
            limits["max_apis"],
            limits["monthly_calls"],
            float(limits["rate_limit_per_second"]),
            int(limits["rate_limit_burst"]),
            stamp,
        )
        await self.db.write(
            lambda c: c.execute(
                "INSERT INTO plans (name, max_apis, monthly_calls, rate_limit_per_second,"
                " rate_limit_burst, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET max_apis = excluded.max_apis,"
                " monthly_calls = excluded.monthly_calls,"
                " rate_limit_per_second = excluded.rate_limit_per_second,"
                " rate_limit_burst = excluded.rate_limit_burst, updated_at = excluded.updated_at",
                args,
            )
        )

    # -- groups -------------------------------------------------------------------------------
    def groups(self) -> dict[str, str | None]:
        """``{group: its plan or None}``."""
        rows = self.db.query("SELECT name, plan FROM user_groups ORDER BY name")
        return {r["name"]: r["plan"] for r in rows}

    def memberships(self) -> dict[int, list[str]]:
        """``{user id: [group, ...]}`` (sorted)."""
        out: dict[int, list[str]] = {}
        rows = self.db.query(
            "SELECT user_id, group_name FROM group_members ORDER BY user_id, group_name"
        )
        for r in rows:
            out.setdefault(r["user_id"], []).append(r["group_name"])
        return out

    async def put_group(
        self, name: str, plan: str | None, keep_plan: bool, members: list[int] | None, stamp: str
    ) -> None:
        """Create group ``name`` or change it: its plan (unless ``keep_plan``), and its members
        (all replaced, unless ``members`` is None)."""

        def write(c):
            c.execute(
                "INSERT INTO user_groups (name, plan, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (name, plan, stamp),
            )
            if not keep_plan:
                c.execute("UPDATE user_groups SET plan = ? WHERE name = ?", (plan, name))
            if members is not None:
                c.execute("DELETE FROM group_members WHERE group_name = ?", (name,))
                c.executemany(
                    "INSERT INTO group_members (group_name, user_id) VALUES (?, ?)",
                    [(name, uid) for uid in sorted(set(members))],
                )

        await self.db.write(write)

    async def set_user_groups(self, user_id: int, groups: list[str], stamp: str) -> None:
        """Make ``groups`` (created when new, without a plan) the user's groups."""

        def write(c):
            c.execute("DELETE FROM group_members WHERE user_id = ?", (user_id,))
            for name in sorted(set(groups)):
                c.execute(
                    "INSERT INTO user_groups (name, plan, created_at) VALUES (?, NULL, ?)"
                    " ON CONFLICT (name) DO NOTHING",
                    (name, stamp),
                )
                c.execute(
                    "INSERT INTO group_members (group_name, user_id) VALUES (?, ?)",
                    (name, user_id),
                )

        await self.db.write(write)

    # -- users --------------------------------------------------------------------------------
    async def set_user(self, user_id: int, **columns) -> None:
        """Set some of ``plan``, ``is_admin``, ``disabled`` of a user."""
        allowed = {"plan", "is_admin", "disabled"}
        assert set(columns) <= allowed, columns
        if not columns:
            return
        names = sorted(columns)
        sets = ", ".join(f"{n} = ?" for n in names)
        args = tuple(int(columns[n]) if n != "plan" else columns[n] for n in names)
        await self.db.write(
            lambda c: c.execute(f"UPDATE users SET {sets} WHERE id = ?", (*args, user_id))
        )
