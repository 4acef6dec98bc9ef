"""The control plane: ``/api/v1/...`` (REST, JSON), thin handlers over the platform's services.

Every operation is declared once in :meth:`Control.operations` with its models (``schemas.py``);
``operations.py`` runs them and ``openapi.py`` describes them. Every route but the health checks
and the document needs ``Authorization: Bearer <token>``; the token names the user, and a user
only ever sees and changes their own APIs and keys. Errors are ``{"error": {"type", "message"}}``
with the HTTP status of the :class:`HubError` raised.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import signal

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .. import __version__
from ..errors import HubError, UsageError
from ..project.names import check_name
from . import instance_id
from . import schemas as s
from .deploy import Deployer
from .hubauth import HubIdentity
from .openapi import serve_json, serve_yaml
from .operations import Call, Op, endpoints
from .runtime_update import update_runtime  # ui (issue 11)
from .service import Platform, User, now_iso
from .version_changes import EDITABLE

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")

# The usual words of a refusal, by status (an operation may say more).
NOT_FOUND = "the caller has no such API"
NOT_OWNER = "not the platform's own user"
NOT_ADMIN = "the caller is not a platform admin"


class Control:
    """The control-plane operations over a :class:`Platform` and its :class:`Deployer`."""

    # -- JupyterHub tokens (hubhub): set by create_app when JupyterHub runs the platform --
    hub: HubIdentity | None = None
    # -- end JupyterHub tokens --

    def __init__(self, platform: Platform, deployer: Deployer) -> None:
        self.platform = platform
        self.deployer = deployer
        self.instance = instance_id(platform.state_dir) if platform else ""

    def operations(self) -> list[Op]:
        """Every operation of the control plane, in the order the document lists them."""
        admin = {403: NOT_ADMIN}
        no_api, no_key, key = (
            {404: NOT_FOUND},
            {404: "the caller has no such key"},
            "/api/v1/keys/{key_id}",
        )
        return [
            Op("GET", "/healthz", self.healthz, s.Health, public=True),
            Op(
                "GET",
                "/readyz",
                self.readyz,
                s.Readiness,
                public=True,
                also={503: ("starting or stopping", s.Readiness)},
            ),
            Op("GET", "/api/v1/openapi.yaml", serve_yaml, public=True, media="application/yaml"),
            Op("GET", "/api/v1/openapi.json", serve_json, public=True),
            Op("GET", "/api/v1/me", self.me, s.Me),
            Op(
                "POST",
                "/api/v1/users",
                self.create_user,
                s.UserCreated,
                201,
                body=s.UserCreate,
                errors={403: NOT_OWNER, 409: "there is such a user already"},
            ),
            Op("GET", "/api/v1/apis", self.list_apis, s.ApiList),
            Op("GET", "/api/v1/apis/{name}", self.get_api, s.ApiDetail, errors=no_api),
            Op("DELETE", "/api/v1/apis/{name}", self.delete_api, s.ApiDeleted, errors=no_api),
            Op("GET", "/api/v1/apis/{name}/versions", self.versions, s.Versions, errors=no_api),
            Op(
                "POST",
                "/api/v1/apis/{name}/rollback",
                self.rollback,
                s.DeployResult,
                body=s.Rollback,
                body_required=False,
                errors={404: NOT_FOUND, 500: "the version could not be loaded"},
            ),
            # -- ui (issue 11): scaling and limits from the panel --
            Op(
                "PATCH",
                "/api/v1/apis/{name}/runtime",
                self.update_runtime,
                s.DeployResult,
                body=s.RuntimeUpdate,
                errors={
                    404: NOT_FOUND,
                    409: "the API has no live version",
                    500: "the version could not be loaded",
                },
            ),
            # -- end ui --
            Op(
                "GET",
                "/api/v1/apis/{name}/invocations",
                self.invocations,
                s.Invocations,
                query=s.InvocationsQuery,
                errors=no_api,
            ),
            Op(
                "GET",
                "/api/v1/apis/{name}/logs",
                self.logs,
                s.Logs,
                query=s.LogsQuery,
                errors=no_api,
                stream=s.LogLine,
            ),
            Op("GET", "/api/v1/usage", self.usage, s.Usage, query=s.UsageQuery),
            Op("GET", "/api/v1/keys", self.list_keys, s.Keys),
            Op(
                "POST",
                "/api/v1/keys",
                self.create_key,
                s.KeyCreated,
                201,
                body=s.KeyCreate,
                body_required=False,
            ),
            Op("PATCH", key, self.update_key, s.KeyChanged, body=s.KeyUpdate, errors=no_key),
            Op("DELETE", key, self.delete_key, s.KeyDeleted, errors=no_key),
            Op("POST", key + "/reveal", self.reveal_key, s.KeySecret, errors=no_key),
            Op(
                "POST",
                "/api/v1/deployments",
                self.create_deployment,
                s.DeploymentCreated,
                201,
                body=s.DeploymentCreate,
                errors={403: "the plan's API limit is reached, or the record names another user"},
            ),
            Op(
                "PUT",
                "/api/v1/blobs/{sha}",
                self.put_blob,
                s.BlobStored,
                201,
                upload="application/octet-stream",
                also={200: ("the platform has this blob already", s.BlobStored)},
                errors={
                    400: "the content does not hash to sha, or sha is not a sha256 digest",
                    409: "no pending deployment of the caller lists this blob",
                    413: "larger than the build record says",
                    507: "the platform's disk is full (nothing of the blob is kept)",
                },
            ),
            Op(
                "POST",
                "/api/v1/deployments/{dep_id}/commit",
                self.commit_deployment,
                s.DeploymentAnswer,
                202,
                errors={400: "blobs are still missing", 404: "the caller has no such deployment"},
            ),
            Op(
                "GET",
                "/api/v1/deployments/{dep_id}",
                self.get_deployment,
                s.DeploymentAnswer,
                query=s.DeploymentQuery,
                errors={404: "the caller has no such deployment"},
            ),
            Op("POST", "/api/v1/shutdown", self.shutdown, s.Stopping, 202, errors={403: NOT_OWNER}),
            # -- plans and admin (plans.py) --
            Op("GET", "/api/v1/plan", self.my_plan, s.MyPlan),
            Op(
                "PATCH",
                "/api/v1/plan",
                self.edit_my_plan,
                s.MyPlan,
                body=s.PlanChange,
                errors={403: NOT_ADMIN},
            ),
            Op("GET", "/api/v1/admin/users", self.admin_users, s.AdminUsers, errors=admin),
            Op(
                "PATCH",
                "/api/v1/admin/users/{user}",
                self.admin_change_user,
                s.AdminUser,
                body=s.UserChange,
                errors={403: NOT_ADMIN, 404: "no such user, or no such plan"},
            ),
            Op("GET", "/api/v1/admin/plans", self.admin_plans, s.Plans, errors=admin),
            Op(
                "PUT",
                "/api/v1/admin/plans/{plan}",
                self.admin_put_plan,
                s.PlanInfo,
                body=s.PlanLimits,
                body_required=False,
                errors=admin,
            ),
            Op("GET", "/api/v1/admin/groups", self.admin_groups, s.Groups, errors=admin),
            Op(
                "PUT",
                "/api/v1/admin/groups/{group}",
                self.admin_put_group,
                s.Group,
                body=s.GroupChange,
                body_required=False,
                errors={403: NOT_ADMIN, 404: "no such plan or user"},
            ),
            Op(
                "GET",
                "/api/v1/admin/apis",
                self.admin_apis,
                s.AdminApis,
                query=s.AdminApisQuery,
                errors={403: NOT_ADMIN, 404: "no such user"},
            ),
            Op(
                "GET",
                "/api/v1/admin/apis/{user}/{name}",
                self.admin_api,
                s.ApiDetail,
                errors={403: NOT_ADMIN, 404: "no such user or API"},
            ),
        ]

    def routes(self) -> list[Route]:
        """The Starlette routes of the control plane."""
        return endpoints(self.operations(), self._authenticate)

    # -- health -------------------------------------------------------------------------------
    async def healthz(self, call: Call) -> s.Health:
        """Liveness: the process answers; ``service`` tells a client it reached a Hub platform."""
        return s.Health(
            status="ok", service="hub-platform", version=__version__, instance=self.instance
        )

    async def readyz(self, call: Call):
        """Readiness (state open, engine started, APIs loaded)."""
        if not self.platform.ready:
            answer = s.Readiness(status="starting", service="hub-platform")
            return Response(answer.model_dump_json(), 503, media_type="application/json")
        return s.Readiness(status="ready", service="hub-platform", version=__version__)

    # -- account ------------------------------------------------------------------------------
    async def me(self, call: Call) -> s.Me:
        """The caller, their plan and this month's count."""
        user, month = call.user, self.platform.month()
        return s.Me(
            user=user.name,
            plan=user.plan.to_dict(),
            month=month,
            calls_this_month=self.platform.quota.used(user.id, month),
            gateway_url=self._base(call.request),
        )

    async def create_user(self, call: Call):
        """Create a user (the platform's own user only); the answer holds their token once."""
        self._own_user_only(call.user, "create users")
        name = check_name(call.body.name, field="name")
        if self.platform.user_by_name(name) is not None:
            raise UsageError(f"There is already a user {name!r}.", type="exists", status=409)
        token = await self.platform.add_user(name)
        plan = self.platform.user_by_name(name).plan
        return s.UserCreated(user=name, token=token, plan=plan.to_dict())

    async def shutdown(self, call: Call) -> s.Stopping:
        """Stop the platform (its own user only)."""
        self._own_user_only(call.user, "stop it")
        asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), signal.SIGTERM)
        return s.Stopping(status="stopping")

    # -- plans and admin (plans.py has the resolution rule) ----------------------------------
    async def my_plan(self, call: Call) -> s.MyPlan:
        """The caller's plan, where it comes from, and this month's use of it (`hub plan`)."""
        return self._my_plan(call.user)

    async def edit_my_plan(self, call: Call) -> s.MyPlan:
        """Change the limits of the caller's own plan (admins: on an embedded platform, its
        owner); every user on that plan gets them."""
        user = call.user
        self._admin_only(user, "change plan limits")
        changes = {f: getattr(call.body, f) for f in call.body.model_fields_set}
        if not changes:
            raise UsageError(
                'Send at least one limit to change, e.g. {"monthly_calls": 100000}.',
                type="bad_request",
            )
        await self._store_plan(user.plan.name, changes)
        return self._my_plan(user)

    def _my_plan(self, user: User) -> s.MyPlan:
        month = self.platform.month()
        quota = self._quota(user, month)
        return s.MyPlan(
            user=user.name,
            plan=user.plan.to_dict(),
            source=user.plan_source,
            group=user.group,
            month=month,
            quota=quota,
            quota_spent=_spent(quota),
            renews_at=_next_month_start(month),
            can_edit=user.is_admin,
            users_on_plan=self._plan_counts().get(user.plan.name, 0),
        )

    async def _store_plan(self, name: str, changes: dict):
        book = self.platform.plan_book
        base = book.plans.get(name) or book.default
        plan = book.updated(base, name, changes)
        await self.platform.repos.plans.put_plan(name, plan.to_dict(), now_iso())
        self.platform.refresh_users()
        return self.platform.plan_book.plans[name]

    def _all_users(self) -> list[User]:
        return [self.platform.user_by_id(row.id) for row in self.platform.repos.users.all()]

    def _plan_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for user in self._all_users():
            counts[user.plan.name] = counts.get(user.plan.name, 0) + 1
        return counts

    async def admin_users(self, call: Call) -> s.AdminUsers:
        """Every user with their plan, groups and this month's usage (admins only)."""
        self._admin_only(call.user, "list users")
        month = self.platform.month()
        return s.AdminUsers(
            month=month, users=[self._admin_user(u, month) for u in self._all_users()]
        )

    def _admin_user(self, user: User, month: str) -> s.AdminUser:
        quota = self._quota(user, month)
        row = self.platform.repos.users.by_id(user.id)
        return s.AdminUser(
            name=user.name,
            is_admin=user.is_admin,
            disabled=user.disabled,
            plan=user.plan.name,
            plan_source=user.plan_source,
            own_plan=user.own_plan,
            groups=self.platform.plan_book.memberships.get(user.id, []),
            created_at=row.created_at,
            apis=quota.apis,
            month=month,
            calls_this_month=quota.used,
            monthly_calls=quota.monthly_calls,
            remaining=quota.remaining,
            quota_spent=_spent(quota),
        )

    async def admin_change_user(self, call: Call) -> s.AdminUser:
        """Set a user's own plan, groups, admin flag or disabled flag (admins only)."""
        self._admin_only(call.user, "change users")
        user = self._user_named(call.param("user"))
        body, sent = call.body, call.body.model_fields_set
        columns = {}
        if "plan" in sent:
            if body.plan is not None:
                self._plan_named(body.plan)
            columns["plan"] = body.plan
        if "is_admin" in sent and body.is_admin is not None:
            columns["is_admin"] = body.is_admin
        if "disabled" in sent and body.disabled is not None:
            if body.disabled and user.name == self.platform.local_user:
                raise UsageError(
                    "The platform's own user cannot be disabled.", type="bad_request", status=400
                )
            columns["disabled"] = body.disabled
        repo = self.platform.repos.plans
        await repo.set_user(user.id, **columns)
        if "groups" in sent and body.groups is not None:
            await repo.set_user_groups(user.id, body.groups, now_iso())
        self.platform.refresh_users()
        return self._admin_user(user, self.platform.month())

    async def admin_plans(self, call: Call) -> s.Plans:
        """Every plan with its limits and how many users are on it (admins only)."""
        self._admin_only(call.user, "list plans")
        book, counts = self.platform.plan_book, self._plan_counts()
        return s.Plans(
            default_plan=self.platform.config.default_plan,
            plans=[self._plan_info(p, counts) for _, p in sorted(book.plans.items())],
        )

    def _plan_info(self, plan, counts: dict[str, int]) -> s.PlanInfo:
        book = self.platform.plan_book
        return s.PlanInfo(
            **plan.to_dict(),
            source="database" if plan.name in book.stored else "config",
            users=counts.get(plan.name, 0),
            default=plan.name == self.platform.config.default_plan,
        )

    async def admin_put_plan(self, call: Call) -> s.PlanInfo:
        """Create a plan or change its limits; a field not sent keeps its value (a new plan
        starts from the default plan's) (admins only)."""
        self._admin_only(call.user, "create or change plans")
        name = call.param("plan")
        if not _PLAN_RE.match(name):
            raise UsageError(
                f"{name[:80]!r} is not a plan name: use 1-40 lowercase letters, digits, '_' or "
                "'-', starting with a letter.",
                type="bad_name",
            )
        changes = {f: getattr(call.body, f) for f in call.body.model_fields_set}
        plan = await self._store_plan(name, changes)
        return self._plan_info(plan, self._plan_counts())

    async def admin_groups(self, call: Call) -> s.Groups:
        """Every group with its plan and members (admins only)."""
        self._admin_only(call.user, "list groups")
        return s.Groups(groups=[self._group(name) for name in self.platform.plan_book.groups])

    def _group(self, name: str) -> s.Group:
        book = self.platform.plan_book
        members = sorted(
            self.platform.user_by_id(uid).name
            for uid, groups in book.memberships.items()
            if name in groups
        )
        return s.Group(name=name, plan=book.groups.get(name), members=members)

    async def admin_put_group(self, call: Call) -> s.Group:
        """Create a group or change its plan or members; a field not sent is kept (admins
        only)."""
        self._admin_only(call.user, "create or change groups")
        name = call.param("group")
        if not _GROUP_RE.match(name):
            raise UsageError(
                f"{name[:80]!r} is not a group name: use 1-64 letters, digits, spaces, '.', '_' "
                "or '-'.",
                type="bad_name",
            )
        body, sent = call.body, call.body.model_fields_set
        if body.plan is not None:
            self._plan_named(body.plan)
        members = None
        if "members" in sent and body.members is not None:
            members = [self._user_named(m).id for m in body.members]
        await self.platform.repos.plans.put_group(
            name, body.plan, "plan" not in sent, members, now_iso()
        )
        self.platform.refresh_users()
        return self._group(name)

    async def admin_apis(self, call: Call) -> s.AdminApis:
        """Every API of every user (or of ``user``), as in the API list (admins only)."""
        self._admin_only(call.user, "list every user's APIs")
        month = self.platform.month()
        who = call.query.user
        users = [self._user_named(who)] if who else self._all_users()
        apis = []
        for user in users:
            apis.extend(self._api_list(call.request, user, month).apis)
        return s.AdminApis(apis=apis)

    async def admin_api(self, call: Call) -> s.ApiDetail:
        """Any user's API, as its owner sees it (admins only)."""
        self._admin_only(call.user, "inspect other users' APIs")
        user = self._user_named(call.param("user"))
        route = self.platform.routes.get(user.name, call.param("name"))
        if route is None:
            raise UsageError(
                f"{user.name} has no API called {call.param('name')!r}.",
                type="not_found",
                hint="See `hub admin apis`.",
                status=404,
            )
        return self._api_detail(call.request, user, route)

    def _user_named(self, name: str) -> User:
        user = self.platform.user_by_name(name)
        if user is None:
            raise UsageError(
                f"There is no user {name[:80]!r} on this platform.",
                type="not_found",
                hint="See `hub admin users`.",
                status=404,
            )
        return user

    def _plan_named(self, name: str):
        plan = self.platform.plan_book.plans.get(name)
        if plan is None:
            known = ", ".join(sorted(self.platform.plan_book.plans))
            raise UsageError(
                f"There is no plan {name[:80]!r}; the plans are {known} (create one with "
                "`hub admin plan NAME monthly_calls=...`).",
                type="not_found",
                status=404,
            )
        return plan

    def _admin_only(self, user: User, what: str) -> None:
        if not user.is_admin:
            raise HubError(
                f"Only a platform admin may {what}; ask your platform's administrator.",
                type="forbidden",
                status=403,
            )

    # -- APIs ---------------------------------------------------------------------------------
    async def list_apis(self, call: Call) -> s.ApiList:
        """Every API of the caller, with status, usage and latency."""
        user, month = call.user, self.platform.month()
        return self._api_list(call.request, user, month)

    def _api_list(self, request: Request, user: User, month: str) -> s.ApiList:
        states = self.platform.api_states(user, month)
        routes = sorted(self.platform.routes.of_user(user.name), key=lambda r: r.name)
        quota = self._quota(user, month)
        spent = _spent(quota)
        apis = [self._summary(request, route, states[route.name], month, spent) for route in routes]
        return s.ApiList(apis=apis, quota=quota)

    async def get_api(self, call: Call) -> s.ApiDetail:
        """One API, as in the list, with the caller's quota."""
        route = self.deployer.route_of(call.user, call.param("name"))
        return self._api_detail(call.request, call.user, route)

    def _api_detail(self, request: Request, user: User, route) -> s.ApiDetail:
        month = self.platform.month()
        state = self.platform.api_states(user, month)[route.name]
        quota = self._quota(user, month)
        summary = self._summary(request, route, state, month, _spent(quota))
        return s.ApiDetail(**dict(summary), quota=quota, handler=self._handler_input(route))

    # -- console (issue 11): the live version's input schema, from its build record --
    def _handler_input(self, route) -> s.HandlerInput | None:
        live = route.live
        row = self.platform.repos.versions.get(live.id) if live is not None else None
        info = row.record.get("handler") if row is not None else None
        return s.HandlerInput.model_validate(info) if isinstance(info, dict) else None

    # -- end console --

    async def delete_api(self, call: Call) -> s.ApiDeleted:
        """Stop the API and delete it with its versions, history and logs (usage counts stay)."""
        return s.ApiDeleted.model_validate(
            await self.deployer.delete(call.user, call.param("name"))
        )

    async def versions(self, call: Call) -> s.Versions:
        """The versions of an API, newest first."""
        route = self.deployer.route_of(call.user, call.param("name"))
        return s.Versions(api=route.name, versions=self.platform.versions_of(route))

    async def rollback(self, call: Call) -> s.DeployResult:
        """Make an earlier version live (load it, switch, drain the old one)."""
        target = call.body.version
        result = await self.deployer.rollback(
            call.user, call.param("name"), None if target in (None, "") else str(target)
        )
        return s.DeployResult.model_validate(result)

    # -- ui (issue 11) --
    async def update_runtime(self, call: Call) -> s.DeployResult:
        """Change scaling and limits: the live version is deployed again with the new settings
        (a new version; nothing is uploaded or installed; no call is dropped)."""
        changes = call.body.model_dump(exclude_none=True)
        if not changes:
            raise UsageError(
                f"Send at least one of {', '.join(EDITABLE)}.",
                type="bad_request",
            )
        result = await update_runtime(self.deployer, call.user, call.param("name"), changes)
        return s.DeployResult.model_validate(result)

    # -- end ui --

    async def invocations(self, call: Call) -> s.Invocations:
        """Invocation history, newest first (``limit``, ``before`` to page)."""
        route = self.deployer.route_of(call.user, call.param("name"))
        q = call.query
        items = await anyio.to_thread.run_sync(
            lambda: self.platform.invocations(route, q.limit, q.before)
        )
        return s.Invocations(api=route.name, invocations=items)

    async def logs(self, call: Call):
        """What the handler printed (``after`` a line id, ``tail``, ``invocation_id``, ``follow``)."""
        route = self.deployer.route_of(call.user, call.param("name"))
        sink, q = self.platform.logs, call.query
        after = q.after
        if q.tail is not None and "after" not in q.model_fields_set:
            after = sink.tail(route.api_id, q.tail)
        if not q.follow:
            lines = sink.read(route.api_id, after, q.limit, q.invocation_id)
            nxt = lines[-1].id if lines else after
            return s.Logs(api=route.name, lines=lines, next=nxt)
        return StreamingResponse(
            self._follow(call.request, route, after, q.invocation_id),
            media_type="application/x-ndjson",
        )

    async def _follow(self, request: Request, route, after: int, invocation_id: str | None):
        sink = self.platform.logs
        while True:
            lines = sink.read(route.api_id, after, 500, invocation_id)
            for line in lines:
                yield line.model_dump_json() + "\n"
            if lines:
                after = lines[-1].id
                continue
            if (
                await request.is_disconnected()
                or self.platform.routes.get(route.user, route.name) is None
            ):
                return
            await sink.wait_for_new(timeout=10.0)
            yield "\n"  # a keep-alive blank line: lets the client notice the stream is alive

    async def usage(self, call: Call) -> s.Usage:
        """Calls per API in a month (default this one) against the quota, errors, latency."""
        user = call.user
        month = call.query.month or self.platform.month()
        items = [
            s.ApiUsage(
                api=name,
                deleted=state.deleted,
                **state.counts.model_dump(),
                **state.latency.model_dump(),
            )
            for name, state in sorted(self.platform.api_states(user, month).items())
        ]
        total = sum(i.calls for i in items)
        return s.Usage(
            month=month, apis=items, total_calls=total, quota=self._quota(user, month, total)
        )

    # -- keys ---------------------------------------------------------------------------------
    async def list_keys(self, call: Call) -> s.Keys:
        """The caller's keys, masked."""
        return s.Keys(keys=self.platform.keys.list(call.user.id))

    async def create_key(self, call: Call) -> s.KeyCreated:
        """Create a key; the answer holds it in full (``secret``)."""
        key, secret = await self.platform.keys.create(call.user.id, call.body.name, now_iso())
        return s.KeyCreated(key=key, secret=secret)

    async def reveal_key(self, call: Call) -> s.KeySecret:
        """One of the caller's keys in full (its owner only)."""
        key_id = call.param("key_id")
        secret = self.platform.keys.reveal(call.user.id, key_id)
        if secret is None:
            raise _no_key(key_id)
        return s.KeySecret(id=key_id, secret=secret)

    async def update_key(self, call: Call) -> s.KeyChanged:
        """Enable or disable a key (body ``{"enabled": bool}``)."""
        key_id = call.param("key_id")
        if not await self.platform.keys.set_enabled(call.user.id, key_id, call.body.enabled):
            raise _no_key(key_id)
        return s.KeyChanged(key=self.platform.keys.get(call.user.id, key_id))

    async def delete_key(self, call: Call) -> s.KeyDeleted:
        """Delete a key for good."""
        key_id = call.param("key_id")
        if not await self.platform.keys.delete(call.user.id, key_id):
            raise _no_key(key_id)
        self.platform.limiter.forget(key_id)
        return s.KeyDeleted(id=key_id, deleted=True)

    # -- deployments --------------------------------------------------------------------------
    async def create_deployment(self, call: Call) -> s.DeploymentCreated:
        """Deploy, step 1: send the build record; get the blobs the platform lacks."""
        dep, missing = self.deployer.create(call.user, call.body.record)
        return s.DeploymentCreated(deployment=dep.to_dict(), missing=missing)

    async def put_blob(self, call: Call):
        """Deploy, step 2: upload one file a pending deployment lists (checked: hash, size)."""
        sha, user, request = call.param("sha"), call.user, call.request
        if not _SHA_RE.match(sha):
            raise UsageError(f"{sha[:80]!r} is not a sha256 hex digest.", type="bad_request")
        expected = self.deployer.expected_size(user, sha)
        if expected is None:
            raise UsageError(
                "No pending deployment of yours lists this blob; create the deployment first.",
                type="unexpected_blob",
                status=409,
            )
        limit = min(expected, self.platform.config.max_blob_bytes)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise UsageError(
                f"The blob has {declared} bytes; its build record says {expected}.",
                type="payload_too_large",
                status=413,
            )
        store = self.platform.store
        if store.has(sha):
            answer = s.BlobStored(sha256=sha, stored=False)
            return Response(answer.model_dump_json(), 200, media_type="application/json")
        reader = _BodyReader(request, limit)
        try:
            stored_sha, written = await anyio.to_thread.run_sync(
                lambda: store.put_stream(reader, expected=sha)
            )
        except HubError as err:
            err.status = 413 if reader.too_large else 400
            if reader.too_large:
                err.message = f"The blob is larger than the {expected} bytes its build record says."
                err.hint = None
            raise
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise HubError(
                f"The platform's disk is full (or its quota used up) at {store.root}; nothing of "
                "this file was kept. Free space there, then deploy again.",
                type="insufficient_storage",
                status=507,
                exit_code=1,
            ) from None
        return s.BlobStored(sha256=stored_sha, stored=written > 0)

    async def commit_deployment(self, call: Call) -> s.DeploymentAnswer:
        """Deploy, step 3: start the deployment (it runs in the background)."""
        dep = self.deployer.commit(call.user, call.param("dep_id"))
        return s.DeploymentAnswer(deployment=dep.to_dict())

    async def get_deployment(self, call: Call) -> s.DeploymentAnswer:
        """A deployment's events and, when finished, its result or error (``wait`` long-polls)."""
        dep = self.deployer.get(call.user, call.param("dep_id"))
        after, wait = call.query.after, min(call.query.wait or 0.0, 30.0)
        if wait > 0 and dep.status in ("pending", "running") and len(dep.events) <= after:
            try:
                await asyncio.wait_for(dep.changed.wait(), wait)
            except asyncio.TimeoutError:
                pass
        return s.DeploymentAnswer(deployment=dep.to_dict(after))

    # -- helpers ------------------------------------------------------------------------------
    async def _authenticate(self, request: Request) -> User:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        # -- JupyterHub tokens (hubhub): JupyterHub's clients also write "token <token>" --
        schemes = ("bearer", "token") if self.hub is not None else ("bearer",)
        # -- end JupyterHub tokens --
        if scheme.lower() not in schemes or not token.strip():
            raise HubError(
                "The control plane needs a token: send Authorization: Bearer <token>.",
                type="missing_token",
                status=401,
                exit_code=1,
            )
        user = self.platform.user_for_token(token.strip())
        # -- JupyterHub tokens (hubhub): a token of the hub names a JupyterHub user (hubauth.py) --
        if user is None and self.hub is not None:
            user = await self.hub.user_for_token(self.platform, token.strip())
        # -- end JupyterHub tokens --
        if user is None:
            raise HubError(
                "The platform does not accept this token.",
                type="invalid_token",
                hint="Check HUB_PLATFORM_TOKEN, or unset it to use the embedded platform's own "
                "token."
                # -- JupyterHub tokens (hubhub) --
                if self.hub is None
                else "Neither the platform nor JupyterHub knows it: use a JupyterHub API token "
                "(the hub's Token page) or log in to JupyterHub again.",
                # -- end JupyterHub tokens --
                status=401,
                exit_code=1,
            )
        if user.disabled:
            raise HubError(
                f"The platform account {user.name!r} is disabled; ask your platform's "
                "administrator.",
                type="disabled_user",
                status=403,
                exit_code=1,
            )
        return user

    def _own_user_only(self, user: User, what: str) -> None:
        if user.name != self.platform.local_user:
            raise HubError(
                f"Only the platform's own user may {what}.", type="forbidden", status=403
            )

    def _base(self, request: Request) -> str:
        return self.platform.public_url or str(request.base_url).rstrip("/")

    def _quota(self, user: User, month: str, used: int | None = None) -> s.Quota:
        used = self.platform.quota.used(user.id, month) if used is None else used
        plan = user.plan
        return s.Quota(
            plan=plan.name,
            monthly_calls=plan.monthly_calls,
            used=used,
            remaining=None if plan.monthly_calls is None else max(0, plan.monthly_calls - used),
            max_apis=plan.max_apis,
            apis=len(self.platform.routes.of_user(user.name)),
            rate_limit_per_second=plan.rate_limit_per_second,
        )

    def _summary(
        self, request: Request, route, state, month: str, quota_spent: bool = False
    ) -> s.ApiSummary:
        """An API's summary: its route, its engine's status and its state (``api_states``)."""
        live, counts = route.live, state.counts
        engine = self.platform.engine.status(live.engine_id) if live else {}
        failed_calls = counts.errors + counts.failures
        attempts = counts.calls + counts.failures
        return s.ApiSummary(
            name=route.name,
            user=route.user,
            endpoint=f"{self._base(request)}/{route.user}/{route.name}",
            status=engine.get("state", "no_version"),
            workers=engine.get("workers", 0),
            busy=engine.get("busy", 0),
            load_error=engine.get("load_error"),
            live_version=None
            if live is None
            else s.LiveVersion(
                version=live.version,
                version_number=live.seq,
                build_id=live.build_id,
                deployed_at=state.deployed_at,
            ),
            month=month,
            calls_this_month=counts.calls,
            errors_this_month=counts.errors,
            failures_this_month=counts.failures,
            error_rate=round(failed_calls / attempts, 4) if attempts else 0.0,
            latency=state.latency,
            calls_per_day=state.calls_per_day,
            created_at=state.created_at,
            updated_at=state.updated_at,
            quota_spent=quota_spent,
        )


def _spent(quota: s.Quota) -> bool:
    """Whether the monthly quota is used up (POSTs answer 429)."""
    return quota.monthly_calls is not None and quota.used >= quota.monthly_calls


def _next_month_start(month: str) -> str:
    year, mon = (int(part) for part in month.split("-"))
    year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return f"{year:04d}-{mon:02d}-01T00:00:00Z"


_PLAN_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_GROUP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")


class _BodyReader:
    """A blocking ``read()`` over the request's streamed body, for the blob store's thread."""

    def __init__(self, request: Request, limit: int) -> None:
        self._stream = request.stream().__aiter__()
        self._buf = b""
        self._done = False
        self.limit = limit
        self.total = 0
        self.too_large = False

    async def _next(self) -> bytes:
        try:
            return await self._stream.__anext__()
        except StopAsyncIteration:
            return b""

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buf) < size):
            chunk = anyio.from_thread.run(self._next)
            if not chunk:
                self._done = True
                break
            self.total += len(chunk)
            if self.total > self.limit:
                self.too_large = True
                # Stop reading: the hash check then fails and nothing is kept.
                self._done = True
                self._buf += b"\0"
                break
            self._buf += chunk
        if size < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:size], self._buf[size:]
        return data


def _no_key(key_id: str) -> HubError:
    return UsageError(
        f"You have no key {key_id!r}.", type="not_found", hint="See `hub keys list`.", status=404
    )
