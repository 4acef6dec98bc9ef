"""``hub store verify [--repair]``: check that every stored file still matches its digest."""

from __future__ import annotations

from pathlib import Path

import click

from ..artifacts.builder import human_bytes, verify_store
from ..errors import UsageError, WorkError
from ..project.locate import CONFIG_FILE
from .output import Output


@click.group()
def store() -> None:
    """The local blob store: the model and code files of every build, by content."""


@store.command(
    epilog="""\b
Examples:
  hub store verify
  cd sentiment-analyser && hub store verify --repair
  hub store verify --repair -p ./sentiment-analyser -p ./other-project --json"""
)
@click.option(
    "--repair",
    is_flag=True,
    help="Take damaged files out of the store and store them again from the projects.",
)
@click.option(
    "-p",
    "--project",
    "projects",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A project to repair from (repeatable; default: the current folder, if a project).",
)
@click.option("--json", "json_mode", is_flag=True, help="Write JSON events, one per line.")
def verify(repair: bool, projects: tuple[Path, ...], json_mode: bool) -> None:
    """Re-read every file of the blob store ($HUB_HOME/blobs) and check it against its name.

    A stored file changed in place (for example by a handler that wrote into MODEL_DIR) no
    longer matches its sha256. With --repair it is taken out of the store and stored again
    from the project that has it; a file no project has is removed, so the next `hub build`
    of its project stores it again. Deploy again afterwards to link repaired files into the
    APIs' versions. Works on this machine's store; a remote platform checks its own at deploy.
    """
    out = Output(json_mode=json_mode)
    click.get_current_context().obj = out
    sources = [p.resolve() for p in projects]
    for source in sources:
        if not (source / CONFIG_FILE).is_file():
            raise UsageError(
                f"{source} is not a Hub API project: it has no {CONFIG_FILE}.",
                type="not_a_project",
                field="--project",
                hint="Give the folder that holds hub_config.json.",
            )
    if not sources and Path(CONFIG_FILE).is_file():
        sources = [Path.cwd()]
    report = verify_store(sources, repair, out)
    checked = f"{report['blobs']} stored file(s), {human_bytes(report['bytes'])}"
    damaged = report["damaged"]
    if not damaged:
        out.result(f"All {checked} match their digests.", **report)
        return
    if not repair:
        raise WorkError(
            f"{len(damaged)} of {checked} no longer match their digests "
            f"(first: {damaged[0][:12]}…).",
            type="store_damaged",
            hint="Run `hub store verify --repair` in the project folder that has them.",
        )
    message = f"Repaired {len(report['repaired'])} of {len(damaged)} damaged file(s) in {checked}."
    if report["removed"]:
        message += (
            f" {len(report['removed'])} no given project has were removed: run `hub build` in "
            "the projects that use them."
        )
    out.result(message + " Deploy again to use the repaired files.", **report)
