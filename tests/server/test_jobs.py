"""Jobs of the server extension, run with the real ``hub`` CLI as their subprocess."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest
import tornado.httpclient
import tornado.websocket

from jupyter_hub_api.server.jobs.process import group_alive
from jupyter_hub_api.server.jobs.store import JobStore

from .conftest import fetch_json, follow, hub_init, post_json, slow_package, wait_for_state


async def test_build_job_answers_202_at_once_and_ends_succeeded_with_the_build_result(
    jp_fetch, jp_ws_fetch, jp_root_dir
):
    hub_init(jp_root_dir, "iris")
    status, job = await post_json(
        jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": "iris"}
    )
    assert status == 202
    assert (
        job["state"] in ("queued", "running")
        and job["kind"] == "build"
        and job["project"] == "iris"
    )

    events, jobs, _ = await follow(jp_ws_fetch, job["id"])
    final = jobs[-1]
    assert final["state"] == "succeeded", final
    assert final["exit_code"] == 0 and final["error"] is None
    assert final["result"]["build_id"]
    assert [e["offset"] for e in events] == list(range(len(events)))
    assert [e["state"] for e in events if e["event"] == "state"] == [
        "queued",
        "running",
        "succeeded",
    ]
    assert {"validate", "environment"} <= {e["name"] for e in events if e["event"] == "step"}

    # The same log, for a client without WebSockets, and the job in the list.
    status, page = await fetch_json(jp_fetch, "hub-api", "jobs", job["id"], "events")
    assert status == 200 and page["events"] == events and page["next_offset"] == len(events)
    status, listing = await fetch_json(jp_fetch, "hub-api", "jobs")
    assert listing["jobs"][0]["id"] == job["id"]


async def test_log_lines_arrive_while_the_job_runs(jp_fetch, jp_ws_fetch, jp_root_dir, tmp_path):
    hub_init(jp_root_dir, "slow", requirements=slow_package(tmp_path, seconds=2))
    _, job = await post_json(jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": "slow"})

    events, jobs, received = await follow(jp_ws_fetch, job["id"])
    final = jobs[-1]
    assert final["state"] == "succeeded", final
    ended = datetime.fromisoformat(final["finished_at"]).timestamp()
    arrival = {json.dumps(e, sort_keys=True): t for e, t in zip(events, received, strict=True)}
    early = [
        e
        for e in events
        if e["event"] == "step" and e["name"] == "validate" and e["status"] == "started"
    ] + [e for e in events if e["event"] == "log" and "Building slowpkg" in e["line"]]
    assert len(early) == 2
    # Printed at the start of the build, received by the client before the job ended: the
    # log streams, it is not delivered at the end.
    for event in early:
        assert arrival[json.dumps(event, sort_keys=True)] < ended
    # And each event reached the client after the process printed it (arrival >= stored time).
    assert all(t >= e["time"] - 0.001 for e, t in zip(events, received, strict=True))


async def test_reconnecting_at_an_offset_gets_exactly_the_rest(
    jp_fetch, jp_ws_fetch, jp_root_dir, tmp_path
):
    hub_init(jp_root_dir, "slow", requirements=slow_package(tmp_path, seconds=1.5))
    _, job = await post_json(jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": "slow"})

    # A first tab reads until the build step starts, then goes away mid-job.
    first, _, _ = await follow(
        jp_ws_fetch, job["id"], until=lambda e: e["event"] == "step" and e["name"] == "environment"
    )
    resume = first[-1]["offset"] + 1
    rest, jobs, _ = await follow(jp_ws_fetch, job["id"], offset=resume)
    assert jobs[-1]["state"] == "succeeded"
    assert [e["offset"] for e in first + rest] == list(range(len(first) + len(rest)))

    _, page = await fetch_json(
        jp_fetch, "hub-api", "jobs", job["id"], "events", params={"limit": "10000"}
    )
    assert first + rest == page["events"]
    # After the end, any offset still gives exactly the tail.
    tail, _, _ = await follow(jp_ws_fetch, job["id"], offset=len(page["events"]) - 2)
    assert tail == page["events"][-2:]


async def test_a_second_build_of_a_running_project_is_refused_with_409_naming_the_job(
    jp_fetch, jp_root_dir, tmp_path
):
    hub_init(jp_root_dir, "slow", requirements=slow_package(tmp_path, seconds=30))
    _, first = await post_json(
        jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": "slow"}
    )
    status, error = await post_json(
        jp_fetch, "hub-api", "jobs", body={"kind": "build+deploy", "project": "./slow"}
    )
    assert status == 409
    assert error["reason"] == "project_busy"
    assert first["id"] in error["message"]
    status, _ = await post_json(jp_fetch, "hub-api", "jobs", first["id"], "cancel")
    assert status == 202
    await wait_for_state(jp_fetch, first["id"], {"cancelled"})


def _group_is_gone(pgid: int) -> bool:
    """No process of the group is left; zombies (already dead) are reported separately."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def _live_members(pgid: int) -> list[str]:
    members = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(f"{pid} {stat[: stat.rfind(')') + 1]} {fields[0]}")
    return members


async def test_cancel_stops_a_running_build_kills_its_process_group_and_keeps_the_last_good_build(
    jp_fetch, jp_ws_fetch, jp_root_dir, tmp_path
):
    project = hub_init(jp_root_dir, "app")
    _, good = await post_json(jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": "app"})
    _, jobs, _ = await follow(jp_ws_fetch, good["id"])
    assert jobs[-1]["state"] == "succeeded"
    last_build = (project / ".hub" / "last-build").read_text()

    (project / "src" / "requirements.txt").write_text(slow_package(tmp_path, seconds=60))
    _, job = await post_json(jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": "app"})
    # Cancel while uv is building the package: hub, uv and the build backend all run.
    await follow(
        jp_ws_fetch,
        job["id"],
        until=lambda e: (
            "compiling part" in e.get("line", "") or "Building slowpkg" in e.get("line", "")
        ),
    )
    running = (await fetch_json(jp_fetch, "hub-api", "jobs", job["id"]))[1]
    pgid = running["pid"]
    assert running["state"] == "running" and pgid

    status, cancelling = await post_json(jp_fetch, "hub-api", "jobs", job["id"], "cancel")
    assert status == 202 and cancelling["state"] == "cancelling"
    events, jobs, _ = await follow(jp_ws_fetch, job["id"])
    assert jobs[-1]["state"] == "cancelled"
    assert [e["state"] for e in events if e["event"] == "state"][-2:] == ["cancelling", "cancelled"]
    # The whole group is gone. Where PID 1 does not reap orphans (some containers), the
    # killed grandchildren linger as zombies: dead, but still counted by kill(0).
    assert _group_is_gone(pgid) or not _live_members(pgid), _live_members(pgid)
    # The previous good build is untouched.
    assert (project / ".hub" / "last-build").read_text() == last_build

    # Cancelling an ended job is a 409 that says so; deleting it forgets it.
    status, error = await post_json(jp_fetch, "hub-api", "jobs", job["id"], "cancel")
    assert status == 409 and error["reason"] == "job_finished"
    status, _ = await fetch_json(jp_fetch, "hub-api", "jobs", job["id"], method="DELETE")
    assert status == 204
    status, error = await fetch_json(jp_fetch, "hub-api", "jobs", job["id"])
    assert status == 404 and error["reason"] == "no_such_job"


async def test_rerun_starts_a_new_job_of_the_same_kind_and_project(
    jp_fetch, jp_ws_fetch, jp_root_dir
):
    hub_init(jp_root_dir, "iris")
    _, job = await post_json(jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": "iris"})
    await follow(jp_ws_fetch, job["id"])
    status, again = await post_json(jp_fetch, "hub-api", "jobs", job["id"], "rerun")
    assert status == 202
    assert again["id"] != job["id"] and again["rerun_of"] == job["id"]
    assert (again["kind"], again["project"]) == ("build", "iris")
    _, jobs, _ = await follow(jp_ws_fetch, again["id"])
    assert jobs[-1]["state"] == "succeeded"


async def test_the_jobs_watch_socket_announces_new_and_changed_jobs(
    jp_fetch, jp_ws_fetch, jp_root_dir
):
    hub_init(jp_root_dir, "iris")
    ws = await jp_ws_fetch("hub-api", "jobs", "watch")
    first = json.loads(await ws.read_message())
    assert first == {"type": "jobs", "jobs": []}
    _, job = await post_json(jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": "iris"})
    seen = []
    while not seen or seen[-1] not in ("succeeded", "failed"):
        message = json.loads(await ws.read_message())
        assert message["type"] == "job" and message["job"]["id"] == job["id"]
        if not seen or seen[-1] != message["job"]["state"]:
            seen.append(message["job"]["state"])
    assert seen == ["queued", "running", "succeeded"]
    ws.close()


async def test_bad_requests_get_one_error_shape(jp_fetch, jp_root_dir):
    hub_init(jp_root_dir, "iris")
    (jp_root_dir / "plain").mkdir()
    cases = [
        (("hub-api", "jobs"), {"method": "POST", "body": "{not json"}, 400, "bad_json"),
        (("hub-api", "jobs"), {"method": "POST", "body": "[1]"}, 400, "bad_json"),
        (
            ("hub-api", "jobs"),
            {"method": "POST", "body": json.dumps({"kind": "fly", "project": "iris"})},
            400,
            "bad_kind",
        ),
        (
            ("hub-api", "jobs"),
            {"method": "POST", "body": json.dumps({"kind": "build", "project": "plain"})},
            400,
            "not_a_project",
        ),
        (
            ("hub-api", "jobs"),
            {"method": "POST", "body": json.dumps({"kind": "build", "project": "nowhere"})},
            400,
            "not_a_project",
        ),
        (("hub-api", "jobs", "0" * 32), {}, 404, "no_such_job"),
        (("hub-api", "jobs", "0" * 32, "events"), {}, 404, "no_such_job"),
        (
            ("hub-api", "jobs", "0" * 32, "cancel"),
            {"method": "POST", "body": ""},
            404,
            "no_such_job",
        ),
        (("hub-api", "jobs"), {"params": {"limit": "many"}}, 400, "bad_argument"),
        (("hub-api", "jobs"), {"params": {"state": "asleep"}}, 400, "bad_argument"),
    ]
    for parts, kwargs, code, reason in cases:
        status, body = await fetch_json(jp_fetch, *parts, **kwargs)
        assert (status, body["reason"]) == (code, reason), (parts, kwargs, body)
        assert set(body) == {"message", "reason"} and body["message"].endswith(".")


async def test_job_websocket_refuses_a_connection_without_credentials(
    jp_fetch, jp_ws_fetch, jp_root_dir
):
    hub_init(jp_root_dir, "iris")
    _, job = await post_json(jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": "iris"})
    for parts in (("hub-api", "jobs", job["id"], "events"), ("hub-api", "jobs", "watch")):
        with pytest.raises(tornado.httpclient.HTTPClientError) as info:
            await jp_ws_fetch(*parts, headers={"Authorization": ""})
        assert info.value.code == 401
    await wait_for_state(jp_fetch, job["id"], {"succeeded", "failed"})


async def test_stopping_the_server_stops_running_jobs_and_marks_them_interrupted(
    jp_fetch, jp_ws_fetch, jp_serverapp, jp_root_dir, jobs_dir, tmp_path
):
    hub_init(jp_root_dir, "slow2", requirements=slow_package(tmp_path / "pkg", seconds=60))
    _, job = await post_json(
        jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": "slow2"}
    )
    await follow(jp_ws_fetch, job["id"], until=lambda e: "Building slowpkg" in e.get("line", ""))
    pgid = (await fetch_json(jp_fetch, "hub-api", "jobs", job["id"]))[1]["pid"]

    await jp_serverapp.extension_manager.stop_all_extensions()

    assert not group_alive(pgid)
    stored = JobStore(jobs_dir).get(job["id"])
    assert stored.state.value == "interrupted" and stored.pid is None


async def test_unauthenticated_and_wrong_method_requests_get_the_error_shape(jp_fetch):
    status, body = await fetch_json(jp_fetch, "hub-api", "jobs", headers={"Authorization": ""})
    assert status == 401 and body == {"message": body["message"], "reason": "not_authenticated"}
    assert "token" in body["message"]
    for wrong in ("token not-the-token", "Bearer not-the-token"):
        status, body = await fetch_json(
            jp_fetch, "hub-api", "jobs", headers={"Authorization": wrong}
        )
        assert status == 401 and body["reason"] == "not_authenticated", wrong
    status, body = await fetch_json(jp_fetch, "hub-api", "jobs", method="PUT", body="{}")
    assert status == 405 and set(body) == {"message", "reason"}
    # Routes whose patterns a generic walk cannot fill in.
    for parts in (("platform", "keys", "k1", "enable"), ("projects", "a/b", "model-files")):
        status, body = await fetch_json(
            jp_fetch, "hub-api", *parts, method="POST", body="{}", headers={"Authorization": ""}
        )
        assert status == 401 and body["reason"] == "not_authenticated", parts
