"""The server extension's one session with the platform, kept for the extension's lifetime.

Every ``/hub-api/platform/...`` request goes through :meth:`PlatformSession.run`, which hands
the same :class:`~jupyter_hub_api.client.api.AsyncPlatformClient` (one pool of keep-alive
connections) to each call. The platform is found on first use (``client.api.credentials``, in
a thread: it may start the embedded platform and wait for it). When the platform cannot be
reached (nothing was sent) or refuses the token (a platform started again with a new one), the
session finds it again (starting it again when autostart is on) and runs the call once more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..client.api import AsyncPlatformClient, PlatformUnreachable, credentials
from ..errors import HubError

T = TypeVar("T")


class PlatformSession:
    """One platform client for the whole extension; ``aclose()`` at shutdown."""

    def __init__(self, autostart: bool = True, timeout: float = 60.0) -> None:
        self.autostart = autostart
        self.timeout = timeout
        self._client: AsyncPlatformClient | None = None
        self._me: tuple[AsyncPlatformClient, dict] | None = None
        self._lock = asyncio.Lock()

    async def run(self, fn: Callable[[AsyncPlatformClient], Awaitable[T]]) -> T:
        """``await fn(client)``; once more on a fresh connection if the platform was gone."""
        client = await self._connect()
        try:
            return await fn(client)
        except PlatformUnreachable:
            if not self.autostart:
                raise
        except HubError as err:
            if err.status != 401:
                raise
        return await fn(await self._connect(stale=client))

    async def me(self, client: AsyncPlatformClient) -> dict:
        """The platform's ``me`` (user, gateway URL), asked once per connection: it names the
        token's user and the platform's address, which do not change while both stay."""
        if self._me is None or self._me[0] is not client:
            self._me = (client, await client.me())
        return self._me[1]

    async def aclose(self) -> None:
        """Close the connections (at the extension's shutdown)."""
        client, self._client, self._me = self._client, None, None
        if client is not None:
            await client.aclose()

    async def _connect(self, stale: AsyncPlatformClient | None = None) -> AsyncPlatformClient:
        async with self._lock:
            if self._client is not None and self._client is not stale:
                return self._client
            if self._client is not None:
                await self._client.aclose()
                self._client, self._me = None, None
            url, token = await asyncio.to_thread(credentials, self.autostart)
            self._client = AsyncPlatformClient(url, token, timeout=self.timeout)
            return self._client
