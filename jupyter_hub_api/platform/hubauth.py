"""The platform as a JupyterHub service: JupyterHub's users are the platform's users.

JupyterHub starts a managed service (``c.JupyterHub.services`` with a ``command``) with its
service environment: ``JUPYTERHUB_SERVICE_NAME``, ``JUPYTERHUB_API_TOKEN`` (the service's own
token), ``JUPYTERHUB_API_URL``, ``JUPYTERHUB_SERVICE_URL`` (where to listen),
``JUPYTERHUB_SERVICE_PREFIX`` (``/services/<name>/``, the path the hub's proxy routes to it),
``JUPYTERHUB_PUBLIC_URL`` (its public address, when ``c.JupyterHub.public_url`` is set) and
``JUPYTERHUB_OAUTH_ACCESS_SCOPES``. :func:`settings_from_env` reads them; when they are there
the platform runs in *JupyterHub mode*:

- it listens on ``JUPYTERHUB_SERVICE_URL`` and answers under ``JUPYTERHUB_SERVICE_PREFIX`` as
  well as at its own address (``app.py`` strips the prefix), so endpoints read
  ``<hub>/services/<name>/<user>/<api>``;
- the control plane accepts JupyterHub tokens besides its own: API tokens, the single-user
  servers' ``JUPYTERHUB_API_TOKEN`` and OAuth access tokens. JupyterHub's own
  :class:`jupyterhub.services.auth.HubAuth` asks the hub who the token belongs to (its answer
  is cached for :data:`CACHE_SECONDS`); the token must hold the service's access scope
  (``access:services!service=<name>``), and its JupyterHub user becomes the platform user of
  that name (created on first sight, with the default plan). JupyterHub admins are platform
  admins (kept in ``users.is_admin`` by ``Platform.set_admin``), and the user's JupyterHub
  groups are their platform groups (``Platform.sync_groups``: a group's plan applies).

See docs/jupyterhub.md for the ``jupyterhub_config.py`` lines.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from ..errors import HubError

log = logging.getLogger("hub.platform")

# How long the hub's answer about a token is trusted (HubAuth's cache; its default is 300 s).
# A token revoked on the hub, or an admin flag changed there, is seen within this time.
CACHE_SECONDS = 60

# What may be a platform user's name: one URL path segment of visible characters.
_NAME = re.compile(r"[^/\s\x00-\x1f\x7f]{1,255}")


@dataclass(frozen=True)
class HubSettings:
    """The service environment JupyterHub gave the platform."""

    service_name: str
    api_url: str
    api_token: str
    service_url: str  # where JupyterHub routes the service's prefix to (bind here)
    prefix: str  # "/services/<name>" (no trailing slash), or "" without a URL
    public_url: str | None  # "<public hub origin>/services/<name>" when the hub knows it

    @property
    def host_port(self) -> tuple[str, int] | None:
        """The host and port of ``service_url``, where the platform listens."""
        if not self.service_url:
            return None
        url = urlparse(self.service_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        return url.hostname or "127.0.0.1", port


def settings_from_env(env: Mapping[str, str] | None = None) -> HubSettings | None:
    """The service's JupyterHub settings, or None when JupyterHub did not start the platform."""
    env = os.environ if env is None else env
    name, token = env.get("JUPYTERHUB_SERVICE_NAME"), env.get("JUPYTERHUB_API_TOKEN")
    if not name or not token:
        return None
    prefix = (env.get("JUPYTERHUB_SERVICE_PREFIX") or "").rstrip("/")
    public = (env.get("JUPYTERHUB_PUBLIC_URL") or "").rstrip("/") or None
    return HubSettings(
        service_name=name,
        api_url=env.get("JUPYTERHUB_API_URL") or "http://127.0.0.1:8081/hub/api",
        api_token=token,
        service_url=env.get("JUPYTERHUB_SERVICE_URL", ""),
        prefix=prefix,
        public_url=public,
    )


class HubIdentity:
    """Who a JupyterHub token belongs to, as a platform user (JupyterHub's ``HubAuth``)."""

    def __init__(self, settings: HubSettings) -> None:
        from jupyterhub.services.auth import HubAuth

        self.settings = settings
        self.access_scope = f"access:services!service={settings.service_name}"
        self.auth = HubAuth(
            api_url=settings.api_url,
            api_token=settings.api_token,
            cache_max_age=CACHE_SECONDS,
            access_scopes={self.access_scope, "access:services"},
        )
        self._creating: dict[str, asyncio.Lock] = {}
        self._ids: dict[str, int] = {}  # JupyterHub user name -> platform user id
        self._synced: dict[str, dict] = {}  # name -> the hub's answer last synced

    async def hub_user(self, token: str) -> dict | None:
        """The hub's model of the token's owner (``name``, ``admin``, ``scopes``...), or None
        when the hub does not know the token."""
        from tornado.web import HTTPError

        try:
            model = await self.auth.user_for_token(token, sync=False)
        except HTTPError as err:
            raise HubError(
                f"JupyterHub's API at {self.settings.api_url} did not confirm the token "
                f"({err.log_message or err.status_code}); try again in a moment.",
                type="hub_unavailable",
                status=503,
                exit_code=1,
            ) from None
        return model or None

    async def user_for_token(self, platform, token: str):
        """The platform user of a JupyterHub token (created on first sight), or None when the
        hub does not know the token. A token of a service, or one without the access scope,
        is refused with a 403 that says why."""
        model = await self.hub_user(token)
        if model is None:
            return None
        kind, name = model.get("kind", "user"), model.get("name")
        if kind != "user" or not isinstance(name, str):
            raise HubError(
                f"This token belongs to the JupyterHub {kind} {name!r}, not to a user; use a "
                "user's token.",
                type="not_a_user",
                status=403,
                exit_code=1,
            )
        if not self.auth.check_scopes(self.auth.access_scopes, model):
            raise HubError(
                f"Your JupyterHub token (user {name}) lacks the scope {self.access_scope}; ask "
                "the hub's administrator to grant it (docs/jupyterhub.md), or create a token "
                "with it on the hub's token page.",
                type="missing_scope",
                status=403,
                exit_code=1,
            )
        if not _NAME.fullmatch(name) or name == platform.local_user:
            raise HubError(
                f"The JupyterHub user name {name!r} cannot be a platform user (it is the "
                "platform's own user, or not one URL path segment).",
                type="bad_user_name",
                status=403,
                exit_code=1,
            )
        user_id = self._ids.get(name)
        user = platform.user_by_id(user_id) if user_id else platform.user_by_name(name)
        if user is None:
            user = await self._create(platform, name)
        self._ids[name] = user.id
        if self._synced.get(name) is not model:  # a new answer of the hub (HubAuth's cache)
            await self._sync(platform, user, model)
            self._synced[name] = model
        return user

    async def _sync(self, platform, user, model: dict) -> None:
        """The hub decides: its admin flag is the platform's, its groups the user's groups
        (a group's plan then applies to its members). Nothing is written when both agree."""
        admin = bool(model.get("admin"))
        if user.is_admin != admin:
            await platform.set_admin(user.name, admin)
        groups = model.get("groups")
        if isinstance(groups, list):
            await platform.sync_groups(user.name, [g for g in groups if isinstance(g, str)])

    async def _create(self, platform, name: str):
        """The platform user ``name``, made now (a JupyterHub user seen for the first time)."""
        lock = self._creating.setdefault(name, asyncio.Lock())
        async with lock:
            user = platform.user_by_name(name)
            if user is None:
                await platform.add_user(name)  # a default key; its own token is never shown
                log.info("JupyterHub user %s is a platform user now.", name)
                user = platform.user_by_name(name)
        self._creating.pop(name, None)
        return user
