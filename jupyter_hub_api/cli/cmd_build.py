"""``hub build``: store the project's files, prepare its environment, record an immutable build."""

from __future__ import annotations

import signal

import click

from ..artifacts.builder import human_bytes as _human
from ..artifacts.builder import run_build
from .common import path_options, project_path
from .output import Output


@click.command(
    epilog="""\b
Examples:
  cd sentiment-analyser && hub build
  hub build --deploy            # build, then deploy (same as hub build && hub deploy)
  hub build -p ./sentiment-analyser -d
  hub build --image --json ./sentiment-analyser"""
)
@path_options
@click.option("--deploy", "-d", is_flag=True, help="Deploy the build when it succeeds.")
@click.option("--image", is_flag=True, help="Also build the Docker image (needs a Docker engine).")
@click.option("--json", "json_mode", is_flag=True, help="Write JSON events, one per line.")
def build(
    path: str | None, path_option: str | None, deploy: bool, image: bool, json_mode: bool
) -> None:
    """Build the project in PATH (default: the current folder).

    Checks the project, stores model and code files by content (unchanged files are not copied
    again), prepares the Python environment from src/requirements.txt (reused while it does not
    change) and records a build that `hub deploy` runs. Run it in the folder that holds
    hub_config.json.
    """
    out = Output(json_mode=json_mode)
    click.get_current_context().obj = out
    # A job runner cancels with SIGTERM: clean up exactly as for Ctrl-C. SIGINT too, even when
    # it came ignored (a background job of a script inherits that): Python then installs no
    # handler, and a Ctrl-C or `kill -INT` would be lost while a build backend runs for minutes.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupt)

    result = run_build(project_path(path, path_option), out, image=image)
    record = result.pop("record")
    summary = (
        f"Built {result['name']} {result['version']}: build {result['build_id'][:12]} in "
        f"{result['seconds']:.1f}s (environment {'reused' if result['env_reused'] else 'created'}, "
        f"{'code changed' if result['code_changed'] else 'code unchanged'}, "
        f"{_human(result['model_bytes_written'])} of model files written)."
    )
    if result["image_skipped"]:
        summary += f"\n{result['image_skipped']}"
    if not deploy:
        out.result(summary + "\nNext: hub deploy", **result)
        return

    from ..client.deploy import deploy_build  # here: `hub build` alone need not import httpx
    from .cmd_deploy import describe

    if not json_mode:
        out.info(summary)  # before the deploy's own steps, which end with how to call the API
    result["deploy"] = deploy_build(record, out)
    # Like `hub deploy`'s result, the endpoint is at the top too: readers need not know the nesting.
    result["endpoint"] = result["deploy"].get("endpoint")
    out.result(describe(result["deploy"]), **result)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt
