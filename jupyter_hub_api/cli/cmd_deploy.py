"""``hub deploy``: make the project's last build the live version of its API."""

from __future__ import annotations

import json

import click
from rich.markup import escape

from ..artifacts.records import LAST_BUILD, last_build
from ..client.deploy import deploy_build
from ..errors import UsageError
from ..project.locate import project_root
from .common import json_option, make_output, path_options, project_path


@click.command(
    epilog="""\b
Examples:
  cd sentiment-analyser && hub build && hub deploy
  hub deploy -p ./sentiment-analyser
  hub deploy ./sentiment-analyser --json     # the result event carries "endpoint\""""
)
@path_options
@json_option
def deploy(path: str | None, path_option: str | None, json_mode: bool) -> None:
    """Deploy the last build of the project in PATH (default: the current folder).

    Sends the build to the platform (files it already has are not sent again), loads the new
    version, then switches traffic to it without dropping a request. Prints the endpoint and
    how to call it.
    """
    out = make_output(json_mode)
    root = project_root(project_path(path, path_option))
    record = last_build(root)
    marker = root / LAST_BUILD
    if record is None and marker.is_file() and marker.read_text(errors="replace").strip():
        raise UsageError(
            f"{marker} names no build of this machine (it holds "
            f"{marker.read_text(errors='replace').strip()[:20]!r}); the file is damaged, or "
            "HUB_HOME is not the data directory the project was built with.",
            type="no_build",
            hint="Run `hub build` again; it rewrites the file.",
        )
    if record is None:
        raise UsageError(
            f"{root.name} has no build yet.",
            type="no_build",
            hint="Run `hub build` first (or `hub build --deploy` for both).",
        )
    result = deploy_build(record, out)
    out.result(describe(result), **result)


def describe(result: dict) -> str:
    """Where the deployed API is and how to call it, for a person (rich markup)."""
    endpoint = result["endpoint"]
    note = " (unchanged: that build was already live)" if result.get("unchanged") else ""
    return (
        f"\n[bold]Live:[/] {escape(endpoint)}  [dim]version {escape(str(result['version']))}, "
        f"#{result['version_number']}{note}[/]\n" + escape(examples(endpoint))
    )


def examples(endpoint: str) -> str:
    """Ready-to-run examples of calling ``endpoint`` (the key comes from `hub keys reveal`)."""
    payload = json.dumps("Deployment is so simple and quick!")
    return (
        "\nCall it (your key: `hub keys list`, then `hub keys reveal <id>`):\n"
        f"  export HUB_API_KEY=$(hub keys reveal default)\n"
        f'  curl {endpoint} -H "x-api-key: $HUB_API_KEY"            # GET loads the model\n'
        f'  curl -X POST {endpoint} -H "x-api-key: $HUB_API_KEY" \\\n'
        f"       -H 'Content-Type: application/json' -d '{payload}'\n"
        "\n  # Python\n"
        "  import json, os, requests\n"
        f'  endpoint = "{endpoint}"\n'
        '  headers = {"x-api-key": os.environ["HUB_API_KEY"], "Content-Type": "application/json"}\n'
        f'  requests.post(endpoint, headers=headers, data=json.dumps({payload})).json()["body"]["output"]\n'
        "\n  # or from this terminal:\n"
        f"  hub invoke {endpoint.rsplit('/', 1)[-1]} '{payload}'"
    )
