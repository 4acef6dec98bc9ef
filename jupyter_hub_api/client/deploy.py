"""``deploy_build``: send a build to the platform and make it the API's live version.

Called by ``hub deploy`` and ``hub build --deploy``. The protocol is in
``platform/deploy.py``: the record first, then only the blobs the platform says it lacks (none
for the embedded platform, which shares the blob store), then commit and follow the events of the
deployment until it is done. The platform's events are relayed to the caller's event sink
(``events.EventSink``: the CLI passes its ``Output``).
"""

from __future__ import annotations

import time

from .. import paths
from ..artifacts.blobstore import BlobStore
from ..errors import UsageError, WorkError
from ..events import EventSink
from .api import PlatformClient, connect

STEP_TITLES = {
    "materialize": "Laying out the version's files",
    "environment": "Preparing the Python environment on the platform",
    "load": "Starting the new version and loading the model",
    "switch": "Switching traffic to the new version",
}


def deploy_build(record: dict, out: EventSink, client: PlatformClient | None = None) -> dict:
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
    return result


def _upload(client: PlatformClient, record: dict, missing: list[str], out: EventSink) -> None:
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


def _follow(client: PlatformClient, dep_id: str, out: EventSink) -> dict:
    after = 0
    deadline = None
    while True:
        dep = client.get(
            f"/api/v1/deployments/{dep_id}", params={"after": after, "wait": 10}, timeout=40
        )["deployment"]
        for event in dep["events"]:
            out.emit(event, title=STEP_TITLES.get(event.get("name")))
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
