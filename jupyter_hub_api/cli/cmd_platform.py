"""``hub platform start|stop|status``: the embedded platform process."""

from __future__ import annotations

import click

from .. import paths
from ..client import embedded
from ..client.api import connect, jupyterhub_token, platform_url
from ..errors import UsageError
from .common import json_option, make_output


@click.group(
    epilog="""\b
Examples:
  hub platform start
  hub platform status --json
  HUB_PLATFORM_URL=http://127.0.0.1:9000 hub platform start   # another port"""
)
def platform() -> None:
    """Start, stop or inspect the embedded platform that serves your APIs.

    Other commands start it on demand; its address is HUB_PLATFORM_URL (default
    http://127.0.0.1:8470) and its state lives in HUB_HOME.
    """


@platform.command(
    epilog="""\b
Examples:
  hub platform start --json
  hub platform start --foreground     # in this terminal, Ctrl-C stops it"""
)
@click.option(
    "--foreground", is_flag=True, help="Run in this terminal instead of in the background."
)
@json_option
def start(foreground: bool, json_mode: bool) -> None:
    """Start the platform in the background (nothing happens when it already runs)."""
    out = make_output(json_mode)
    url = platform_url()
    _embedded_only(url)
    if foreground:
        from ..platform.server import serve

        host, port = embedded.host_port(url)
        if embedded.probe(url)[0] != "down":
            raise UsageError(
                f"Something already answers at {url}.",
                type="already_running",
                hint="Stop it with `hub platform stop` first.",
            )
        out.info(f"Serving at {url}; Ctrl-C stops.")
        try:
            serve(host, port)
        except KeyboardInterrupt:
            pass  # uvicorn re-raises the Ctrl-C it already handled: a normal stop
        out.result("The platform stopped.", stopped=True, url=url)
        return
    with out.step("start", "Starting the platform"):
        health = embedded.ensure_running(url)
    info = embedded.read_info()
    out.result(
        f"The platform is running at {url} (pid {info.get('pid', '?')}); its log: "
        f"{paths.platform_dir() / embedded.LOG_FILE}",
        url=url,
        pid=info.get("pid"),
        version=health.get("version"),
    )


@platform.command(epilog="Example:\n  hub platform stop")
@json_option
def stop(json_mode: bool) -> None:
    """Stop the platform and every API worker it runs."""
    out = make_output(json_mode)
    url = platform_url()
    _embedded_only(url)
    token_path = paths.platform_dir() / "token"
    token = token_path.read_text().strip() if token_path.exists() else None
    state, _ = embedded.probe(url)
    if state == "other":
        raise embedded.port_in_use_error(url)
    was_running = embedded.stop(url, token)
    out.result(
        "The platform stopped." if was_running else "The platform was not running.",
        stopped=was_running,
        url=url,
    )


@platform.command(epilog="Example:\n  hub platform status --json")
@json_option
def status(json_mode: bool) -> None:
    """Say whether the platform runs, where, and how many APIs it serves."""
    out = make_output(json_mode)
    url = platform_url()
    state, health = embedded.probe(url)
    if state == "other":
        raise embedded.port_in_use_error(url)
    if state == "down":
        out.result(
            f"The platform is not running (expected at {url}); `hub platform start` starts it.",
            running=False,
            url=url,
        )
        return
    with connect(autostart=False) as client:
        me = client.me()
        apis = client.list_apis()["apis"]
    info = embedded.read_info() if embedded.is_loopback(url) else {}
    quota = me["plan"]
    out.result(
        f"The platform is running at {url} (version {health.get('version')}, pid {info.get('pid', '?')}).\n"
        f"User {me['user']}, plan {quota['name']}: {len(apis)} API(s), "
        f"{me['calls_this_month']} of {quota['monthly_calls'] or 'unlimited'} calls this month.",
        running=True,
        url=url,
        pid=info.get("pid"),
        version=health.get("version"),
        user=me["user"],
        apis=len(apis),
        calls_this_month=me["calls_this_month"],
        plan=quota,
    )


def _embedded_only(url: str) -> None:
    # -- JupyterHub (hubhub): the shared platform is the hub's to start and stop --
    if jupyterhub_token():
        raise UsageError(
            f"The platform at {url} is this JupyterHub's shared service: JupyterHub starts, "
            "restarts and stops it, not your server.",
            type="hub_service",
            hint="`hub platform status` shows it; ask the hub's administrator to restart it.",
        )
    # -- end JupyterHub --
    if not embedded.is_loopback(url):
        raise UsageError(
            f"{url} is a remote platform; only the embedded one on this machine can be started or stopped here.",
            type="remote_platform",
        )
