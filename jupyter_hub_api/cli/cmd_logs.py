"""``hub logs``: what an API's handler printed, per invocation, optionally live or to a file."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..client.api import connect
from ..errors import UsageError, WorkError
from ..events import log_event
from .common import fmt_time, json_option, make_output, resolve_api_name

PAGE = 5000  # the most lines the platform sends per request


@click.command(
    epilog="""\b
Examples:
  hub logs sentiment-analyser
  hub logs sentiment-analyser --follow
  hub logs sentiment-analyser --hours 3 --save_dir ./logs
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
@click.option(
    "--hours",
    type=click.FloatRange(0, min_open=True),
    default=None,
    metavar="N",
    help="Every line of the last N hours (instead of --tail).",
)
@click.option(
    "--save_dir",
    "--save-dir",
    "save_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Write the lines to DIR/<api>-<UTC time>.log (made if missing) instead of printing them.",
)
@click.option("--invocation", default=None, metavar="ID", help="Only the lines of one invocation.")
@json_option
def logs(
    api: str | None,
    follow: bool,
    tail: int,
    hours: float | None,
    save_dir: Path | None,
    invocation: str | None,
    json_mode: bool,
) -> None:
    """Show what the handler of API printed (default: the project in the current folder).

    Each line shows its time, the invocation it belongs to ("load" for lines printed at
    import) and the stream.
    """
    out = make_output(json_mode)
    name = resolve_api_name(api)
    if save_dir is not None and follow:
        raise UsageError(
            "--save_dir writes the lines once; it does not go with --follow.",
            type="bad_usage",
            hint="Drop --follow, or pipe `hub logs --follow` into a file.",
        )

    def show(line: dict) -> None:
        if json_mode:
            out.emit(
                {
                    **log_event(line["line"], line["stream"]),
                    "id": line["id"],
                    "ts": line["ts"],
                    "invocation_id": line["invocation_id"],
                }
            )
            return
        out.console.print(
            f"[dim]{_prefix(line)}[/] {_esc(line['line'])}",
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
        if hours is not None:
            lines, nxt = _since(client, name, time.time() - hours * 3600, invocation)
        else:
            params = {"tail": tail}
            if invocation:
                params = {"invocation_id": invocation, "after": 0, "limit": PAGE}
            body = client.logs(name, **params)
            lines, nxt = body["lines"], body["next"]
    if save_dir is not None:
        path = _save(save_dir, name, lines)
        out.result(
            f"Saved {len(lines)} line(s) of {name} to {path}.",
            api=name,
            lines=len(lines),
            next=nxt,
            path=str(path),
        )
        return
    for line in lines:
        show(line)
    if json_mode:
        out.result(None, api=name, lines=len(lines), next=nxt)
    elif not lines:
        out.console.print(f"No log lines for {name} {_period(hours)}.")


def _since(client, name: str, cutoff: float, invocation: str | None) -> tuple[list[dict], int]:
    """Every line with ``ts >= cutoff``, oldest first (the platform keeps a bounded number)."""
    lines: list[dict] = []
    after = 0
    while True:
        params = {"after": after, "limit": PAGE}
        if invocation:
            params["invocation_id"] = invocation
        body = client.logs(name, **params)
        lines += [line for line in body["lines"] if line["ts"] >= cutoff]
        after = body["next"]
        if len(body["lines"]) < PAGE:
            return lines, after


def _save(folder: Path, name: str, lines: list[dict]) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = folder / f"{name}-{stamp}.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for line in lines:
                stream = " stderr" if line["stream"] == "stderr" else ""
                fh.write(f"{_prefix(line)}{stream} {line['line']}\n")
    except OSError as err:
        raise WorkError(
            f"Cannot write the logs to {path}: {err.strerror or err}.",
            type="save_failed",
            hint="Give a --save_dir you can write to.",
        ) from None
    return path.resolve()


def _prefix(line: dict) -> str:
    # The whole invocation id: its first half is the same for every call of a platform run,
    # and it is what --invocation takes.
    return f"{fmt_time(line['ts'])} {line['invocation_id'] or 'load':24}"


def _period(hours: float | None) -> str:
    return "yet" if hours is None else f"in the last {hours:g} hour(s)"


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)
