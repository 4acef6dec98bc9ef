"""The configured limits: concurrent jobs (more wait in the queue) and a job's time limit."""

from __future__ import annotations

from datetime import datetime

import pytest

from .conftest import fetch_json, follow, hub_init, post_json, slow_package


@pytest.fixture
def hub_api_config():
    return {"max_concurrent_jobs": 1, "job_time_limit": 4.0}


async def test_jobs_beyond_the_limit_queue_and_a_job_past_its_time_limit_is_stopped(
    jp_fetch, jp_ws_fetch, jp_root_dir, tmp_path
):
    hub_init(jp_root_dir, "slow", requirements=slow_package(tmp_path, seconds=60))
    hub_init(jp_root_dir, "quick")
    hub_init(jp_root_dir, "other")
    (jp_root_dir / "w.bin").write_bytes(b"w")
    _, slow = await post_json(
        jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": "slow"}
    )
    # The queued job is a model-file copy: it waits for the slot like any job, but no time
    # limit applies to it, so a loaded machine cannot make it fail the way a build could.
    _, quick = await post_json(
        jp_fetch, "hub-api", "projects", "quick", "model-files", body={"files": ["w.bin"]}
    )
    _, other = await post_json(
        jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": "other"}
    )
    assert quick["state"] == "queued" and other["state"] == "queued"

    # A queued job is cancelled at once: it never started, so there is nothing to stop.
    # (DELETE of an active job cancels it, like POST .../cancel.)
    status, cancelled = await fetch_json(jp_fetch, "hub-api", "jobs", other["id"], method="DELETE")
    assert status == 202 and cancelled["state"] == "cancelled" and cancelled["started_at"] is None

    events, jobs, _ = await follow(jp_ws_fetch, slow["id"], timeout=60)
    assert jobs[-1]["state"] == "failed"
    assert (
        jobs[-1]["error"]["type"] == "timeout"
        and "time limit of 4 s" in jobs[-1]["error"]["message"]
    )

    # The queued job ran once the slot was free.
    _, jobs, _ = await follow(jp_ws_fetch, quick["id"], timeout=60)
    assert jobs[-1]["state"] == "succeeded"
    slow_end = [e for e in events if e["event"] == "state"][-1]["time"]
    assert datetime.fromisoformat(jobs[-1]["started_at"]).timestamp() >= slow_end - 0.001
