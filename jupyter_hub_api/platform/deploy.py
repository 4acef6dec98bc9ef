"""Deployments: from a build record to the API's live version, with no dropped request.

The protocol (the client is ``client/deploy.py``):

1. ``POST /api/v1/deployments`` with the build record → the deployment's id and the digests of
   the blobs the platform lacks (none when the platform shares the build's blob store).
2. ``PUT /api/v1/blobs/<sha256>`` for each of them (only blobs a pending deployment of the same
   user lists are accepted, verified by hash and size).
3. ``POST /api/v1/deployments/<id>/commit`` → 202; the deployment runs in the background and
   ``GET /api/v1/deployments/<id>?after=<n>&wait=<s>`` reports its events (the step/log events of
   ARCHITECTURE.md (CLI events)) and, at the end, its result or error.

Running a deployment: lay out the files under ``<platform dir>/versions/<build_id>/``, make sure
the environment exists (a cache hit when ``hub build`` ran on this machine), register the version
with the engine and load it (warm), and only then switch the live version (database first, then
the routing table) and retire the old one once its running requests are done. A failure at any
step leaves the previous live version serving.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..artifacts import records
from ..artifacts.environments import ensure_environment
from ..errors import HubError, UsageError, WorkError
from ..events import EventList, EventSink
from ..project.requirements import local_paths
from .models import VersionRecord, check_record
from .routing import LiveVersion, Route
from .service import Platform, now_iso

PENDING_TTL = 3600.0
COMPLETE = ".complete"


@dataclass
class Deployment:
    """One deployment, from its record to its result."""

    id: str
    user_id: int
    user: str
    record: dict
    created: float = field(default_factory=time.time)
    status: str = "pending"  # pending | running | done | failed
    events: list[dict] = field(default_factory=list)
    result: dict | None = None
    error: dict | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def blobs(self) -> dict[str, int]:
        """``{sha256: size}`` of every file of the build."""
        return {e["sha256"]: int(e["size"]) for e in self.record["code"] + self.record["model"]}

    def to_dict(self, after: int = 0) -> dict:
        """The deployment as JSON, with the events after index ``after``."""
        return {
            "id": self.id,
            "api": self.record["name"],
            "build_id": self.record["build_id"],
            "status": self.status,
            "events": self.events[after:],
            "next": len(self.events),
            "result": self.result,
            "error": self.error,
        }


def _refuse_local_paths(requirements: str) -> None:
    """A user other than the platform's own may not make it install from its own disk."""
    found = local_paths(requirements)
    if found:
        raise UsageError(
            f"The requirement `{found[0]}` names a file on the platform's machine, which only "
            "the platform's own user may deploy.",
            type="bad_requirements",
            field="src/requirements.txt",
            hint="Publish the package (or a wheel at an https:// URL) and name that instead.",
        )


class Deployer:
    """Runs deployments, rollbacks and deletions of APIs."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.pending: dict[str, Deployment] = {}
        # New APIs are created one at a time, so two racing deploys cannot both pass max_apis.
        self._create_lock = asyncio.Lock()

    # -- protocol -----------------------------------------------------------------------------
    def create(self, user, record) -> tuple[Deployment, list[str]]:
        """Step 1: register a deployment; return it and the blobs the platform lacks."""
        record = check_record(record)
        if user.name != self.platform.local_user:
            _refuse_local_paths(record["environment"].get("requirements") or "")
        self._expire()
        self.check_api_limit(user, record["name"])
        dep = Deployment(
            id="dep_" + secrets.token_hex(8), user_id=user.id, user=user.name, record=record
        )
        self.pending[dep.id] = dep
        return dep, self.platform.store.missing(dep.blobs())

    def check_api_limit(self, user, name: str) -> None:
        """Refuse a new API beyond the plan's ``max_apis`` (redeploying an existing one is fine)."""
        limit = user.plan.max_apis
        if limit is None or self.platform.routes.get(user.name, name) is not None:
            return
        apis = sorted(route.name for route in self.platform.routes.of_user(user.name))
        if len(apis) >= limit:
            raise HubError(
                f"Your plan allows {limit} APIs and you have {len(apis)} ({', '.join(apis)}); "
                f"{name!r} would be one more.",
                type="api_limit",
                hint="Delete one of them first: `hub delete --api <name>`.",
                status=403,
                exit_code=1,
            )

    def get(self, user, dep_id: str) -> Deployment:
        """A deployment of ``user`` by id."""
        dep = self.pending.get(dep_id)
        if dep is None or dep.user_id != user.id:
            raise UsageError(f"There is no deployment {dep_id!r}.", type="not_found", status=404)
        return dep

    def expected_size(self, user, sha: str) -> int | None:
        """The size of blob ``sha`` if a pending deployment of ``user`` lists it, else None."""
        for dep in self.pending.values():
            if dep.user_id == user.id and dep.status == "pending":
                size = dep.blobs().get(sha)
                if size is not None:
                    return size
        return None

    def commit(self, user, dep_id: str) -> Deployment:
        """Step 3: start the deployment once every blob is there."""
        dep = self.get(user, dep_id)
        if dep.status != "pending":
            return dep
        missing = self.platform.store.missing(dep.blobs())
        if missing:
            raise UsageError(
                f"{len(missing)} file(s) of the build were not uploaded yet (first: {missing[0][:12]}…).",
                type="missing_blob",
                hint="Upload them with PUT /api/v1/blobs/<sha256>, then commit again.",
            )
        dep.status = "running"
        self.platform.spawn(self._run(dep))
        return dep

    def _expire(self) -> None:
        cutoff = time.time() - PENDING_TTL
        for dep_id in [
            d.id for d in self.pending.values() if d.created < cutoff and d.status != "running"
        ]:
            del self.pending[dep_id]

    # -- running ------------------------------------------------------------------------------
    async def _run(self, dep: Deployment) -> None:
        loop = asyncio.get_running_loop()

        def notify() -> None:
            loop.call_soon_threadsafe(_pulse, dep)

        out = EventList(dep.events, notify)
        try:
            dep.result = await self.deploy(dep, out)
            dep.status = "done"
        except HubError as err:
            dep.error = err.to_dict()
            dep.status = "failed"
        except Exception as err:  # report, never crash the platform
            dep.error = {"type": "internal_error", "message": f"The deployment failed: {err}."}
            dep.status = "failed"
        _pulse(dep)

    async def deploy(self, dep: Deployment, out: EventSink) -> dict:
        """Make the build of ``dep`` the live version of its API; return the result."""
        platform = self.platform
        record = dep.record
        user = platform.user_by_id(dep.user_id)
        route, created = await self._route_for(user, record["name"])
        try:
            async with route.deploy_lock:
                if route.live is not None and route.live.build_id == record["build_id"]:
                    # Nothing to deploy, but a model file repaired in the store since is
                    # linked into the live version again.
                    await asyncio.to_thread(self._materialize, record)
                    out.info(f"Build {record['build_id'][:12]} is already live; nothing to do.")
                    return self._result(route, route.live, None, unchanged=True)
                with out.step("materialize", "Laying out the version's files"):
                    vdir = await asyncio.to_thread(self._materialize, record)
                with out.step("environment", "Preparing the Python environment"):
                    env = record["environment"]
                    environment = await asyncio.to_thread(
                        ensure_environment, env["python"], env.get("requirements", ""), out
                    )
                    out.info(
                        "Environment reused." if environment.reused else "Environment created."
                    )
                version_id = await platform.repos.versions.add(
                    route.api_id, record, str(vdir), str(environment.python), now_iso()
                )
                new = await self._start(route, version_id, out)
                with out.step("switch", "Switching traffic to the new version"):
                    old = await self._switch(route, new)
                return self._result(route, new, old)
        except BaseException:
            if created and route.live is None:
                await self._forget_api(route)
            raise

    async def _route_for(self, user, name: str) -> tuple[Route, bool]:
        async with self._create_lock:
            return await self._route_for_locked(user, name)

    async def _route_for_locked(self, user, name: str) -> tuple[Route, bool]:
        platform = self.platform
        route = platform.routes.get(user.name, name)
        if route is not None:
            return route, False
        self.check_api_limit(user, name)
        stamp = now_iso()
        api_id = await platform.repos.apis.create(user.id, name, stamp)
        route = platform.routes.add(Route(api_id, user.id, user.name, name))
        return route, True

    def _materialize(self, record: dict) -> Path:
        root = self.platform.state_dir / "versions"
        dest = root / record["build_id"]
        if (dest / COMPLETE).is_file():
            # Laid out by an earlier deploy: its model files must still be the store's blobs
            # (a blob found damaged since then was stored again under the same name).
            records.relink_model(record, self.platform.store, dest)
            return dest
        tmp = root / f".tmp-{record['build_id'][:16]}-{secrets.token_hex(4)}"
        try:
            records.materialize(record, self.platform.store, tmp)
            (tmp / COMPLETE).write_text(now_iso() + "\n")
            shutil.rmtree(dest, ignore_errors=True)  # an incomplete earlier attempt
            tmp.rename(dest)
        except OSError:
            if not (dest / COMPLETE).is_file():
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return dest

    async def _start(self, route: Route, version_id: int, out: EventSink) -> LiveVersion:
        """Register a stored version with the engine and load it; raise if it cannot load."""
        platform = self.platform
        vrow = platform.version(version_id)
        with out.step("load", "Starting the new version and loading the model"):
            new = await platform.deploy_on_engine(route, vrow)
            status = await platform.engine.warm(new.engine_id)
            if status.get("state") == "failed":
                await platform.engine.undeploy(new.engine_id, drain=False)
                reason = status.get("load_error") or "it failed to load"
                await platform.repos.versions.set_failed(version_id, reason)
                await self._relay_load_lines(route, version_id, out)
                if route.live is not None:
                    hint = (
                        "The previous version keeps serving; the traceback is above and in "
                        f"`hub logs {route.name}`."
                    )
                else:  # a first deploy: no API is left behind, so `hub logs` has nothing
                    hint = (
                        "Nothing was deployed; the traceback is above. Fix the code (`hub dev` "
                        "runs it here, reloading on each change) and deploy again."
                    )
                raise WorkError(
                    f"The new version did not load: {reason.rstrip().rstrip('.')}.",
                    type="load_failed",
                    hint=hint,
                )
            out.info(f"Loaded in {status.get('load_seconds', 0.0):.2f} s.")
        return new

    async def _relay_load_lines(self, route: Route, version_id: int, out: EventSink) -> None:
        """Pass what a version printed while loading (its traceback) on to the deploy's output."""
        sink = self.platform.logs
        await sink.flush()
        lines = sink.read(route.api_id, sink.tail(route.api_id, 200), 200)
        for line in lines:
            if line.version_id == version_id and line.invocation_id is None:
                out.log(line.line, line.stream)

    async def _switch(self, route: Route, new: LiveVersion) -> LiveVersion | None:
        platform = self.platform
        old = route.live
        await platform.repos.versions.set_live(new.id, old.id if old else None, now_iso())
        return await platform.switch(route, new)

    def _result(
        self, route: Route, live: LiveVersion, old: LiveVersion | None, unchanged: bool = False
    ) -> dict:
        base = self.platform.public_url or ""
        return {
            "api": route.name,
            "user": route.user,
            "endpoint": f"{base}/{route.user}/{route.name}",
            "version": live.version,
            "version_number": live.seq,
            "build_id": live.build_id,
            "previous_version_number": old.seq if old else None,
            "unchanged": unchanged,
        }

    # -- rollback and delete ------------------------------------------------------------------
    async def rollback(self, user, name: str, target: str | None) -> dict:
        """Make an earlier version live again (by number, label or build id; default: the previous)."""
        platform = self.platform
        route = self.route_of(user, name)
        async with route.deploy_lock:
            rows = platform.repos.versions.deployable(route.api_id)
            live_id = route.live.id if route.live else None
            vrow = _pick_version(rows, target, live_id)
            if vrow is None:
                if target is None:
                    raise UsageError(
                        f"{name} has no earlier version to roll back to.",
                        type="no_previous_version",
                        hint="See `hub versions` for its versions.",
                    )
                raise UsageError(
                    f"{name} has no deployable version {target!r}.",
                    type="not_found",
                    hint="Give a number, label or build id from `hub versions`.",
                    status=404,
                )
            if vrow.id == live_id:
                return self._result(route, route.live, None, unchanged=True)
            if not Path(vrow.python).exists():
                env_spec = vrow.record["environment"]
                env = await asyncio.to_thread(
                    ensure_environment,
                    env_spec["python"],
                    env_spec.get("requirements", ""),
                    None,
                )
                await platform.repos.versions.set_python(vrow.id, str(env.python))
            out = EventList()  # a rollback reports no events
            new = await self._start(route, vrow.id, out)
            old = await self._switch(route, new)
            return self._result(route, new, old)

    def route_of(self, user, name: str) -> Route:
        """The route of the user's API ``name``, or a 404 error."""
        route = self.platform.routes.get(user.name, name)
        if route is None:
            raise UsageError(
                f"You have no API called {name!r}.",
                type="not_found",
                hint="See `hub status` for your APIs.",
                status=404,
            )
        return route

    async def delete(self, user, name: str) -> dict:
        """Stop an API and remove it with its versions, history and logs (usage counts stay)."""
        route = self.route_of(user, name)
        async with route.deploy_lock:
            self.platform.routes.remove(user.name, name)  # new requests get 404 from now on
            live = route.live
            route.live = None
            if live is not None:
                await route.drained(live.engine_id)
                try:
                    await self.platform.engine.undeploy(live.engine_id, drain=True)
                except HubError:
                    pass
            await self._forget_api(route)
        return {"api": name, "deleted": True}

    async def _forget_api(self, route: Route) -> None:
        platform = self.platform
        platform.routes.remove(route.user, route.name)
        unused = await platform.repos.apis.delete(route.api_id)
        for build_id in unused:
            await asyncio.to_thread(shutil.rmtree, platform.state_dir / "versions" / build_id, True)


def _pick_version(
    rows: list[VersionRecord], target: str | None, live_id: int | None
) -> VersionRecord | None:
    if target is None:
        for row in rows:
            if row.id != live_id:
                return row
        return None
    target = (
        str(target).strip().lstrip("v")
        if str(target).strip().startswith("v") and str(target)[1:].isdigit()
        else str(target).strip()
    )
    if target.isdigit():
        for row in rows:
            if row.seq == int(target):
                return row
    for row in rows:
        if row.version == target:
            return row
    if len(target) >= 6:
        for row in rows:
            if row.build_id.startswith(target):
                return row
    return None


def _pulse(dep: Deployment) -> None:
    event, dep.changed = dep.changed, asyncio.Event()
    event.set()
