"""The platform's state in one object: database, keys, quotas, routes, engine, logs.

:class:`Platform` is created by the app factory and started in its lifespan. The gateway and the
control plane both work on it; neither talks to SQLite or the engine behind its back.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import hmac
import itertools
import logging
import secrets
import time
from pathlib import Path

from .. import paths
from ..artifacts.blobstore import BlobStore
from ..errors import HubError
from .config import Plan, PlatformConfig, database_url
from .db import Database
from .engines import Engine, VersionSpec, create_engine
from .keys import KeyRing, write_private
from .logsink import LogSink
from .models import ApiState, Invocation, UsageCounts, VersionInfo, VersionRecord
from .plans import PlanBook
from .quotas import MonthlyQuota, RateLimiter, month_of, seconds_to_next_month
from .routing import LiveVersion, Route, RouteTable
from .store import Repositories
from .version_changes import describe_changes, runtime_settings  # ui (issue 11)

log = logging.getLogger("hub.platform")

TOKEN_FILE = "token"
SECRET_FILE = "secret.key"
DB_FILE = "platform.db"

_activations = itertools.count(1)


def now_iso() -> str:
    """The current UTC time, ISO-8601 with a Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def hash_token(token: str) -> str:
    """The digest a control-plane token is stored under."""
    return hashlib.sha256(token.encode()).hexdigest()


class User:
    """A user of the platform, as the control plane sees it after authentication.

    ``plan`` is resolved by ``plans.PlanBook`` (``plan_source``: user, config, group or
    default); the platform updates these attributes in place when an admin changes plans, so
    the gateway's next request sees the new limits.
    """

    def __init__(
        self,
        id: int,
        name: str,
        plan: Plan,
        *,
        plan_source: str = "default",
        group: str | None = None,
        own_plan: str | None = None,
        is_admin: bool = False,
        disabled: bool = False,
    ) -> None:
        self.id = id
        self.name = name
        self.plan = plan
        self.plan_source = plan_source
        self.group = group
        self.own_plan = own_plan
        self.is_admin = is_admin
        self.disabled = disabled


class Platform:
    """Everything the gateway and the control plane share."""

    def __init__(
        self,
        config: PlatformConfig,
        state_dir: Path | None = None,
        engine: Engine | None = None,
        local_user: str | None = None,
    ) -> None:
        self.config = config
        self.state_dir = Path(state_dir or paths.platform_dir())
        self.local_user = local_user or paths.username()
        self.engine = engine
        self.public_url: str | None = None  # set by the server once it is bound
        self.db: Database | None = None
        self.repos: Repositories | None = None  # every SQL statement (store/)
        self.keys: KeyRing | None = None
        self.store = BlobStore(paths.blobs_dir())
        self.routes = RouteTable()
        self.quota: MonthlyQuota | None = None
        self.limiter = RateLimiter()
        self.plan_book = PlanBook(config)
        self.logs: LogSink | None = None
        self.async_calls = None  # async: the gateway's AsyncInvocations (async_invocations.py)
        self.ready = False
        self._tasks: set[asyncio.Task] = set()
        self._users_by_id: dict[int, User] = {}
        self._token_cache: dict[str, int] = {}
        self._month = ""
        self._month_until = 0.0

    # -- life cycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the state, make sure the local user has a token and a key, load the APIs."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o700)
        (self.state_dir / "versions").mkdir(exist_ok=True)
        # -- postgres: PostgreSQL when the config (or HUB_DATABASE_URL) names a database --
        url = database_url(self.config)
        self.db = Database(url or self.state_dir / DB_FILE)
        if url is None:
            (self.state_dir / DB_FILE).chmod(0o600)
        self.db.start_metering()
        self.repos = Repositories(self.db)
        self.keys = KeyRing(self.repos.keys, self.state_dir / SECRET_FILE)
        self.quota = MonthlyQuota(self.repos.usage.used)
        self.logs = LogSink(self.repos.logs, self.config.keep_log_lines)
        self.plan_book.reload(self.repos.plans)
        await self._ensure_local_user()
        if self.engine is None:
            engine = self.config.engine
            options = {"address": engine.address} if engine.name == "ray" else {}
            self.engine = create_engine(
                engine.name,
                sandbox=engine.sandbox,
                scratch_dir=self.state_dir / "workers",
                **options,
            )
        self.engine.on_log = self._on_engine_log
        await self.engine.start()
        await self._load_routes()
        if self.async_calls is not None:  # async: run what was queued, fail what was running
            await self.async_calls.start()
        self.ready = True

    async def stop(self) -> None:
        """Stop workers, flush logs and close the database."""
        self.ready = False
        for task in list(self._tasks):
            task.cancel()
        if self.engine is not None:
            try:
                await self.engine.stop()
            except Exception:  # stopping must go on to close the database
                log.exception("the engine did not stop cleanly")
        if self.logs is not None:
            await self.logs.flush()
        if self.db is not None:
            self.db.close()

    def spawn(self, coro) -> asyncio.Task:
        """Run ``coro`` in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- users and tokens ---------------------------------------------------------------------
    async def _ensure_local_user(self) -> None:
        token_path = self.state_dir / TOKEN_FILE
        users = self.repos.users
        user = users.by_name(self.local_user)
        token = token_path.read_text().strip() if token_path.exists() else None
        if user is None:
            token = token or secrets.token_urlsafe(32)
            user_id = await users.create(self.local_user, hash_token(token), now_iso())
        else:
            user_id = user.id
            if token is None or user.token_hash != hash_token(token):
                # The token file was removed or belongs to another user name: issue a new one.
                token = token if token and user.token_hash is None else secrets.token_urlsafe(32)
                await users.set_token_hash(user_id, hash_token(token))
        if not token_path.exists() or token_path.read_text().strip() != token:
            write_private(token_path, token.encode())
        if not self.keys.list(user_id):
            # A default key at once, so `hub invoke` and the guide's snippet work after a deploy.
            await self.keys.create(user_id, "default", now_iso())

    async def add_user(self, name: str) -> str:
        """Create a user (shared platforms) and return their control-plane token."""
        token = secrets.token_urlsafe(32)
        user_id = await self.repos.users.create(name, hash_token(token), now_iso())
        await self.keys.create(user_id, "default", now_iso())
        return token

    def user_for_token(self, token: str) -> User | None:
        """The user a control-plane token belongs to, or None."""
        digest = hash_token(token)
        user_id = self._token_cache.get(digest)
        if user_id is None:
            row = self.repos.users.by_token_hash(digest)
            if row is None or not hmac.compare_digest(row.token_hash, digest):
                return None
            user_id = self._token_cache[digest] = row.id
        return self.user_by_id(user_id)

    def user_by_id(self, user_id: int) -> User:
        """The user with this id (cached)."""
        user = self._users_by_id.get(user_id)
        if user is None:
            row = self.repos.users.by_id(user_id)
            user = User(row.id, row.name, self.plan_book.default)
            self._resolve(user, row)
            self._users_by_id[user_id] = user
        return user

    def _resolve(self, user: User, row) -> None:
        resolved = self.plan_book.resolve(row.id, row.name, row.plan)
        user.plan, user.plan_source, user.group = resolved.plan, resolved.source, resolved.group
        user.own_plan = row.plan
        # The platform's own user is always an admin (it owns the machine and the state).
        user.is_admin = bool(row.is_admin) or row.name == self.local_user
        user.disabled = bool(row.disabled) and row.name != self.local_user

    def refresh_users(self) -> None:
        """Re-read plans and groups, and re-resolve every cached user in place (after an admin
        change: the gateway's next request sees the new plan)."""
        self.plan_book.reload(self.repos.plans)
        for user in list(self._users_by_id.values()):
            row = self.repos.users.by_id(user.id)
            if row is not None:
                self._resolve(user, row)

    async def sync_groups(self, name: str, groups: list[str]) -> User | None:
        """Make ``groups`` the groups of user ``name`` (JupyterHub's groups in hub mode: a
        group's plan then applies to its members); no write when nothing changes. None when
        there is no such user."""
        user = self.user_by_name(name)
        if user is None:
            return None
        if sorted(set(groups)) != self.plan_book.memberships.get(user.id, []):
            await self.repos.plans.set_user_groups(user.id, list(groups), now_iso())
            self.refresh_users()
        return user

    async def set_admin(self, name: str, is_admin: bool) -> User | None:
        """Make ``name`` a platform admin or not (JupyterHub admins are platform admins); no
        write when nothing changes. None when there is no such user."""
        user = self.user_by_name(name)
        if user is None:
            return None
        row = self.repos.users.by_id(user.id)
        if bool(row.is_admin) != is_admin:
            await self.repos.plans.set_user(user.id, is_admin=is_admin)
            self.refresh_users()
        return user

    def user_by_name(self, name: str) -> User | None:
        """The user called ``name``, or None."""
        row = self.repos.users.by_name(name)
        return self.user_by_id(row.id) if row else None

    # -- routes and versions ------------------------------------------------------------------
    async def _load_routes(self) -> None:
        for api in self.repos.apis.all():
            route = self.routes.add(Route(api.id, api.user_id, api.user, api.name))
            if api.live_version_id:
                vrow = self.version(api.live_version_id)
                if vrow is None:
                    continue
                try:
                    live = await self.deploy_on_engine(route, vrow)
                except HubError as err:
                    log.warning("API %s/%s could not be loaded: %s", route.user, route.name, err)
                    continue
                route.live = live

    def version(self, version_id: int) -> VersionRecord | None:
        """The stored version with this id, or None."""
        return self.repos.versions.get(version_id)

    def spec_for(self, route: Route, vrow: VersionRecord) -> VersionSpec:
        """The engine's description of a stored version."""
        runtime = vrow.runtime
        vdir = Path(vrow.dir)
        options = self.config.engine.runtime.updated(runtime).engine_options()
        # -- tenants: whose workers (a uid of their own on a root platform), the plan's limits --
        limits = self.user_by_id(route.user_id).plan.worker_limits()
        options["memory_mb"] = limits.memory_cap(options.get("memory_mb") or 0)
        # -- end tenants --
        return VersionSpec(
            version_id=engine_id(route.api_id, vrow.id, next(_activations)),
            api=f"{route.user}/{route.name}",
            src_dir=vdir / "src",
            model_dir=vdir / "model",
            python=Path(vrow.python),
            tenant=route.user_id,  # tenants
            limits=limits,  # tenants
            # The version's own settings over the platform's defaults (runtime_defaults.py).
            **options,
        )

    async def deploy_on_engine(self, route: Route, vrow: VersionRecord) -> LiveVersion:
        """Register a stored version with the engine; return what the gateway routes to."""
        spec = self.spec_for(route, vrow)
        self.routes.remember_engine_id(spec.version_id, route.api_id)
        await self.engine.deploy(spec)
        return LiveVersion(
            id=vrow.id,
            engine_id=spec.version_id,
            seq=vrow.seq,
            version=vrow.version,
            build_id=vrow.build_id,
            max_body_bytes=int(vrow.runtime.get("max_body_bytes", self.config.max_body_bytes)),
        )

    async def switch(self, route: Route, new: LiveVersion) -> LiveVersion | None:
        """Make ``new`` the live version (database, then routing); drain and remove the old one."""
        await self.repos.apis.set_live(route.api_id, new.id, now_iso())
        old, route.live = route.live, new
        if old is not None and old.engine_id != new.engine_id:
            self.spawn(self.retire(route, old))
        return old

    async def retire(self, route: Route, old: LiveVersion) -> None:
        """Wait for the requests running on ``old`` to finish, then remove it from the engine."""
        await route.drained(old.engine_id)
        try:
            await self.engine.undeploy(old.engine_id, drain=True)
        except HubError:
            pass  # already gone

    # -- what the control plane reads ---------------------------------------------------------
    def versions_of(self, route: Route) -> list[VersionInfo]:
        """The versions of an API, newest first."""
        live_id = route.live.id if route.live else None
        rows = self.repos.versions.of_api(route.api_id)
        return [
            VersionInfo(
                version_number=v.seq,
                build_id=v.build_id,
                version=v.version,
                status=v.status,
                error=v.error,
                created_at=v.created_at,
                deployed_at=v.deployed_at,
                live=v.id == live_id,
                # -- ui (issue 11): what each version changed from the one before it --
                changes=describe_changes(
                    v.record, rows[i + 1].record if i + 1 < len(rows) else None
                ),
                runtime=runtime_settings(self.config.engine.runtime.updated(v.runtime)),
                # -- end ui --
            )
            for i, v in enumerate(rows)
        ]

    def api_states(self, user: User, month: str) -> dict[str, ApiState]:
        """``{name: state}`` of every API of the user in ``month``, and of every deleted one
        with counts that month; a few queries in all, whatever the history's length."""
        repos = self.repos
        routes = {route.name: route for route in self.routes.of_user(user.name)}
        counts = repos.usage.by_api(user.id, month)
        per_day = repos.usage.calls_per_day(user.id, month)
        latency = repos.usage.latency([r.api_id for r in routes.values()], month)
        apis = repos.apis.of_user(user.id)
        deployed = repos.versions.deployed_at([r.live.id for r in routes.values() if r.live])
        year, mon = (int(part) for part in month.split("-"))
        zero_days = [0] * calendar.monthrange(year, mon)[1]
        out = {}
        for name in sorted(set(routes) | set(counts)):
            route = routes.get(name)
            api = apis.get(route.api_id) if route else None
            state = ApiState(
                name=name,
                deleted=route is None,
                counts=counts.get(name) or UsageCounts(),
                calls_per_day=per_day.get(name) or list(zero_days),
            )
            if route is not None:
                state.latency = latency[route.api_id]
                state.deployed_at = deployed.get(route.live.id) if route.live else None
            if api is not None:
                state.created_at, state.updated_at = api.created_at, api.updated_at
            out[name] = state
        return out

    def invocations(
        self, route: Route, limit: int = 50, before: float | None = None
    ) -> list[Invocation]:
        """An API's newest calls (before ``before`` when paging), newest first; asynchronous
        ones marked with their state, and those still queued or running (not metered yet)
        listed too, with status 202."""
        page = self.repos.invocations.page(route.api_id, limit, before)
        repo = self.async_calls.repo if self.async_calls is not None else None
        if repo is None:
            return page
        calls = {
            c.id: c
            for c in repo.of_api(route.api_id, limit)
            if before is None or c.created_at < before
        }
        if not calls:
            return page
        for item in page:
            call = calls.pop(item.id, None)
            if call is not None:
                item.mode, item.state = "async", call.state
        for call in calls.values():
            if call.state in ("queued", "running"):
                page.append(
                    Invocation(
                        id=call.id,
                        ts=call.created_at,
                        time=_iso(call.created_at),
                        status=202,
                        counted=False,
                        version_id=call.version_id,
                        key_id=call.key_id,
                        input_truncated=False,
                        output_truncated=False,
                        mode="async",
                        state=call.state,
                    )
                )
        page.sort(key=lambda i: i.ts, reverse=True)
        return page[:limit]

    # -- logs ---------------------------------------------------------------------------------
    def _on_engine_log(self, engine_version_id: str, invocation_id, stream: str, line: str) -> None:
        api_id = self.routes.api_of_engine_id(engine_version_id)
        if api_id is None:
            return
        self.logs.add(api_id, version_of_engine_id(engine_version_id), invocation_id, stream, line)

    # -- quotas -------------------------------------------------------------------------------
    def month(self) -> str:
        """The current calendar month (UTC), recomputed only when a month ends."""
        now = time.time()
        if now >= self._month_until:
            self._month = month_of(now)
            self._month_until = now + seconds_to_next_month(now) - 1
        return self._month


def engine_id(api_id: int, version_id: int, activation: int) -> str:
    """The engine's id of one activation of a version: ``<api id>:<version id>:<n>``.

    Every activation (deploy, rollback, start-up) gets a new id, so retiring an old activation
    (which waits for its running requests) can never touch a newer one of the same version.
    """
    return f"{api_id}:{version_id}:{activation}"


def version_of_engine_id(engine_version_id: str) -> int | None:
    """The ``versions.id`` inside an engine version id."""
    try:
        return int(engine_version_id.split(":")[1])
    except (IndexError, ValueError):
        return None


def _iso(ts: float) -> str:
    """``ts`` as the history writes times: ``2026-12-02T06:50:01.123Z`` (UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1000):03d}Z"
