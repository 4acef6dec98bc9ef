"""Workers start on demand, scale with load, stop when idle, and are replaced when they fail."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
from engine_helpers import alive, await_until, children_of, descendants, wait_until, worker_pids

from jupyter_hub_api.platform.engines import UnknownVersionError

# Sleeps for the number of seconds it is given and answers with the worker's id; "crash" exits
# hard. (Not its pid: in the sandbox that is a pid of its own namespace.)
SLEEPER = """
import os, time, uuid
from hub import hub_handler

WORKER = uuid.uuid4().hex
# A worker forked from the loaded template is another worker: it gets an id of its own.
os.register_at_fork(after_in_child=lambda: globals().update(WORKER=uuid.uuid4().hex))

@hub_handler
def inference_handler(inputs, context):
    if inputs == "crash":
        os._exit(7)
    if inputs == "hang":
        time.sleep(600)
    if isinstance(inputs, (int, float)):
        time.sleep(inputs)
    return WORKER
"""


# Waits until `inputs` invocations are inside the handler at once, so they must be on as many
# workers (a single worker would wait out the 10 s and fail).
BARRIER = """
import os, time, uuid
from hub import hub_handler

WORKER = uuid.uuid4().hex
# A worker forked from the loaded template is another worker: it gets an id of its own.
os.register_at_fork(after_in_child=lambda: globals().update(WORKER=uuid.uuid4().hex))

@hub_handler
def inference_handler(inputs, context):
    open(f"arrived-{uuid.uuid4().hex}", "w").close()
    deadline = time.monotonic() + 10
    while sum(n.startswith("arrived-") for n in os.listdir(".")) < inputs:
        if time.monotonic() > deadline:
            raise TimeoutError("the other invocations never arrived")
        time.sleep(0.01)
    return WORKER
"""


def worker_of(result) -> str:
    assert result.status == "ok", result
    return json.loads(result.output_json)


async def test_cold_start_waits_for_a_slow_import_and_succeeds(engine, make_spec):
    spec = make_spec("import time\ntime.sleep(1.0)\n" + SLEEPER)
    await engine.deploy(spec)
    assert engine.status(spec.version_id)["state"] == "cold"
    task = asyncio.ensure_future(engine.invoke(spec.version_id, b"0", "waking"))
    await await_until(lambda: engine.status(spec.version_id)["state"] == "loading")
    result = await task
    assert result.status == "ok"
    assert result.cold_start
    assert result.wait_ms >= 1000  # it waited for the import instead of failing
    assert engine.status(spec.version_id)["state"] == "ready"


async def test_warm_loads_a_worker_once(engine, make_spec):
    spec = make_spec(SLEEPER)
    await engine.deploy(spec)
    first = await engine.warm(spec.version_id)
    assert first["state"] == "ready" and first["workers"] == 1 and first["load_seconds"] > 0
    second = await engine.warm(spec.version_id)
    assert second["state"] == "ready" and second["workers"] == 1 and second["load_seconds"] == 0


async def test_concurrent_requests_scale_up_to_max_workers_and_never_beyond(engine, make_spec):
    spec = make_spec(BARRIER, max_workers=2)
    others = set(children_of(os.getpid()))  # processes other tests' fixtures keep alive
    await engine.deploy(spec)
    seen = []
    tasks = [asyncio.ensure_future(engine.invoke(spec.version_id, b"2", f"i{n}")) for n in range(6)]
    while not all(t.done() for t in tasks):
        status = engine.status(spec.version_id)
        seen.append(status["workers"])
        assert len(set(children_of(os.getpid())) - others) <= 2
        await asyncio.sleep(0.02)
    pids = {worker_of(t.result()) for t in tasks}
    assert len(pids) == 2
    # Both stay up until their idle timeout (60 s). A worker forked from the template starts in
    # milliseconds, so the polls above may all fall before or after the moment both were busy.
    seen.append(engine.status(spec.version_id)["workers"])
    assert max(seen) == 2


async def test_requests_beyond_max_workers_are_served_first_come_first_served(engine, make_spec):
    spec = make_spec(
        """
        import time
        from hub import hub_handler

        @hub_handler
        def inference_handler(inputs, context):
            time.sleep(0.05)
            return time.monotonic()
        """,
        max_workers=1,
    )
    await engine.deploy(spec)
    await engine.warm(spec.version_id)
    tasks = []
    for n in range(6):
        tasks.append(asyncio.ensure_future(engine.invoke(spec.version_id, b"null", f"i{n}")))
        await asyncio.sleep(0.005)  # submitted in a known order
    results = await asyncio.gather(*tasks)
    finished = [json.loads(r.output_json) for r in results]
    assert finished == sorted(finished)
    assert engine.status(spec.version_id)["workers"] == 1


async def test_idle_workers_stop_down_to_zero(engine, make_spec):
    spec = make_spec(BARRIER, idle_seconds=0.3, max_workers=2)
    await engine.deploy(spec)
    results = await asyncio.gather(
        *(engine.invoke(spec.version_id, b"2", f"i{n}") for n in range(2))
    )
    workers = {worker_of(r) for r in results}
    assert len(workers) == 2
    pids = worker_pids(engine, spec.version_id)
    assert len(pids) == 2
    await await_until(lambda: engine.status(spec.version_id)["workers"] == 0)
    assert engine.status(spec.version_id)["state"] == "cold"
    await await_until(lambda: not any(alive(pid) for pid in pids))
    # ...and the next request starts a fresh worker.
    assert worker_of(await engine.invoke(spec.version_id, b"1", "again")) not in workers


async def test_min_workers_are_started_at_deploy_and_kept_when_idle(engine, make_spec):
    spec = make_spec(BARRIER, min_workers=1, max_workers=2, idle_seconds=0.2)
    await engine.deploy(spec)
    await await_until(lambda: engine.status(spec.version_id)["state"] == "ready")
    results = await asyncio.gather(
        *(engine.invoke(spec.version_id, b"2", f"i{n}") for n in range(2))
    )
    assert len({worker_of(r) for r in results}) == 2
    await await_until(lambda: engine.status(spec.version_id)["workers"] == 1)
    await asyncio.sleep(0.5)  # several idle periods later, the minimum is still there
    assert engine.status(spec.version_id)["workers"] == 1


async def test_a_crash_fails_only_its_request_and_the_queue_goes_to_a_new_worker(engine, make_spec):
    spec = make_spec(SLEEPER, max_workers=1)
    await engine.deploy(spec)
    # Many fast calls first: the engine then sends queued requests ahead to the busy worker,
    # and those must not be lost with it.
    for n in range(20):
        first = worker_of(await engine.invoke(spec.version_id, b"0", f"warm{n}"))
    (first_pid,) = worker_pids(engine, spec.version_id)
    crash = asyncio.ensure_future(engine.invoke(spec.version_id, b'"crash"', "boom"))
    queued = [
        asyncio.ensure_future(engine.invoke(spec.version_id, b"0", f"q{n}")) for n in range(10)
    ]
    result = await crash
    assert result.status == "crashed"
    assert "exit code 7" in result.error_message
    others = await asyncio.gather(*queued)
    new_workers = {worker_of(r) for r in others}
    assert first not in new_workers and len(new_workers) == 1
    await await_until(lambda: not alive(first_pid))


async def test_a_worker_killed_from_outside_fails_its_request_as_crashed(engine, make_spec):
    spec = make_spec(SLEEPER)
    await engine.deploy(spec)
    first = worker_of(await engine.invoke(spec.version_id, b"0", "warm"))
    (pid,) = worker_pids(engine, spec.version_id)
    task = asyncio.ensure_future(engine.invoke(spec.version_id, b"30", "slow"))
    await await_until(lambda: engine.status(spec.version_id)["busy"] == 1)
    os.kill(pid, signal.SIGKILL)
    result = await task
    assert result.status == "crashed"
    assert "SIGKILL" in result.error_message
    assert worker_of(await engine.invoke(spec.version_id, b"0", "after")) != first


async def test_a_segfault_fails_its_request_and_its_python_stack_reaches_the_logs(
    engine, make_spec, logs
):
    spec = make_spec(
        """
        import ctypes
        from hub import hub_handler

        @hub_handler
        def inference_handler(inputs, context):
            if inputs == "segfault":
                ctypes.string_at(0)  # reads address 0: SIGSEGV in native code
            return "fine"
        """
    )
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b'"segfault"', "boom")
    assert result.status == "crashed"
    assert "SIGSEGV" in result.error_message
    assert any("Segmentation fault" in line for *_, line in logs.lines)
    assert (await engine.invoke(spec.version_id, b"null", "next")).status == "ok"


async def test_a_handler_past_its_timeout_gets_timeout_and_its_worker_is_replaced(
    engine, make_spec, logs
):
    spec = make_spec(SLEEPER, timeout_seconds=0.5, max_workers=1)
    await engine.deploy(spec)
    for n in range(20):
        first = worker_of(await engine.invoke(spec.version_id, b"0", f"warm{n}"))
    (pid,) = worker_pids(engine, spec.version_id)
    stuck = asyncio.ensure_future(engine.invoke(spec.version_id, b'"hang"', "stuck"))
    queued = [
        asyncio.ensure_future(engine.invoke(spec.version_id, b"0", f"q{n}")) for n in range(5)
    ]
    result = await stuck
    assert result.status == "timeout"
    assert "0.5 s" in result.error_message
    assert logs.of("stuck", "stderr")
    # The requests behind it run on the replacement worker, none times out.
    others = await asyncio.gather(*queued)
    assert {worker_of(r) for r in others} != {first}
    await await_until(lambda: not alive(pid))
    assert worker_of(await engine.invoke(spec.version_id, b"0", "after")) != first


async def test_an_import_error_is_a_clear_load_error_without_a_crash_loop(engine, make_spec, logs):
    # Each import says so in the API's log (a worker's src/ is its own copy: a file it writes
    # there is not the version's).
    spec = make_spec(
        """
        print("importing main.py", flush=True)
        from hub import hub_handler
        limit = 1 / 0
        """
    )
    await engine.deploy(spec)
    status = await engine.warm(spec.version_id)
    assert status["state"] == "failed"
    assert "ZeroDivisionError" in status["load_error"]
    for n in range(3):
        result = await engine.invoke(spec.version_id, b"1", f"i{n}")
        assert result.status == "error"
        assert result.error_type == "LoadError"
        assert "Importing src/main.py failed: ZeroDivisionError" in result.error_message
    # Within the back-off, no new worker was started for those requests.
    assert sum("importing main.py" in line for *_, line in logs.lines) == 1
    assert engine.status(spec.version_id)["workers"] == 0
    assert any("ZeroDivisionError" in line for *_, line in logs.lines)


@pytest.mark.parametrize(
    "main_py, expected",
    [
        ("x = 1\n", "marks no function with @hub_handler"),
        (
            "from hub import hub_handler\n"
            "@hub_handler\ndef a(i, c): return 1\n"
            "@hub_handler\ndef b(i, c): return 2\n",
            "marks 2 functions with @hub_handler (a, b)",
        ),
        ("import os\nos._exit(3)\n", "stopped (exit code 3) while importing src/main.py"),
    ],
)
async def test_main_py_without_exactly_one_handler_is_a_load_error(
    engine, make_spec, main_py, expected
):
    spec = make_spec(main_py)
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b"1", "inv")
    assert result.status == "error" and result.error_type == "LoadError"
    assert expected in result.error_message


async def test_an_import_past_the_load_timeout_is_a_load_error(engine, make_spec):
    spec = make_spec("import time\ntime.sleep(60)\n" + SLEEPER, load_timeout_seconds=0.5)
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b"0", "inv")
    assert result.status == "error" and result.error_type == "LoadError"
    assert "longer than its load timeout of 0.5 s" in result.error_message
    assert engine.status(spec.version_id)["workers"] == 0


async def test_a_missing_model_folder_is_a_clear_error(engine, make_spec):
    spec = make_spec(SLEEPER)
    spec.model_dir.rmdir()
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b"0", "inv")
    assert result.status == "error" and result.error_type == "LoadError"
    assert "model folder" in result.error_message and str(spec.model_dir) in result.error_message
    assert (await engine.warm(spec.version_id))["state"] == "failed"


async def test_a_model_folder_that_disappears_after_deploy_is_a_clear_error(engine, make_spec):
    spec = make_spec(SLEEPER, idle_seconds=0.2)
    await engine.deploy(spec)
    assert (await engine.invoke(spec.version_id, b"0", "before")).status == "ok"
    shutil.rmtree(spec.model_dir)
    await await_until(lambda: engine.status(spec.version_id)["workers"] == 0)
    result = await engine.invoke(spec.version_id, b"0", "after")
    assert result.status == "error" and result.error_type == "LoadError"
    assert "model folder" in result.error_message


async def test_a_missing_interpreter_is_a_clear_error(engine, make_spec, tmp_path):
    spec = make_spec(SLEEPER)
    spec.python = tmp_path / "no-such-env" / "bin" / "python"
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b"0", "inv")
    assert result.status == "error" and result.error_type == "LoadError"
    assert "build the API again" in result.error_message


async def test_an_environment_without_the_hub_runtime_is_a_clear_error(engine, make_spec):
    system_python = shutil.which("python3", path="/usr/bin:/bin")
    if not system_python:
        pytest.skip("no system python3")
    spec = make_spec(SLEEPER)
    spec.python = Path(system_python)
    spec.env = {}  # no runtime folder on its path
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b"0", "inv")
    assert result.status == "error" and result.error_type == "LoadError"
    assert "cannot import the hub runtime" in result.error_message


async def test_undeploy_drains_running_and_queued_requests(engine, make_spec):
    spec = make_spec(SLEEPER, max_workers=1)
    await engine.deploy(spec)
    tasks = [
        asyncio.ensure_future(engine.invoke(spec.version_id, b"0.2", f"i{n}")) for n in range(3)
    ]
    await await_until(lambda: engine.status(spec.version_id)["busy"] == 1)
    await engine.undeploy(spec.version_id, drain=True)
    assert all(t.done() and t.result().status == "ok" for t in tasks)
    with pytest.raises(UnknownVersionError):
        await engine.invoke(spec.version_id, b"0", "late")
    assert not engine.processes
    await engine.undeploy(spec.version_id)  # a second undeploy does nothing


async def test_undeploy_without_drain_ends_running_requests_as_crashed(engine, make_spec):
    spec = make_spec(SLEEPER, max_workers=1)
    await engine.deploy(spec)
    running = asyncio.ensure_future(engine.invoke(spec.version_id, b"30", "running"))
    await await_until(lambda: engine.status(spec.version_id)["busy"] == 1)
    queued = asyncio.ensure_future(engine.invoke(spec.version_id, b"0", "queued"))
    await asyncio.sleep(0.01)
    await engine.undeploy(spec.version_id, drain=False)
    assert running.result().status == "crashed"
    assert queued.result().status == "crashed"
    assert not engine.processes


async def test_stop_kills_workers_and_what_their_handlers_started(engine, make_spec):
    spec = make_spec(
        """
        import subprocess
        from hub import hub_handler

        child = subprocess.Popen(["sleep", "300"])

        @hub_handler
        def inference_handler(inputs, context):
            time.sleep(0.2)  # both requests at once: one per worker
            return child.pid
        """.replace("import subprocess", "import subprocess, time"),
        max_workers=2,
    )
    others = set(children_of(os.getpid()))  # processes other tests' fixtures keep alive
    await engine.deploy(spec)
    await asyncio.gather(*(engine.invoke(spec.version_id, b"1", "i") for _ in range(2)))
    workers = sorted(set(children_of(os.getpid())) - others)
    assert len(workers) == 2
    everything = workers + [pid for worker in workers for pid in descendants(worker)]
    sleeps = [pid for pid in everything if psutil.Process(pid).name() == "sleep"]
    assert len(sleeps) == 2
    await engine.stop()
    assert set(children_of(os.getpid())) - others == set()
    assert not any(alive(pid) for pid in everything)


def test_workers_die_when_the_platform_is_killed(tmp_path, runtime_dir):
    """A platform killed with SIGKILL leaves no orphan worker behind."""
    src = tmp_path / "src"
    src.mkdir()
    (tmp_path / "model").mkdir()
    (src / "main.py").write_text(SLEEPER)
    script = tmp_path / "platform.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, json, sys
            from pathlib import Path
            from jupyter_hub_api.platform.engines import VersionSpec, create_engine
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from engine_helpers import descendants

            async def main():
                engine = create_engine("local", read_only_paths=[{str(runtime_dir)!r}])
                await engine.start()
                spec = VersionSpec("v", "alice/api", Path({str(src)!r}), Path({str(tmp_path / "model")!r}),
                                   Path(sys.executable), {{"PYTHONPATH": {str(runtime_dir)!r}}})
                await engine.deploy(spec)
                result = await engine.invoke("v", b"0", "i")
                assert result.ok, result
                (worker,) = engine.pools["v"].workers
                print(json.dumps([worker.pid, *descendants(worker.pid)]), flush=True)
                asyncio.ensure_future(engine.invoke("v", b"600", "busy forever"))
                await asyncio.sleep(600)

            asyncio.run(main())
            """
        )
    )
    platform = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        pids = json.loads(platform.stdout.readline())
        assert pids and all(alive(pid) for pid in pids)
    finally:
        platform.kill()
        platform.wait()
    wait_until(lambda: not any(alive(pid) for pid in pids))


async def test_deploying_a_version_again_while_it_drains_keeps_it(engine, make_spec):
    """A rollback can bring back a version whose undeploy is still draining."""
    spec = make_spec(SLEEPER)
    await engine.deploy(spec)
    running = asyncio.ensure_future(engine.invoke(spec.version_id, b"0.3", "running"))
    await await_until(lambda: engine.status(spec.version_id)["busy"] == 1)
    undeploy = asyncio.ensure_future(engine.undeploy(spec.version_id, drain=True))
    await asyncio.sleep(0.05)
    await engine.deploy(spec)
    await undeploy
    assert (await running).status == "ok"
    assert (await engine.invoke(spec.version_id, b"0", "after")).status == "ok"


async def test_a_spec_without_a_worker_is_refused_with_the_field_to_fix(engine, make_spec):
    from jupyter_hub_api.errors import UsageError

    spec = make_spec(SLEEPER, max_workers=0)
    with pytest.raises(UsageError, match="max_workers of .* must be at least 1") as caught:
        await engine.deploy(spec)
    assert caught.value.field == "runtime.max_workers"
    assert spec.version_id not in engine.versions()
