"""The platform's process: ``python -m jupyter_hub_api.platform [serve|add-user]``.

``serve`` takes an exclusive lock on the state directory (one platform per data directory: the
quota counters live in its memory), binds the socket itself so a port already in use is one
clear sentence rather than a traceback, writes ``platform.json`` (pid and URL, read by ``hub
platform status|stop``), and runs uvicorn on the pre-bound socket. The control-plane token is
created on first start in ``<platform dir>/token``. The process runs with umask 077, and the
files an older start (or the CLI, ``platform.log``) left in the platform directory are made 0600
(folders 0700) at start.

Descriptors: the soft ``RLIMIT_NOFILE`` is raised to the hard one, and unless the config says
otherwise the connection cap is what that leaves after a reserve for workers, the database and
logs (:func:`connection_cap`). Should descriptors run out anyway, asyncio's accept loop pauses
for a second and resumes on its own; the app logs that as one line (``app.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import fcntl
import json
import logging
import os
import resource
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

from .. import paths
from ..errors import HubError, UsageError
from .config import load_config
from .hubauth import HubSettings, settings_from_env
from .keys import write_private
from .service import Platform

LOCK_FILE = "platform.lock"
GIL_SWITCH_SECONDS = 0.0005  # see serve()
INFO_FILE = "platform.json"


def default_host_port() -> tuple[str, int]:
    """Host and port of ``paths.platform_url()`` (the embedded default: 127.0.0.1:8470, see paths)."""
    url = urlparse(paths.platform_url())
    return url.hostname or "127.0.0.1", url.port or paths.default_platform_port()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a UsageError that says how to pick another port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise UsageError(
                f"Port {port} on {host} is already in use by another program.",
                type="port_in_use",
                hint=f"Choose another port, e.g. export HUB_PLATFORM_URL=http://{host}:{port + 1}.",
            ) from None
        raise UsageError(
            f"Cannot listen on {host}:{port}: {err.strerror}.", type="bind_failed"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def acquire_lock(state_dir: Path):
    """Hold the state directory's lock for the life of the process, or say who holds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fh = open(state_dir / LOCK_FILE, "a+", opener=_private_opener)
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        info = read_info(state_dir)
        where = f" (pid {info.get('pid')}, {info.get('url')})" if info else ""
        fh.close()
        raise UsageError(
            f"A platform is already running for {state_dir}{where}.",
            type="already_running",
            hint="Stop it with `hub platform stop`, or use another HUB_HOME.",
        ) from None
    return fh


def _private_opener(path, flags):
    return os.open(path, flags, 0o600)


def make_private(state_dir: Path) -> None:
    """Files of the platform directory 0600 and its folders 0700 (not the versions' contents:
    their files are hard links to the shared, read-only blobs)."""
    for entry in (state_dir, *state_dir.iterdir()):
        if entry.is_symlink():
            continue
        try:
            entry.chmod(0o700 if entry.is_dir() else 0o600)
        except OSError as err:  # another user's file: say so, but serve
            logging.getLogger("hub.platform").warning(
                "Cannot make %s private (%s); fix its owner or mode.", entry, err.strerror
            )


def raise_descriptor_limit() -> int:
    """Raise the soft limit of open files to the hard one; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def connection_cap(nofile: int) -> int:
    """How many client connections to allow with ``nofile`` descriptors: a quarter (at least
    64) is kept for workers, database connections, logs and the accept loop itself."""
    return max(8, min(16384, nofile - max(64, nofile // 4)))


def read_info(state_dir: Path | None = None) -> dict:
    """The running platform's ``platform.json`` (pid, url), or {}."""
    path = (state_dir or paths.platform_dir()) / INFO_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def serve(
    host: str, port: int, public_url: str | None = None, hub: HubSettings | None = None
) -> None:
    """Run the platform until SIGTERM/SIGINT (``hub``: as a JupyterHub service, hubauth.py)."""
    import uvicorn

    from .app import busy_app, create_app
    from .config import database_url
    from .db import check_database
    from .http import protocol_class

    identity = None
    if hub is not None:
        from .hubauth import HubIdentity

        identity = HubIdentity(hub)
        public_url = public_url or hub.public_url
    state_dir = paths.platform_dir()
    lock = acquire_lock(state_dir)
    make_private(state_dir)
    config = load_config()
    # -- postgres: a bad or unreachable database.url stops the start with its sentence --
    check_database(database_url(config))
    limits = config.http
    if limits.max_connections is None:
        limits = replace(limits, max_connections=connection_cap(raise_descriptor_limit()))
    sock = bind(host, port)
    actual_port = sock.getsockname()[1]
    url = public_url or f"http://{host}:{actual_port}"
    platform = Platform(config, state_dir, local_user=hub.service_name if hub else None)
    platform.public_url = url.rstrip("/")
    if hub is not None and not public_url:
        # Behind the hub's proxy: endpoints are named from the address each request reached
        # (with the service's prefix); deploy results without a request get the prefix only.
        platform.public_url = None
        logging.getLogger("hub.platform").warning(
            "c.JupyterHub.public_url is not set: endpoints are shown at the address each "
            "request reached; set it (or --public-url) so deploys report the public endpoint."
        )
    app = create_app(platform, identity)
    uv_config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # quiet, fast, and nothing of a request's headers ever reaches a log
        lifespan="on",
        # uvloop where installed (the faster loop; uvicorn's default): its accept loop, like
        # asyncio's, rides out EMFILE and serves again once descriptors are freed
        # (tests/platform/test_descriptor_exhaustion.py runs on whichever loop is installed).
        loop="auto",
        timeout_graceful_shutdown=10,
        server_header=False,
        # One write per response, deadlines, the connection cap (see http.py).
        http=protocol_class(limits, busy_app(limits.max_connections)),
        # The gateway has no use for proxy headers: create_app applies them to the control
        # plane only, which builds URLs from the request.
        proxy_headers=False,
    )
    server = uvicorn.Server(uv_config)
    # The database writer thread gives up the GIL inside SQLite and takes it back several times
    # per transaction; while the event loop is busy, each take waits up to the switch interval
    # (5 ms by default), and every answered call waits for its commit. 0.5 ms bounds that wait
    # bench/gateway_ab.py against the 5 ms default, two runs at load 20 and 30: echo req/s x1.10
    # and x1.13 at c16 (7 rounds of 8 faster), x1.14 and x0.93 at c64 (not conclusive there).
    # Checked again with the writer's hand-over per loop turn (db.py), one run, 3 rounds, load
    # 4.5-5.3: 0.5 ms faster in every round, c16 x1.14 / x1.03 / x1.32, c64 x1.18 / x1.24 / x1.31.
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    info = {
        "pid": os.getpid(),
        "url": url,
        "host": host,
        "port": actual_port,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    info_path = state_dir / INFO_FILE
    write_private(info_path, json.dumps(info).encode())
    try:
        server.run(sockets=[sock])
    finally:
        if read_info(state_dir).get("pid") == os.getpid():
            info_path.unlink(missing_ok=True)
        lock.close()
    if not server.started:
        sys.exit(1)


def add_user(name: str) -> None:
    """Create a user on this platform's state and print their control-plane token."""
    from ..project.names import check_name

    check_name(name, field="name")
    state_dir = paths.platform_dir()
    lock = acquire_lock(state_dir)
    try:

        async def run() -> str:
            platform = Platform(load_config(), state_dir, engine=_NoEngine())
            await platform.start()
            try:
                if platform.user_by_name(name):
                    raise UsageError(f"There is already a user {name!r}.", type="exists")
                return await platform.add_user(name)
            finally:
                await platform.stop()

        print(asyncio.run(run()))
    finally:
        lock.close()


class _NoEngine:
    """An engine stand-in for offline administration (nothing is served)."""

    on_log = None

    async def start(self):
        pass

    async def stop(self):
        pass

    async def deploy(self, spec):
        pass


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m jupyter_hub_api.platform``.

    Started by JupyterHub as a managed service (its service environment, hubauth.py), it
    listens where JupyterHub's ``url`` for the service says and takes JupyterHub's tokens.
    """
    hub = settings_from_env()
    host, port = (hub.host_port if hub else None) or default_host_port()
    parser = argparse.ArgumentParser(prog="python -m jupyter_hub_api.platform")
    sub = parser.add_subparsers(dest="command")
    p_serve = sub.add_parser("serve", help="run the platform (the default)")
    for p in (parser, p_serve):
        p.add_argument("--host", default=host, help=f"address to bind (default {host})")
        p.add_argument(
            "--port", type=int, default=port, help=f"port (default {port}; 0 = any free)"
        )
        p.add_argument(
            "--public-url", default=None, help="base URL of endpoints, if behind a proxy"
        )
    p_user = sub.add_parser("add-user", help="create a user and print their token")
    p_user.add_argument("name")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Everything the platform writes (database and WAL, logs, versions, environments it builds)
    # is its user's alone; its workers run as the same user.
    os.umask(0o077)
    try:
        if args.command == "add-user":
            add_user(args.name)
        else:
            serve(args.host, args.port, args.public_url, hub)
    except HubError as err:
        print(f"Error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
