"""The gateway's routing table: ``(user, api)`` → the API's live version, kept in memory.

The table is the single place where the live version of an API changes. A request takes the
live version and marks it busy (:meth:`Route.enter`) in the same step of the event loop, so the
switch to a new version never strands it: the old version is undeployed only once
:meth:`Route.drained` says nothing entered it is still running.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class LiveVersion:
    """A deployed version as the gateway sees it."""

    id: int  # versions.id
    engine_id: str  # the engine's version_id
    seq: int
    version: str
    build_id: str
    max_body_bytes: int


@dataclass
class Route:
    """One API of one user."""

    api_id: int
    user_id: int
    user: str
    name: str
    live: LiveVersion | None = None
    inflight: dict[str, int] = field(default_factory=dict)
    _idle: dict[str, asyncio.Event] = field(default_factory=dict)
    deploy_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def enter(self) -> LiveVersion | None:
        """Take the live version for one request (None when the API has none)."""
        live = self.live
        if live is not None:
            self.inflight[live.engine_id] = self.inflight.get(live.engine_id, 0) + 1
        return live

    def leave(self, live: LiveVersion) -> None:
        """The request that entered ``live`` is finished."""
        left = self.inflight.get(live.engine_id, 1) - 1
        if left <= 0:
            self.inflight.pop(live.engine_id, None)
            event = self._idle.pop(live.engine_id, None)
            if event is not None:
                event.set()
        else:
            self.inflight[live.engine_id] = left

    async def drained(self, engine_id: str) -> None:
        """Wait until no request that entered ``engine_id`` is running."""
        if not self.inflight.get(engine_id):
            return
        event = self._idle.setdefault(engine_id, asyncio.Event())
        await event.wait()


class RouteTable:
    """Every API of every user, by ``(user, api)``."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Route] = {}
        self._by_engine_id: dict[str, int] = {}

    def get(self, user: str, api: str) -> Route | None:
        """The route of ``user/api`` or None."""
        return self._routes.get((user, api))

    def add(self, route: Route) -> Route:
        """Add (or return the existing) route of an API."""
        return self._routes.setdefault((route.user, route.name), route)

    def remove(self, user: str, api: str) -> Route | None:
        """Forget an API."""
        return self._routes.pop((user, api), None)

    def all(self) -> list[Route]:
        """Every route (for /metrics)."""
        return list(self._routes.values())

    def of_user(self, user: str) -> list[Route]:
        """The routes of one user."""
        return [r for (u, _), r in self._routes.items() if u == user]

    def remember_engine_id(self, engine_id: str, api_id: int) -> None:
        """Map an engine version id to its API (for the logs the engine reports)."""
        self._by_engine_id[engine_id] = api_id

    def api_of_engine_id(self, engine_id: str) -> int | None:
        """The API id of an engine version id."""
        return self._by_engine_id.get(engine_id)
