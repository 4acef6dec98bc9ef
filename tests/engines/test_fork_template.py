"""Workers forked from a loaded template, and the warm-up call (real processes, in the sandbox
when bubblewrap works here).

main.py prints a line each time it is imported, so the tests count imports in the version's
logs, as a user would; the handler answers its import stamp and its own pid.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os

import psutil
import pytest
from engine_helpers import await_until

from jupyter_hub_api.platform.engines.environ import THREAD_POOL_ENV
from jupyter_hub_api.platform.engines.template import (
    FORK_SUPPORTED,
    ForkedWorker,
)

pytestmark = pytest.mark.skipif(not FORK_SUPPORTED, reason="forking workers needs Linux")

COUNTED = """
import os
import subprocess
import threading
import time

from hub import hub_handler

print("importing main.py in", os.getpid(), flush=True)
IMPORTED = (os.getpid(), time.time_ns())
CALLS = []
{extra}


@hub_handler
def inference_handler(inputs, context):
    CALLS.append(context.invocation_id)
    op = inputs.get("op") if isinstance(inputs, dict) else None
    if op == "fail":
        raise ValueError("not this input")
    if op == "crash":
        os._exit(3)
    if op == "child":  # a process of its own in the worker's group, then hang
        proc = subprocess.Popen(["sleep", "300"])
        time.sleep(300)
    if op == "sleep":
        time.sleep(inputs["seconds"])
    return {"imported": IMPORTED, "pid": os.getpid(), "calls": list(CALLS)}
"""


def counted(extra: str = "") -> str:
    return COUNTED.replace("{extra}", extra)


def imports(logs) -> list[str]:
    return [line for _, inv, _, line in logs.lines if line.startswith("importing main.py")]


async def call(engine, spec, inputs, invocation_id="inv"):
    return await engine.invoke(spec.version_id, json.dumps(inputs).encode(), invocation_id)


async def test_a_scale_up_forks_workers_that_share_the_one_import(engine, make_spec, logs):
    spec = make_spec(counted(), max_workers=4)
    await engine.deploy(spec)
    status = await engine.warm(spec.version_id)
    assert status["state"] == "ready" and status["workers"] == 1
    pool = engine.pools[spec.version_id]
    assert pool.template is not None and isinstance(pool.workers[0], ForkedWorker)

    # Four calls at once: three more workers, each forked from the template in the sandbox.
    results = await asyncio.gather(
        *(call(engine, spec, {"op": "sleep", "seconds": 1.0}, f"c{i}") for i in range(4))
    )
    assert all(r.status == "ok" for r in results), results
    outputs = [json.loads(r.output_json) for r in results]
    assert len(pool.workers) == 4 and all(isinstance(w, ForkedWorker) for w in pool.workers)
    assert len(imports(logs)) == 1, logs.lines
    assert len({tuple(o["imported"]) for o in outputs}) == 1  # one import, shared
    assert len({o["pid"] for o in outputs}) == 4  # four processes
    # Each forked worker is a process group of its own (killed alone), whose parent is the
    # template, inside the same sandbox.
    pids = [w.pid for w in pool.workers]
    assert len(set(pids)) == 4
    for pid in pids:
        assert "--template" in psutil.Process(pid).parent().cmdline()
        assert os.getpgid(pid) == pid


async def test_a_crashed_forked_worker_is_replaced_by_another_fork(engine, make_spec, logs):
    spec = make_spec(counted(), max_workers=2)
    await engine.deploy(spec)
    await engine.warm(spec.version_id)
    first = json.loads((await call(engine, spec, {})).output_json)
    crashed = await call(engine, spec, {"op": "crash"}, "boom")
    assert crashed.status == "crashed" and "exit code 3" in crashed.error_message, crashed
    after = await call(engine, spec, {})
    assert after.status == "ok", after
    second = json.loads(after.output_json)
    assert second["imported"] == first["imported"] and second["pid"] != first["pid"]
    assert len(imports(logs)) == 1


async def test_a_timed_out_forked_worker_is_killed_with_what_it_started(engine, make_spec):
    spec = make_spec(counted(), max_workers=2, timeout_seconds=1.5)
    await engine.deploy(spec)
    await engine.warm(spec.version_id)
    pool = engine.pools[spec.version_id]
    victim = pool.workers[0]
    result = await call(engine, spec, {"op": "child"}, "hang")
    assert result.status == "timeout", result
    await await_until(lambda: not psutil.pid_exists(victim.pid), timeout=10)
    # Its child (a `sleep` in its group) is gone too; the template and the version live on.
    assert not [
        p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "300"]
    ]
    assert pool.template is not None
    assert (await call(engine, spec, {})).status == "ok"


async def test_a_handler_with_a_thread_at_import_gets_fresh_workers(engine, make_spec, logs):
    extra = """
threading.Thread(target=time.sleep, args=(300,), name="poller", daemon=True).start()
"""
    spec = make_spec(counted(extra), max_workers=2)
    await engine.deploy(spec)
    await engine.warm(spec.version_id)
    pool = engine.pools[spec.version_id]
    assert pool.template is None and "poller" in (pool.fork_problem or "")
    results = await asyncio.gather(
        *(call(engine, spec, {"op": "sleep", "seconds": 1.0}, f"t{i}") for i in range(2))
    )
    assert all(r.status == "ok" for r in results), results
    outputs = [json.loads(r.output_json) for r in results]
    assert len({tuple(o["imported"]) for o in outputs}) == 2  # two imports
    assert len(imports(logs)) == 2
    said = [(inv, line) for _, inv, _, line in logs.lines if "started fresh" in line]
    assert len(said) == 1 and "poller" in said[0][1] and said[0][0] is None


NUMPY = """
import numpy

THREADS = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
print("numpy thread pools", THREADS, flush=True)
"""


@pytest.fixture
def no_thread_pool_env(monkeypatch):
    """The platform's own environment sets no thread pool (a worker would inherit it)."""
    for key in THREAD_POOL_ENV:
        monkeypatch.delenv(key, raising=False)


async def test_a_numpy_handler_is_forked_with_one_blas_thread_per_worker(
    engine, make_spec, logs, no_thread_pool_env
):
    # numpy's OpenBLAS starts a thread per core at import unless told otherwise, which made
    # every numpy and scikit-learn handler unfit to fork: each further worker imported again.
    spec = make_spec(counted(NUMPY), max_workers=2)
    await engine.deploy(spec)
    await engine.warm(spec.version_id)
    pool = engine.pools[spec.version_id]
    assert pool.template is not None, pool.fork_problem
    results = await asyncio.gather(
        *(call(engine, spec, {"op": "sleep", "seconds": 1.0}, f"n{i}") for i in range(2))
    )
    assert all(r.status == "ok" for r in results), results
    assert all(isinstance(w, ForkedWorker) for w in pool.workers) and len(pool.workers) == 2
    assert len(imports(logs)) == 1, logs.lines
    said = [line for _, _, _, line in logs.lines if line.startswith("numpy thread pools")]
    assert said == ["numpy thread pools {'OMP_NUM_THREADS': '1', 'OPENBLAS_NUM_THREADS': '1'}"]


async def test_a_project_that_sizes_its_blas_threads_gets_them_and_fresh_workers(
    engine, make_spec, logs, no_thread_pool_env
):
    spec = make_spec(counted(NUMPY), max_workers=2, cpus=2)
    spec = dataclasses.replace(spec, env={**spec.env, "OMP_NUM_THREADS": "3"})
    await engine.deploy(spec)
    await engine.warm(spec.version_id)
    pool = engine.pools[spec.version_id]
    said = [line for _, _, _, line in logs.lines if line.startswith("numpy thread pools")]
    # The project's env wins; runtime.cpus sizes the rest.
    assert said == ["numpy thread pools {'OMP_NUM_THREADS': '3', 'OPENBLAS_NUM_THREADS': '2'}"]
    # OpenBLAS's second thread runs after the import: detected, and further workers start fresh.
    assert pool.template is None
    assert "thread(s) of compiled code" in (pool.fork_problem or "")
    results = await asyncio.gather(
        *(call(engine, spec, {"op": "sleep", "seconds": 1.0}, f"b{i}") for i in range(2))
    )
    assert all(r.status == "ok" for r in results), results
    assert len(imports(logs)) == 2


async def test_runtime_fork_false_starts_every_worker_fresh(engine, make_spec, logs):
    spec = make_spec(counted(), max_workers=2, fork=False)
    await engine.deploy(spec)
    results = await asyncio.gather(
        *(call(engine, spec, {"op": "sleep", "seconds": 1.0}, f"f{i}") for i in range(2))
    )
    assert all(r.status == "ok" for r in results), results
    assert engine.pools[spec.version_id].template is None and len(imports(logs)) == 2


@pytest.mark.parametrize("max_workers", [1, 2])
async def test_the_warmup_call_runs_before_the_worker_serves(engine, make_spec, max_workers):
    spec = make_spec(counted(), max_workers=max_workers, warmup={"input": {"op": "warm"}})
    await engine.deploy(spec)
    status = await engine.warm(spec.version_id)
    assert status["state"] == "ready"
    output = json.loads((await call(engine, spec, {}, "first")).output_json)
    assert output["calls"] == ["warmup", "first"]  # the warm-up ran in this very worker


async def test_a_failing_warmup_call_is_the_load_error(engine, make_spec):
    spec = make_spec(counted(), max_workers=2, warmup={"input": {"op": "fail"}})
    await engine.deploy(spec)
    status = await engine.warm(spec.version_id)
    assert status["state"] == "failed"
    assert "warm-up call" in status["load_error"] and "not this input" in status["load_error"]
    result = await call(engine, spec, {})
    assert result.status == "error" and result.error_type == "LoadError"


async def test_a_forked_worker_past_its_memory_limit_is_stopped_alone(engine, make_spec, logs):
    main = counted().replace(
        '    if op == "sleep":',
        '    if op == "grow":\n        hoard = bytearray(400 * 2**20)\n        time.sleep(5)\n'
        '    if op == "sleep":',
    )
    spec = make_spec(main, max_workers=2, memory_mb=250)
    await engine.deploy(spec)
    await engine.warm(spec.version_id)
    pool = engine.pools[spec.version_id]
    template = pool.template
    result = await call(engine, spec, {"op": "grow"}, "grow")
    assert result.status == "crashed" and result.error_type == "MemoryLimit", result
    assert pool.template is template and template.returncode is None
    assert (await call(engine, spec, {})).status == "ok"
    assert len(imports(logs)) == 1


async def test_when_the_template_dies_its_workers_end_and_a_new_template_serves(
    engine, make_spec, logs
):
    spec = make_spec(counted(), max_workers=2)
    await engine.deploy(spec)
    await engine.warm(spec.version_id)
    pool = engine.pools[spec.version_id]
    worker = pool.workers[0]
    pool.template.kill()
    await await_until(lambda: worker.state == "gone" and pool.template is None, timeout=15)
    result = await call(engine, spec, {})
    assert result.status == "ok", result
    assert pool.template is not None and len(imports(logs)) == 2  # loaded again
