"""What the commands of the CLI share: ``--json``, the Output, the API name default.

Commands that act on one API take its name, or, like the hosted guide's CLI, run in the project
folder and use the ``name`` of its ``hub_config.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..errors import UsageError
from .output import Output

json_option = click.option(
    "--json", "json_mode", is_flag=True, help="Write JSON events, one per line."
)
api_option = click.option(
    "--api",
    "api_name",
    default=None,
    metavar="NAME",
    help="The API (default: the project in the current folder).",
)


def path_options(fn):
    """``[PATH]`` and ``-p/--path PATH`` (the hosted CLI's spelling) for the project folder."""
    fn = click.option(
        "-p",
        "--path",
        "path_option",
        default=None,
        metavar="PATH",
        type=click.Path(path_type=str),
        help="The project folder (same as the PATH argument).",
    )(fn)
    return click.argument("path", required=False, type=click.Path(path_type=str))(fn)


def project_path(path: str | None, path_option: str | None) -> str | None:
    """The folder given as PATH or ``--path``; a UsageError if both name different folders."""
    if path and path_option and Path(path).resolve() != Path(path_option).resolve():
        raise UsageError(
            f"Two project folders were given: {path} and --path {path_option}.",
            type="bad_usage",
            hint="Give the folder once, as PATH or with -p/--path.",
        )
    return path or path_option


def make_output(json_mode: bool) -> Output:
    """The command's Output, registered so the CLI renders errors through it."""
    out = Output(json_mode=json_mode)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.obj = out
    return out


def resolve_api_name(name: str | None) -> str:
    """``name``, or the name in ``./hub_config.json``, or a UsageError saying to give one."""
    if name:
        return name
    config = Path("hub_config.json")
    if config.is_file():
        import json

        try:
            fields = json.loads(config.read_text())
            # `project` is how the hosted service's hub_config.json named the project.
            value = fields.get("name") or fields.get("project")
        except (OSError, ValueError, AttributeError):
            value = None
        if isinstance(value, str) and value:
            return value
    raise UsageError(
        "Which API? Give its name, or run the command in its project folder.",
        type="no_api",
        hint="See your APIs with `hub status`.",
    )


def fmt_ms(value) -> str:
    """A latency for a table."""
    return "-" if value is None else f"{value:.1f} ms"


def fmt_time(ts: float) -> str:
    """A UTC timestamp for a log line."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1000):03d}"
