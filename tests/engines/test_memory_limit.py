"""The memory limit of a worker: a leaking handler is stopped past ``memory_mb``, its request
answered with a sentence naming the limit, and the worker replaced, with and without the
sandbox, for memory held by the worker itself or by a process it started.
"""

from __future__ import annotations

import pytest

from jupyter_hub_api.platform.engines.local import LocalEngine
from jupyter_hub_api.platform.engines.sandbox import bwrap_usable

# Allocates (and touches) 10 MB at a time, up to 1.5 GB, unless it is stopped first.
LEAKER = """
import subprocess, sys, time
from hub import hub_handler

hoard = []

def leak():
    for _ in range(150):
        hoard.append(b"x" * (10 * 1024 * 1024))
        time.sleep(0.01)

if {leak_at_import}:
    leak()

@hub_handler
def inference_handler(inputs, context):
    if inputs == "leak":
        leak()
        return "survived"
    if inputs == "leak in a child":
        code = "import time; data = b'x' * (600 * 1024 * 1024); time.sleep(30)"
        subprocess.run([sys.executable, "-c", code])
        return "survived"
    return "small"
"""

SANDBOXES = [
    pytest.param(
        None,
        id="sandboxed",
        marks=pytest.mark.skipif(bwrap_usable() is None, reason="bubblewrap is not installed here"),
    ),
    pytest.param(False, id="no-sandbox"),
]


@pytest.fixture(params=SANDBOXES)
def limited_engine(request, logs, jp_asyncio_loop, runtime_dir):
    engine = LocalEngine(on_log=logs, read_only_paths=[runtime_dir], sandbox=request.param)
    engine.logs = logs
    jp_asyncio_loop.run_until_complete(engine.start())
    yield engine
    jp_asyncio_loop.run_until_complete(engine.stop())
    assert not engine.processes


@pytest.mark.parametrize("request_body", [b'"leak"', b'"leak in a child"'])
async def test_a_leaking_handler_is_stopped_at_its_limit_and_its_worker_replaced(
    limited_engine, make_spec, request_body
):
    engine = limited_engine
    spec = make_spec(LEAKER.format(leak_at_import=False), memory_mb=150, max_workers=1)
    await engine.deploy(spec)
    assert (await engine.invoke(spec.version_id, b'"small"', "before")).ok
    result = await engine.invoke(spec.version_id, request_body, "leaky")
    assert result.status == "crashed"  # the gateway answers 502: the worker was stopped
    assert result.error_type == "MemoryLimit"
    assert "more than 150 MB" in result.error_message
    assert "runtime.memory_mb in hub_config.json" in result.error_message
    assert any("memory limit of 150 MB" in line for line in engine.logs.of("leaky", "stderr"))
    # A new worker serves the next request.
    after = await engine.invoke(spec.version_id, b'"small"', "after")
    assert after.ok and after.cold_start


async def test_a_leak_while_loading_is_a_load_error_naming_the_limit(limited_engine, make_spec):
    engine = limited_engine
    spec = make_spec(LEAKER.format(leak_at_import=True), memory_mb=150)
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b'"small"', "first")
    assert result.status == "error" and result.error_type == "LoadError"
    assert "while importing src/main.py" in result.error_message
    assert "more than 150 MB" in result.error_message


async def test_without_a_limit_the_handler_may_use_what_it_needs(limited_engine, make_spec):
    engine = limited_engine
    spec = make_spec(LEAKER.format(leak_at_import=False).replace("150)", "30)"), memory_mb=0)
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b'"leak"', "big")
    assert result.ok and result.output_json == b'"survived"'
