"""``hub init``: scaffold a new project folder."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError
from ..project.scaffold import DEFAULT_TEMPLATE, TEMPLATES, init_project
from .output import Output


@click.command(
    epilog="""\b
Examples:
  hub init sentiment-analyser --template transformers --model-file ./sentiment_model
  hub init iris --template sklearn --model-file model.joblib --dir ~/apis --json
  hub init churn --from-mlflow ./mlruns/0/abc123/artifacts/model"""
)
@click.argument("name")
@click.option(
    "--template",
    "-t",
    metavar="|".join(TEMPLATES),
    default=DEFAULT_TEMPLATE,
    show_default=True,
    # Checked by init_project rather than click.Choice, so a wrong one is an `error` event too.
    help="Framework of the generated src/main.py.",
)
@click.option(
    "--model-file",
    "-m",
    "model_files",
    multiple=True,
    type=click.Path(path_type=str),
    help="File or folder to copy into model/ (repeat for several).",
)
@click.option(
    "--from-mlflow",
    "mlflow_path",
    type=click.Path(path_type=str),
    help="A model folder saved by MLflow (with its MLmodel file): copied into model/, with a "
    "main.py that loads it and MLflow's recorded requirements.",
)
@click.option(
    "--dir",
    "parent",
    default=".",
    type=click.Path(path_type=str),
    help="Folder in which to create the project (default: the current folder).",
)
@click.option("--json", "json_mode", is_flag=True, help="Write JSON events, one per line.")
def init(
    name: str,
    template: str,
    model_files: tuple[str, ...],
    mlflow_path: str | None,
    parent: str,
    json_mode: bool,
) -> None:
    """Create the project folder NAME: Dockerfile, hub_config.json, model/, src/.

    NAME is the API's name: lower-case letters, digits and '-', 1-63 characters, starting with
    a letter. The folder must not exist yet.
    """
    out = Output(json_mode=json_mode)
    click.get_current_context().obj = out
    if mlflow_path is not None:
        from ..project.mlflow import read_mlflow_model, write_mlflow_project

        if template != DEFAULT_TEMPLATE:
            raise UsageError(
                "--from-mlflow writes its own src/main.py, so it takes no --template.",
                type="bad_template",
                hint="Leave out --template.",
            )
        mlflow_model = read_mlflow_model(mlflow_path)  # checked before anything is written
        model_files = (*model_files, str(mlflow_model.path.resolve()))
        template = "blank"
    with out.step("init", f"Creating project {name} ({template} template)"):
        result = init_project(name, template, list(model_files), parent, out=out)
        if mlflow_path is not None:
            write_mlflow_project(Path(result["project"]), mlflow_model)
            result["mlflow"] = mlflow_model.as_dict()
    lines = [f"Created {result['project']}"]
    lines += [f"  {f}" for f in result["files"]]
    lines += ["", "Next:", f"  cd {result['project']}"]
    if not result["model_files"] and template != "blank":
        lines.append("  copy your model into model/")
    lines += ["  edit src/main.py and src/requirements.txt", "  hub build --deploy"]
    out.result("\n".join(lines), **result)
