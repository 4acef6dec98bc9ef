"""The ``hub`` entry point: a click group whose commands live in modules of their own.

Each command module defines a click command and is registered in :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import importlib
import sys

import click

from .. import __version__
from ..errors import HubError
from .output import Output

# (module, attribute) of every sub-command, in the order ``hub --help`` lists them.
COMMAND_MODULES = [
    ("jupyter_hub_api.cli.cmd_quickstart", "quickstart"),
    ("jupyter_hub_api.cli.cmd_init", "init"),
    ("jupyter_hub_api.cli.cmd_build", "build"),
    ("jupyter_hub_api.cli.cmd_deploy", "deploy"),
    ("jupyter_hub_api.cli.cmd_dev", "dev"),
    ("jupyter_hub_api.cli.cmd_platform", "platform"),
    ("jupyter_hub_api.cli.cmd_apis", "status"),
    ("jupyter_hub_api.cli.cmd_apis", "versions"),
    ("jupyter_hub_api.cli.cmd_apis", "rollback"),
    ("jupyter_hub_api.cli.cmd_apis", "delete"),
    ("jupyter_hub_api.cli.cmd_invoke", "invoke"),
    ("jupyter_hub_api.cli.cmd_logs", "logs"),
    ("jupyter_hub_api.cli.cmd_invocations", "invocations"),
    ("jupyter_hub_api.cli.cmd_keys", "keys"),
    ("jupyter_hub_api.cli.cmd_usage", "usage"),
    ("jupyter_hub_api.cli.cmd_plan", "plan"),
    ("jupyter_hub_api.cli.cmd_plan", "admin"),
    ("jupyter_hub_api.cli.cmd_store", "store"),
]

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class HubGroup(click.Group):
    """A group that turns every :class:`HubError` into one clear sentence and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HubError as err:
            out = ctx.find_object(Output) or Output(json_mode="--json" in sys.argv)
            out.error(err)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt:
            out = ctx.find_object(Output) or Output(json_mode="--json" in sys.argv)
            out.error(HubError("Interrupted; nothing half-written was kept.", type="interrupted"))
            ctx.exit(130)


@click.group(cls=HubGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(
    __version__, "-V", "--version", prog_name="hub", message="%(prog)s %(version)s"
)
def cli() -> None:
    """Turn a trained model into a live REST inference API.

    \b
    A typical session:
      hub init sentiment-analyser --template transformers
      cd sentiment-analyser          # copy the model into model/, edit src/main.py
      hub build --deploy             # or: hub build && hub deploy
      hub invoke sentiment-analyser '"What a great day"'

    Every command has --help with an example; long commands accept --json and then write one
    JSON event per line. Exit codes: 0 success, 1 the work failed, 2 bad usage or input.
    """


def _register_commands() -> None:
    for module_name, attr in COMMAND_MODULES:
        cli.add_command(getattr(importlib.import_module(module_name), attr), attr)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="hub")


if __name__ == "__main__":
    main()
