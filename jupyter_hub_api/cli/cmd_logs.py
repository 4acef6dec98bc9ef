"""``hub logs``: what an API's handler printed, per invocation, optionally live."""

from __future__ import annotations

import click

from ..client.api import connect
from ..client.cli import fmt_time, json_option, make_output, resolve_api_name


@click.command(
    epilog="""\b
Examples:
  hub logs sentiment-analyser
  hub logs sentiment-analyser --follow
  hub logs iris --invocation 3f2a9c... --json"""
)
@click.argument("api", required=False)
@click.option(
    "--follow", "-f", is_flag=True, help="Keep printing new lines as they come (Ctrl-C stops)."
)
@click.option(
    "--tail",
    "-n",
    type=click.IntRange(0),
    default=100,
    show_default=True,
    help="Lines of history to show first.",
)
@click.option("--invocation", default=None, metavar="ID", help="Only the lines of one invocation.")
@json_option
def logs(api: str | None, follow: bool, tail: int, invocation: str | None, json_mode: bool) -> None:
    """Show what the handler of API printed (default: the project in the current folder).

    Each line shows its time, the invocation it belongs to ("load" for lines printed at
    import) and the stream.
    """
    out = make_output(json_mode)
    name = resolve_api_name(api)

    def show(line: dict) -> None:
        if json_mode:
            out.emit(
                "log",
                stream=line["stream"],
                line=line["line"],
                id=line["id"],
                ts=line["ts"],
                invocation_id=line["invocation_id"],
            )
            return
        inv = (line["invocation_id"] or "load")[:8]
        out.console.print(
            f"[dim]{fmt_time(line['ts'])} {inv:8}[/] {_esc(line['line'])}",
            style="red" if line["stream"] == "stderr" else None,
        )

    with connect() as client:
        if follow:
            try:
                for line in client.follow_logs(name, tail=tail):
                    if invocation is None or line["invocation_id"] == invocation:
                        show(line)
            except KeyboardInterrupt:
                return
            return
        params = {"tail": tail}
        if invocation:
            params = {"invocation_id": invocation, "after": 0, "limit": 5000}
        body = client.logs(name, **params)
    for line in body["lines"]:
        show(line)
    if json_mode:
        out.result(None, api=name, lines=len(body["lines"]), next=body["next"])
    elif not body["lines"]:
        out.console.print(f"No log lines for {name} yet.")


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)
