"""Change an API's scaling and limits from the panel, without a build on the user's side.

``PATCH /api/v1/apis/{name}/runtime`` (control.py) with some of ``min_workers``,
``max_workers``, ``idle_seconds``, ``timeout_seconds``, ``async_timeout_seconds`` and
``memory_mb``. A version is
immutable and its ``hub_config.json`` is part of its build id (artifacts/records.py), so the
change is a new version: the live version's build record with its ``runtime`` section
updated and its build id computed again. The files, the model and the environment are the
live version's (the blobs are in the store already), so nothing is uploaded or installed: the
deployer lays out the files, starts the new version, switches traffic without dropping a call
and drains the old one, as for any deploy; rollback brings the old settings back.
"""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from ..artifacts.records import compute_build_id
from ..errors import UsageError
from ..events import EventList
from .deploy import Deployer, Deployment
from .models import check_record
from .version_changes import EDITABLE


async def update_runtime(deployer: Deployer, user, name: str, changes: dict[str, Any]) -> dict:
    """Deploy the live version of ``name`` again with ``changes`` in its runtime; the result."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise UsageError(
            f"{unknown[0]!r} cannot be changed here; change one of {', '.join(EDITABLE)}.",
            type="bad_request",
        )
    route = deployer.route_of(user, name)
    if route.live is None:
        raise UsageError(
            f"{name} has no live version to change; deploy it first.",
            type="no_version",
            status=409,
        )
    vrow = deployer.platform.repos.versions.get(route.live.id)
    record = copy.deepcopy(vrow.record)
    config = record.setdefault("config", {})
    runtime = dict(config.get("runtime") or {})
    runtime.update(changes)
    low, high = runtime.get("min_workers", 0), runtime.get("max_workers", 2)
    if low > high:
        raise UsageError(
            f"min_workers ({low}) is more than max_workers ({high}); keep min_workers at or "
            "below max_workers.",
            type="bad_request",
            field="min_workers",
        )
    config["runtime"] = runtime
    record["build_id"] = compute_build_id(
        record["code"], record["environment"]["key"], record["model"], config
    )
    record["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    dep = Deployment(
        id="dep_" + secrets.token_hex(8),
        user_id=user.id,
        user=user.name,
        record=check_record(record),
    )
    return await deployer.deploy(dep, EventList())
