"""The job manager without HTTP: the cases a REST client cannot time on purpose."""

from __future__ import annotations

import asyncio

from jupyter_hub_api.server.jobs.models import JobKind, JobState
from jupyter_hub_api.server.jobs.process import ProcessWork, _parse_line, _pump
from jupyter_hub_api.server.jobs.runner import JobManager, RunnerSettings
from jupyter_hub_api.server.jobs.store import JobStore

from .conftest import HUB, hub_init


def _manager(tmp_path, **settings) -> JobManager:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    return JobManager(
        JobStore(tmp_path / "jobs"),
        RunnerSettings(
            root_dir=root,
            hub_command=HUB,
            job_commands={"build": ["build", "--json"]},
            **settings,
        ),
    )


async def _until_final(manager: JobManager, job_id: str) -> list[str]:
    events = []
    async for kind, data in manager.follow(job_id):
        if kind == "events":
            events.extend(data)
    return events


async def test_a_job_cancelled_before_its_task_starts_never_runs(tmp_path):
    manager = _manager(tmp_path)
    hub_init(tmp_path / "root", "iris")
    job = manager.submit(JobKind.BUILD, "iris")
    # Same tick: the job has left the queue but its task has not run yet.
    await manager.cancel(job.id)
    await asyncio.wait_for(_until_final(manager, job.id), 30)
    final = manager.get(job.id)
    assert final.state == JobState.CANCELLED and final.started_at is None and final.pid is None
    await manager.shutdown()


async def test_lines_that_are_not_events_become_log_lines_and_long_lines_are_cut():
    reader = asyncio.StreamReader()
    reader.feed_data(b"plain text\n")
    reader.feed_data(b'{"event": "step", "name": "x", "status": "started", "offset": 99}\n')
    reader.feed_data(b"{not json\n[1, 2]\n")
    reader.feed_data(b"x" * (ProcessWork.MAX_LINE + 10) + b"\nafter\nlast without newline")
    reader.feed_eof()
    got = []
    await _pump(reader, "stdout", got.extend)
    assert got[0] == {"event": "log", "stream": "stdout", "line": "plain text"}
    assert got[1] == {"event": "step", "name": "x", "status": "started"}  # our offsets win
    assert got[2]["line"] == "{not json" and got[3]["line"] == "[1, 2]"
    assert got[4]["line"] == "x" * ProcessWork.MAX_LINE  # kept, cut at the limit
    assert got[5]["line"] == "after" and got[6]["line"] == "last without newline"
    assert len(got) == 7
    assert _parse_line('{"event": "log", "line": "a"}', "stderr")["stream"] == "stderr"


async def test_a_missing_hub_command_fails_the_job_with_a_sentence(tmp_path):
    manager = _manager(tmp_path)
    hub_init(tmp_path / "root", "iris")
    manager.settings.hub_command = [str(tmp_path / "no-such-hub")]
    job = manager.submit(JobKind.BUILD, "iris")
    await asyncio.wait_for(_until_final(manager, job.id), 30)
    final = manager.get(job.id)
    assert final.state == JobState.FAILED and final.error["type"] == "cli_missing"
    assert "Could not start" in final.error["message"]
    await manager.shutdown()


async def test_pruning_keeps_the_newest_ended_jobs_and_never_an_active_one(tmp_path):
    manager = _manager(tmp_path)
    hub_init(tmp_path / "root", "iris")
    ids = []
    for _ in range(3):
        job = manager.submit(JobKind.BUILD, "iris")
        await manager.cancel(job.id)
        await asyncio.wait_for(_until_final(manager, job.id), 30)
        ids.append(job.id)
    active = manager.submit(JobKind.BUILD, "iris")
    assert manager.store.prune(keep=1) == 2
    kept = {j.id for j in manager.store.list()}
    assert kept == {ids[-1], active.id}
    assert not manager.store.events_path(ids[0]).exists()
    await manager.cancel(active.id)
    await asyncio.wait_for(_until_final(manager, active.id), 30)
    await manager.shutdown()
