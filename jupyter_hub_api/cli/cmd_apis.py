"""``hub status``, ``hub versions``, ``hub rollback``, ``hub delete``: the APIs on the platform."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from ..client.api import connect
from ..errors import UsageError
from .common import api_option, fmt_ms, json_option, make_output, resolve_api_name


@click.command(
    epilog="""\b
Examples:
  hub status                    # every API
  hub status sentiment-analyser --json"""
)
@click.argument("name", required=False)
@json_option
def status(name: str | None, json_mode: bool) -> None:
    """Show your APIs: state, live version, endpoint, calls this month, errors, latency."""
    out = make_output(json_mode)
    with connect() as client:
        if name:
            api = client.api(name)
            apis, quota = [api], api.pop("quota")
        else:
            body = client.list_apis()
            apis, quota = body["apis"], body["quota"]
    if out.json_mode:
        out.result(None, apis=apis, quota=quota)
        return
    if not apis:
        out.console.print(
            "No APIs yet: `hub init <name>`, then `hub build --deploy` in its folder."
        )
    else:
        table = Table(box=None, pad_edge=False)
        for col in ("API", "state", "version", "calls", "errors", "p50", "p99"):
            table.add_column(col)
        table.add_column("endpoint", overflow="fold")  # the whole URL, even on a narrow terminal
        for api in apis:
            live = api["live_version"] or {}
            table.add_row(
                api["name"],
                "quota spent" if api.get("quota_spent") else api["status"],
                f"{live.get('version', '-')} (#{live.get('version_number', '-')})",
                str(api["calls_this_month"]),
                f"{api['error_rate'] * 100:.1f}%",
                fmt_ms(api["latency"]["p50_ms"]),
                fmt_ms(api["latency"]["p99_ms"]),
                api["endpoint"],
            )
        out.console.print(table)
    limit = quota["monthly_calls"]
    out.console.print(
        f"\n{quota['used']} of {limit if limit is not None else 'unlimited'} calls this month "
        f"(plan {quota['plan']}); {quota['apis']} of {quota['max_apis'] or 'unlimited'} APIs."
    )
    if limit is not None and quota["used"] >= limit:
        out.console.print(
            "The monthly quota is used up: your APIs answer 429 until the 1st (UTC); see "
            "`hub plan`."
        )


@click.command(
    epilog="""\b
Examples:
  cd sentiment-analyser && hub versions
  hub versions --api sentiment-analyser --json"""
)
@api_option
@json_option
def versions(api_name: str | None, json_mode: bool) -> None:
    """List the versions of an API, newest first, and which one is live."""
    out = make_output(json_mode)
    name = resolve_api_name(api_name)
    with connect() as client:
        body = client.versions(name)
    if out.json_mode:
        out.result(None, **body)
        return
    table = Table(box=None, pad_edge=False)
    for col in ("#", "version", "build", "status", "deployed"):
        table.add_column(col, no_wrap=True)
    for v in body["versions"]:
        table.add_row(
            str(v["version_number"]),
            v["version"],
            v["build_id"][:12],
            "LIVE" if v["live"] else v["status"],
            v["deployed_at"] or "-",
        )
    out.console.print(table)
    for v in body["versions"]:
        if v["error"]:
            out.console.print(f"#{v['version_number']} {v['status']}: {v['error']}", markup=False)


@click.command(
    epilog="""\b
Examples:
  hub rollback                  # back to the version live before the current one
  hub rollback 3                # version #3 (see hub versions); also a label or build id
  hub rollback --api sentiment-analyser --json"""
)
@click.argument("version", required=False)
@api_option
@json_option
def rollback(version: str | None, api_name: str | None, json_mode: bool) -> None:
    """Make an earlier version of an API live again, without dropping a request."""
    out = make_output(json_mode)
    name = resolve_api_name(api_name)
    with connect() as client, out.step("rollback", f"Rolling {name} back"):
        result = client.rollback(name, version)
    out.result(
        f"{name} now serves version {result['version']} (#{result['version_number']}) at {result['endpoint']}.",
        **result,
    )


@click.command(
    epilog="""\b
Examples:
  cd sentiment-analyser && hub delete
  hub delete --api old-model --yes --json"""
)
@api_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
def delete(api_name: str | None, yes: bool, json_mode: bool) -> None:
    """Stop an API and delete it with its versions, history and logs.

    This month's call count stays (it counts against the quota).
    """
    out = make_output(json_mode)
    name = resolve_api_name(api_name)
    if not yes:
        if json_mode or not sys.stdin.isatty():
            raise UsageError(
                f"Deleting {name} needs confirmation.", type="needs_confirmation", hint="Add --yes."
            )
        click.confirm(f"Delete the API {name} and its versions, history and logs?", abort=True)
    with connect() as client:
        result = client.delete_api(name)
    out.result(f"Deleted {name}.", **result)
