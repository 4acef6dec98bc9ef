"""The engine contract (engines/base.py) on every engine: the local one and Ray.

Only what the interface promises is checked here, through the interface only, so the same test
holds for worker processes on this machine and for Serve replicas on a real local Ray cluster
(started once for this module). The local engine's own mechanics (send-ahead, process groups,
the sandbox) are tested in test_local_*.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket

import pytest
from engine_helpers import await_until

from jupyter_hub_api.platform.engines import UnknownVersionError
from jupyter_hub_api.platform.engines.local import LocalEngine

MAIN = """
import json
import os
import sys
import time
import uuid

from hub import hub_handler

WORKER = uuid.uuid4().hex  # tells workers apart (in a sandbox every pid is the same)
# A worker forked from the loaded template is another worker: it gets an id of its own.
os.register_at_fork(after_in_child=lambda: globals().update(WORKER=uuid.uuid4().hex))
print("imported", WORKER)


@hub_handler
def inference_handler(inputs, context):
    op = inputs.get("op") if isinstance(inputs, dict) else None
    if op == "print":
        print("hello from the handler")
        print("a warning", file=sys.stderr)
        return "printed"
    if op == "raise":
        raise ValueError("bad input: " + inputs["msg"])
    if op == "crash":
        os._exit(3)
    if op == "sleep":
        time.sleep(inputs["seconds"])
        return "slept"
    if op == "env":
        return {"model_dir": os.environ.get("MODEL_DIR"), "cwd": os.getcwd(),
                "secret": os.environ.get("MY_SECRET_TOKEN"), "extra": os.environ.get("EXTRA")}
    if op == "rendezvous":  # returns once two workers are in the handler at the same time
        # Over loopback, not files: each worker has a src/ and a /tmp of its own. The first to
        # bind the port waits for the other to connect; the second connects.
        import socket

        server = socket.socket()
        try:
            server.bind(("127.0.0.1", inputs["port"]))
        except OSError:
            server.close()
            deadline = time.time() + 90
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", inputs["port"]), timeout=5).close()
                    return WORKER
                except OSError:
                    time.sleep(0.05)
            return "alone"
        server.listen(1)
        server.settimeout(90)
        try:
            server.accept()[0].close()
            return WORKER
        except OSError:
            return "alone"
        finally:
            server.close()
    if op == "worker":
        return WORKER
    return inputs
"""

BROKEN = "import no_such_module_here\n"


@pytest.fixture(scope="module")
def ray_address():
    from ray_cluster import ray_cluster

    # A secret in the cluster's environment (its replicas inherit it) must not reach a worker.
    os.environ["MY_SECRET_TOKEN"] = "from-the-cluster"
    try:
        with ray_cluster() as address:
            yield address
    finally:
        del os.environ["MY_SECRET_TOKEN"]


@pytest.fixture(params=["local", pytest.param("ray", marks=pytest.mark.timeout(900))])
def any_engine(request, logs, jp_asyncio_loop, runtime_dir):
    """A started engine of each kind, stopped after the test."""
    if request.param == "local":
        engine = LocalEngine(on_log=logs, read_only_paths=[runtime_dir])
    else:
        from jupyter_hub_api.platform.engines.ray import RayEngine

        engine = RayEngine(
            address=request.getfixturevalue("ray_address"),
            on_log=logs,
            read_only_paths=[runtime_dir],
        )
    jp_asyncio_loop.run_until_complete(engine.start())
    yield engine
    jp_asyncio_loop.run_until_complete(engine.stop())
    assert engine.versions() == []


def call(engine, spec, inputs, invocation_id="inv"):
    return engine.invoke(spec.version_id, json.dumps(inputs).encode(), invocation_id)


async def test_a_cold_call_waits_for_the_load_and_logs_carry_the_invocation_id(
    any_engine, make_spec, logs
):
    spec = make_spec(MAIN)
    await any_engine.deploy(spec)
    assert any_engine.status(spec.version_id)["state"] == "cold"
    first = await call(any_engine, spec, {"op": "print"}, "inv-1")
    assert first.ok and json.loads(first.output_json) == "printed"
    assert first.cold_start and first.http_code == 200
    again = await call(any_engine, spec, [1, "two", None], "inv-2")
    assert json.loads(again.output_json) == [1, "two", None] and not again.cold_start
    assert logs.of("inv-1", "stdout") == ["hello from the handler"]
    assert logs.of("inv-1", "stderr") == ["a warning"]
    assert logs.of("inv-2") == []
    assert [line for line in logs.of(None) if line.startswith("imported")]  # at import: no id
    assert {v for v, *_ in logs.lines} == {spec.version_id}
    assert any_engine.status(spec.version_id)["state"] == "ready"


async def test_handler_errors_bad_bodies_and_the_environment(
    any_engine, make_spec, logs, monkeypatch
):
    monkeypatch.setenv("MY_SECRET_TOKEN", "from-the-platform")
    spec = make_spec(MAIN)
    spec.env["EXTRA"] = "yes"
    await any_engine.deploy(spec)
    error = await call(any_engine, spec, {"op": "raise", "msg": "nope"}, "inv-err")
    assert error.status == "error" and error.http_code == 500
    assert "bad input: nope" in error.error_message
    assert any("Traceback" in line for line in logs.of("inv-err", "stderr"))
    bad = await any_engine.invoke(spec.version_id, b"{not json", "inv-bad")
    assert bad.error_type == "InvalidJSON" and bad.http_code == 400
    env = json.loads((await call(any_engine, spec, {"op": "env"})).output_json)
    assert env["model_dir"] == str(spec.model_dir) and env["cwd"] == str(spec.src_dir)
    assert env["extra"] == "yes" and env["secret"] is None


async def test_a_timeout_is_504_and_a_crash_502_and_the_next_call_gets_a_new_worker(
    any_engine, make_spec, logs
):
    spec = make_spec(MAIN, timeout_seconds=2.0)
    await any_engine.deploy(spec)
    worker = json.loads((await call(any_engine, spec, {"op": "worker"})).output_json)
    slow = await call(any_engine, spec, {"op": "sleep", "seconds": 60}, "inv-slow")
    assert slow.status == "timeout" and slow.http_code == 504
    assert any("timed out" in line for line in logs.of("inv-slow", "stderr"))
    after = json.loads((await call(any_engine, spec, {"op": "worker"})).output_json)
    assert after != worker
    crash = await call(any_engine, spec, {"op": "crash"}, "inv-crash")
    assert crash.status == "crashed" and crash.http_code == 502
    assert "exit code 3" in crash.error_message
    last = await call(any_engine, spec, {"op": "worker"})
    assert last.ok and json.loads(last.output_json) not in (worker, after)


async def test_a_load_error_is_reported_by_warm_and_by_calls(any_engine, make_spec):
    spec = make_spec(BROKEN)
    await any_engine.deploy(spec)
    warm = await any_engine.warm(spec.version_id)
    assert warm["state"] == "failed" and "no_such_module_here" in warm["load_error"]
    result = await call(any_engine, spec, {})
    assert result.status == "error" and result.error_type == "LoadError"
    assert "no_such_module_here" in result.error_message


async def test_warm_loads_once_and_unknown_versions_raise(any_engine, make_spec):
    spec = make_spec(MAIN)
    await any_engine.deploy(spec)
    assert spec.version_id in any_engine.versions()
    warm = await any_engine.warm(spec.version_id)
    assert warm["state"] == "ready" and warm["load_seconds"] > 0
    assert (await any_engine.warm(spec.version_id))["load_seconds"] == 0.0
    with pytest.raises(UnknownVersionError):
        await call(any_engine, spec.__class__(**{**spec.__dict__, "version_id": "nope:1"}), {})
    with pytest.raises(UnknownVersionError):
        any_engine.status("nope:1")
    await any_engine.undeploy("nope:1")  # nothing to do
    await any_engine.undeploy(spec.version_id)
    with pytest.raises(UnknownVersionError):
        await call(any_engine, spec, {})


async def test_concurrent_calls_scale_out_to_max_workers(any_engine, make_spec):
    spec = make_spec(MAIN, max_workers=2, timeout_seconds=120.0)
    await any_engine.deploy(spec)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    results = await asyncio.gather(
        *(call(any_engine, spec, {"op": "rendezvous", "port": port}, f"inv-{i}") for i in range(2))
    )
    workers = [json.loads(r.output_json) for r in results]
    assert "alone" not in workers and len(set(workers)) == 2


async def sleeping_call(engine, spec, seconds: float) -> asyncio.Future:
    """Deploy and load ``spec``, start a call that sleeps, return it once it runs."""
    await engine.deploy(spec)
    await engine.warm(spec.version_id)
    running = asyncio.ensure_future(call(engine, spec, {"op": "sleep", "seconds": seconds}))
    await await_until(lambda: engine.status(spec.version_id)["busy"] >= 1, timeout=60)
    return running


async def test_a_version_switch_drains_the_old_version(any_engine, make_spec):
    old = make_spec(MAIN)
    running = await sleeping_call(any_engine, old, 2)
    new = make_spec(MAIN)
    await any_engine.deploy(new)
    assert (await any_engine.warm(new.version_id))["state"] == "ready"
    await any_engine.undeploy(old.version_id, drain=True)
    assert (await running).ok and json.loads(running.result().output_json) == "slept"
    assert (await call(any_engine, new, "after")).ok
    with pytest.raises(UnknownVersionError):
        await call(any_engine, old, {})


async def test_undeploy_without_drain_ends_a_running_call_as_crashed(any_engine, make_spec):
    spec = make_spec(MAIN)
    running = await sleeping_call(any_engine, spec, 30)
    await asyncio.sleep(0.5)  # let the request reach the worker
    await any_engine.undeploy(spec.version_id, drain=False)
    result = await asyncio.wait_for(running, 60)
    assert result.status == "crashed"


BATCH_MAIN = """
import socket

from hub import hub_handler


@hub_handler(batch=True, max_batch_size=16, max_wait_ms=5)
def predict(inputs, contexts):
    if any(x == "all-fail" for x in inputs):
        raise RuntimeError("the whole batch failed")
    if any(x == "short" for x in inputs):
        return inputs[:-1]
    for x in inputs:
        if isinstance(x, dict):  # holds the worker until the test writes to its socket
            with socket.create_connection(("127.0.0.1", x["gate"])) as gate:
                gate.recv(1)
    print("batch of", len(inputs))
    return [
        ValueError(f"bad item {x}") if x == "bad" else {"x": x, "id": c.invocation_id, "n": len(inputs)}
        for x, c in zip(inputs, contexts)
    ]
"""


async def test_a_batch_handler_answers_each_request_alone(any_engine, make_spec, logs):
    """Batching: each request keeps its output, id, error and log lines; a bad item fails
    only its own request; the handler raising or returning the wrong length fails the batch.

    The local engine groups requests queued behind a busy worker into one batch; the Ray
    engine serves one request per replica at a time: its batches have one request each.
    """
    import socket

    spec = make_spec(BATCH_MAIN, max_workers=1, timeout_seconds=120.0)
    await any_engine.deploy(spec)
    await any_engine.warm(spec.version_id)
    local = isinstance(any_engine, LocalEngine)
    loop = asyncio.get_running_loop()
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        port = server.getsockname()[1]
        gate = asyncio.ensure_future(call(any_engine, spec, {"gate": port}, "inv-gate"))
        held, _ = await asyncio.wait_for(loop.sock_accept(server), 60)
        inputs = ["a", "bad", "c", "d", "e", "f"]
        calls = [
            asyncio.ensure_future(call(any_engine, spec, x, f"inv-{i}"))
            for i, x in enumerate(inputs)
        ]
        if local:  # the worker is held: the six requests queue behind it
            await await_until(lambda: any_engine.status(spec.version_id)["queued"] == 6, 60)
        held.sendall(b"x")
        held.close()
        assert json.loads((await gate).output_json)["n"] == 1
        results = await asyncio.gather(*calls)
    sizes = set()
    for i, (x, result) in enumerate(zip(inputs, results, strict=True)):
        if x == "bad":
            assert result.status == "error" and result.error_type == "ValueError"
            assert result.error_message == "bad item bad"
            assert logs.of(f"inv-{i}", "stderr") == ["ValueError: bad item bad"]
        else:
            assert result.ok, result
            output = json.loads(result.output_json)
            assert (output["x"], output["id"]) == (x, f"inv-{i}")
            assert logs.of(f"inv-{i}", "stderr") == []
            sizes.add(output["n"])
    if local:
        assert sizes == {6}  # the six queued requests ran as one batch
        # A line printed during a batch is in the logs of every request of the batch.
        for i in range(6):
            assert logs.of(f"inv-{i}", "stdout") == ["batch of 6"]
    else:
        assert sizes == {1}
    # The handler raising, or not answering one output per input, fails the batch's requests.
    failed = await call(any_engine, spec, "all-fail", "inv-raise")
    assert failed.status == "error" and failed.error_message == "the whole batch failed"
    short = await call(any_engine, spec, "short", "inv-short")
    assert short.error_type == "BatchOutputError"
    assert "0 outputs for 1 inputs" in short.error_message
    bad_json = await any_engine.invoke(spec.version_id, b"{nope", "inv-json")
    assert bad_json.error_type == "InvalidJSON"


STREAM_MAIN = """
import asyncio

from hub import hub_handler


@hub_handler
def generate(inputs, context):
    if inputs.get("async"):
        return agen(inputs)
    return gen(inputs)


def gen(inputs):
    for i in range(inputs["n"]):
        yield {"i": i}
    if inputs.get("fail"):
        raise RuntimeError("failed after " + str(inputs["n"]))


async def agen(inputs):
    for i in range(inputs["n"]):
        await asyncio.sleep(0)
        yield i
"""


async def test_a_generator_handler_streams_its_outputs(any_engine, make_spec, logs):
    spec = make_spec(STREAM_MAIN)
    await any_engine.deploy(spec)
    seen: list[bytes] = []
    result = await any_engine.invoke(
        spec.version_id, json.dumps({"n": 3}).encode(), "inv-s", on_item=seen.append
    )
    assert result.ok and [json.loads(x) for x in seen] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert result.items == seen and json.loads(result.output_json) == [{"i": i} for i in range(3)]
    # Without on_item the outputs are the result's list; an async generator streams too.
    plain = await call(any_engine, spec, {"n": 4, "async": True})
    assert plain.ok and json.loads(plain.output_json) == [0, 1, 2, 3]
    # Failing midway: an error result that keeps what was yielded before.
    seen.clear()
    failed = await any_engine.invoke(
        spec.version_id, json.dumps({"n": 2, "fail": True}).encode(), "inv-f", on_item=seen.append
    )
    assert failed.status == "error" and failed.error_message == "failed after 2"
    assert len(seen) == 2 and failed.items == seen
    assert any("Traceback" in line for line in logs.of("inv-f", "stderr"))
