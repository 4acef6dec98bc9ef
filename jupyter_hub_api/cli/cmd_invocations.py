"""``hub invocations``: an API's call history with inputs and outputs (the panel's history tab)."""

from __future__ import annotations

import json

import click
from rich.table import Table

from ..client.api import connect
from .common import fmt_ms, json_option, make_output, resolve_api_name

CELL = 60  # characters of an input or output shown in the table (--json has them whole)


@click.command(
    epilog="""\b
Examples:
  hub invocations sentiment-analyser
  hub invocations sentiment-analyser --limit 200 --json
  cd sentiment-analyser && hub invocations --errors"""
)
@click.argument("api", required=False)
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="How many of the newest invocations to show (at most 1000).",
)
@click.option("--errors", is_flag=True, help="Only the invocations that did not answer 200.")
@json_option
def invocations(api: str | None, limit: int, errors: bool, json_mode: bool) -> None:
    """Show the newest invocations of API (default: the project in the current folder).

    Each row has the time, invocation id, HTTP status, latency, whether it counted against
    the quota, the input and the output (or the error). The platform keeps inputs and outputs
    cut to its capture size; --json gives them as stored, with `input_truncated` and
    `output_truncated`.
    """
    out = make_output(json_mode)
    name = resolve_api_name(api)
    with connect() as client:
        items = client.invocations(name, limit=limit)["invocations"]
    if errors:
        items = [i for i in items if i["status"] != 200]
    if json_mode:
        out.result(None, api=name, invocations=items)
        return
    if not items:
        out.console.print(f"No {'failed ' if errors else ''}invocations of {name} yet.")
        return
    table = Table(box=None, pad_edge=False)
    for col in ("time (UTC)", "invocation", "status", "latency", "counted"):
        table.add_column(col, no_wrap=True)
    table.add_column("input", overflow="fold")
    table.add_column("output or error", overflow="fold")
    for item in items:
        if item["status"] == 200:
            result = _cell(item["output"], item["output_truncated"])
        else:
            result = f"{item['error_type']}: {item['error_message']}"
        table.add_row(
            item["time"].replace("T", " ").rstrip("Z"),
            item["id"],
            str(item["status"]),
            fmt_ms(item["latency_ms"]),
            "yes" if item["counted"] else "no",
            _cell(item["input"], item["input_truncated"]),
            _cell(result, False),
            style="red" if item["status"] != 200 else None,
        )
    out.console.print(table, markup=False)
    out.console.print(f"\n{len(items)} invocation(s), newest first; --json for whole values.")


def _cell(value, truncated: bool) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if value is None:
        text = "-"
    if len(text) > CELL or truncated:
        text = text[: CELL - 1] + "…"
    return text
