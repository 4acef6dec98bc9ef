"""``hub usage``: calls this month per API against the quota, errors and latency."""

from __future__ import annotations

import click
from rich.table import Table

from ..client.api import connect
from .common import fmt_ms, json_option, make_output


@click.command(
    epilog="""\b
Examples:
  hub usage
  hub usage --month 2026-10 --json"""
)
@click.option(
    "--month", default=None, metavar="YYYY-MM", help="Another month (default: this one, UTC)."
)
@json_option
def usage(month: str | None, json_mode: bool) -> None:
    """Show this month's calls per API against your quota, errors and latency p50/p95/p99.

    Counted calls are POSTs the handler answered (a result or an exception); refused requests
    (4xx), crashes (502) and timeouts (504) are not counted (the last two show as failures).
    """
    out = make_output(json_mode)
    with connect() as client:
        body = client.usage(month)
    if json_mode:
        out.result(None, **body)
        return
    table = Table(
        box=None, pad_edge=False, title=f"Usage in {body['month']} (UTC)", title_justify="left"
    )
    for col in ("API", "calls", "errors", "failures", "p50", "p95", "p99"):
        table.add_column(col)
    for item in body["apis"]:
        table.add_row(
            item["api"] + (" (deleted)" if item["deleted"] else ""),
            str(item["calls"]),
            str(item["errors"]),
            str(item["failures"]),
            fmt_ms(item["p50_ms"]),
            fmt_ms(item["p95_ms"]),
            fmt_ms(item["p99_ms"]),
        )
    out.console.print(table)
    quota = body["quota"]
    limit = quota["monthly_calls"]
    left = f", {quota['remaining']} left" if limit is not None else ""
    out.console.print(
        f"\nTotal: {body['total_calls']} of {limit if limit is not None else 'unlimited'} calls{left} (plan {quota['plan']})."
    )
