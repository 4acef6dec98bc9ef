"""``deploy_build``: send a build to the platform and make it the API's live version.

Called by ``hub deploy`` and ``hub build --deploy``. The protocol is in
``platform/deploy.py``: the record first, then only the blobs the platform says it lacks (none
for the embedded platform, which shares the blob store), then commit and follow the events of the
deployment until it is done. The platform's step events are relayed to the command's output.
"""

from __future__ import annotations

import json
import time

from .. import paths
from ..artifacts.blobstore import BlobStore
from ..cli.output import Output
from ..errors import HubError, UsageError, WorkError
from .api import PlatformClient, connect

STEP_TITLES = {
    "materialize": "Laying out the version's files",
    "environment": "Preparing the Python environment on the platform",
    "load": "Starting the new version and loading the model",
    "switch": "Switching traffic to the new version",
}


def deploy_build(record: dict, out: Output, client: PlatformClient | None = None) -> dict:
    """Deploy ``record``; return the result (``endpoint``, ``version``...). Raises HubError."""
    own_client = client is None
    with out.step("connect", "Connecting to the platform"):
        client = client or connect()
    try:
        with out.step("upload", "Sending the build"):
            created = client.post("/api/v1/deployments", {"record": record})
            dep_id = created["deployment"]["id"]
            missing = created.get("missing") or []
            if missing:
                _upload(client, record, missing, out)
            else:
                out.info("The platform already has every file of this build.")
            client.post(f"/api/v1/deployments/{dep_id}/commit")
        result = _follow(client, dep_id, out)
    finally:
        if own_client:
            client.close()
    describe(result, out)
    return result


def _upload(client: PlatformClient, record: dict, missing: list[str], out: Output) -> None:
    store = BlobStore(paths.blobs_dir())
    sizes = {e["sha256"]: e["size"] for e in record["code"] + record["model"]}
    total = sum(sizes.get(sha, 0) for sha in missing)
    done = 0
    for sha in missing:
        with store.open(sha) as fh:
            client.request(
                "PUT",
                f"/api/v1/blobs/{sha}",
                content=_chunks(fh),
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(sizes[sha]),
                },
                timeout=None,
            )
        done += sizes.get(sha, 0)
        out.progress(done, total, "upload", bytes_=True)
    out.info(f"Uploaded {len(missing)} file(s), {done} bytes.")


def _chunks(fh, size: int = 1024 * 1024):
    while chunk := fh.read(size):
        yield chunk


def _follow(client: PlatformClient, dep_id: str, out: Output) -> dict:
    after = 0
    deadline = None
    while True:
        dep = client.get(
            f"/api/v1/deployments/{dep_id}", params={"after": after, "wait": 10}, timeout=40
        )["deployment"]
        for event in dep["events"]:
            _relay(event, out)
        after = dep["next"]
        if dep["status"] == "done":
            return dep["result"]
        if dep["status"] == "failed":
            err = dep.get("error") or {}
            cls = (
                UsageError
                if err.get("type") in ("bad_config", "bad_requirements", "bad_record")
                else WorkError
            )
            raise cls(
                err.get("message") or "The deployment failed.",
                type=err.get("type", "deploy_failed"),
            )
        if dep["status"] == "pending":
            deadline = deadline or time.monotonic() + 30
            if time.monotonic() > deadline:
                raise WorkError("The platform did not start the deployment.", type="deploy_stuck")


def _relay(event: dict, out: Output) -> None:
    kind = event.get("event")
    fields = {k: v for k, v in event.items() if k != "event"}
    if out.json_mode:
        out.emit(kind, **fields)
        return
    if kind == "step":
        title = STEP_TITLES.get(fields.get("name"), fields.get("name"))
        status = fields.get("status")
        if status == "started":
            out.console.print(f"[bold cyan]→[/] {title}…")
        elif status == "done":
            out.console.print(f"[bold green]✓[/] {title} [dim]({fields.get('seconds', 0):.2f}s)[/]")
        else:
            out.console.print(f"[bold red]✗[/] {title} [dim]({fields.get('seconds', 0):.2f}s)[/]")
    elif kind == "log":
        out.log(fields.get("line", ""), fields.get("stream", "stdout"))
    elif kind == "error":
        out.log(fields.get("message", ""), "stderr")


def describe(result: dict, out: Output) -> None:
    """Tell a person where the API is and how to call it (``--json`` carries it in the result)."""
    if out.json_mode:
        return
    endpoint = result["endpoint"]
    note = " (unchanged: that build was already live)" if result.get("unchanged") else ""
    out.console.print(
        f"\n[bold]Live:[/] {endpoint}  [dim]version {result['version']}, "
        f"#{result['version_number']}{note}[/]"
    )
    out.console.print(examples(endpoint), markup=False, highlight=False)


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


__all__ = ["deploy_build", "describe", "examples", "HubError"]
