"""The worker sandbox: MODEL_DIR and the environment read-only whoever the worker runs as (root
included), the platform's state out of sight, a private /tmp and HOME, and no process a
handler starts outliving its worker.

Real bubblewrap, real environments (``ensure_environment``), real blobs laid out by
``records.materialize`` as a deploy does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import textwrap
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
from engine_helpers import alive, await_until, descendants

from jupyter_hub_api import paths
from jupyter_hub_api.artifacts import records
from jupyter_hub_api.artifacts.blobstore import BlobStore
from jupyter_hub_api.artifacts.environments import current_python, ensure_environment, site_packages
from jupyter_hub_api.platform.engines import VersionSpec
from jupyter_hub_api.platform.engines.sandbox import bwrap_usable

pytestmark = pytest.mark.skipif(
    bwrap_usable() is None,
    reason="bubblewrap is not installed here (scripts/setup.sh: apt-get install bubblewrap)",
)

# Tries everything a careless (or hostile) handler might, and reports each outcome.
PROBE = """
import errno, os, subprocess, sys, time
from hub import hub_handler


def attempt(action):
    try:
        action()
        return "done"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))


def write(path, text="tampered"):
    with open(path, "w") as f:
        f.write(text)


@hub_handler
def inference_handler(inputs, context):
    model = os.environ["MODEL_DIR"]
    site = next(p for p in sys.path if p.endswith("site-packages"))
    if inputs == "child":
        child = subprocess.Popen(["sleep", "1000"], start_new_session=True)
        write(os.path.join(os.environ["HOME"], "child.pid"), str(child.pid))
        return child.pid
    if inputs == "crash":
        os._exit(3)
    if inputs == "hang":
        time.sleep(60)
    return {
        "uid": os.getuid(),
        "model_file": attempt(lambda: write(os.path.join(model, "weights.txt"))),
        "model_new": attempt(lambda: write(os.path.join(model, "new.txt"))),
        "model_chmod": attempt(lambda: os.chmod(os.path.join(model, "weights.txt"), 0o666)),
        "model_read": open(os.path.join(model, "weights.txt")).read(),
        "site_packages": attempt(lambda: write(os.path.join(site, "shared_evil.py"), "x = 1")),
        "remount": subprocess.run(
            ["mount", "-o", "remount,rw", model], capture_output=True
        ).returncode,
        "platform_token": attempt(lambda: open(os.environ["PROBE_TOKEN_FILE"]).read()),
        "blob_store": os.path.exists(os.environ["PROBE_BLOBS"]),
        "tmp": attempt(lambda: write("/tmp/probe-" + os.environ["PROBE_ID"])),
        "home": attempt(lambda: write(os.path.join(os.environ["HOME"], "x"))),
        "tmpdir": os.environ["TMPDIR"],
        "home_dir": os.environ["HOME"],
        "cwd": attempt(lambda: write("written-in-src.txt")),
    }
"""


@pytest.fixture
def version(hub_home):
    """A version laid out as a deploy does: blobs in the store, model files hard-linked."""
    env = ensure_environment(current_python(), "")
    store = BlobStore(paths.blobs_dir())
    main = textwrap.dedent(PROBE).encode()
    entries = {"main.py": main, "weights.txt": b"original weights"}
    shas = {name: store.put_bytes(data) for name, data in entries.items()}
    record = {
        "build_id": hashlib.sha256(b"sandbox test").hexdigest(),
        "code": [{"path": "main.py", "sha256": shas["main.py"], "size": len(main)}],
        "model": [{"path": "weights.txt", "sha256": shas["weights.txt"], "size": 16}],
    }
    vdir = records.materialize(record, store, paths.platform_dir() / "versions" / "v1")
    token = paths.platform_dir() / "token"
    token.write_text("the platform owner's token")
    counter = iter(range(100))

    def spec(**options) -> VersionSpec:
        return VersionSpec(
            version_id=f"v1:{next(counter)}",
            api="alice/probe",
            src_dir=vdir / "src",
            model_dir=vdir / "model",
            python=env.python,
            env={
                "PROBE_TOKEN_FILE": str(token),
                "PROBE_BLOBS": str(store.root),
                "PROBE_ID": os.urandom(4).hex(),
            },
            **options,
        )

    return SimpleNamespace(
        spec=spec,
        env=env,
        store=store,
        blob=store.path(shas["weights.txt"]),
        sha=shas["weights.txt"],
    )


async def test_model_dir_and_environment_are_read_only_even_to_root(engine, version):
    spec = version.spec()
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b'"probe"', "probe")
    assert result.ok, result
    seen = json.loads(result.output_json)
    if os.getuid() == 0:
        assert seen["uid"] == 0  # the case the file modes alone do not cover
    assert seen["model_read"] == "original weights"
    for what in ("model_file", "model_new", "model_chmod", "site_packages"):
        assert seen[what] in ("EROFS", "EACCES", "EPERM"), (what, seen[what])
    assert seen["remount"] != 0
    # The blob and the environment are unchanged.
    assert version.blob.read_bytes() == b"original weights"
    assert version.store.intact(version.sha)
    assert not (site_packages(version.env.path) / "shared_evil.py").exists()


async def test_the_platform_state_is_out_of_sight_and_tmp_and_home_are_private(engine, version):
    first, second = version.spec(), version.spec()
    await engine.deploy(first)
    await engine.deploy(second)
    one = json.loads((await engine.invoke(first.version_id, b'"probe"', "a")).output_json)
    two = json.loads((await engine.invoke(second.version_id, b'"probe"', "b")).output_json)
    assert one["platform_token"] == "ENOENT" and one["blob_store"] is False
    assert one["tmp"] == one["home"] == one["cwd"] == "done"
    # (A worker forked from the version's template has a folder of its own in that /tmp.)
    assert one["tmpdir"] == "/tmp" or one["tmpdir"].startswith("/tmp/worker-")
    assert one["home_dir"] != two["home_dir"]  # one HOME per worker
    # The worker's /tmp is its own: nothing reached the machine's.
    assert not Path("/tmp/probe-" + first.env["PROBE_ID"]).exists()
    # src/ stays the writable working directory, as in a container, but each worker's own
    # copy: nothing written there reaches the version (shared by its workers and by every
    # user who deploys the same build).
    assert not (first.src_dir / "written-in-src.txt").exists()


def _sleeps(engine, spec) -> list[int]:
    """Host pids of the ``sleep 1000`` processes under the workers of ``spec``."""
    found = []
    for worker in engine.pools[spec.version_id].workers:
        for pid in descendants(worker.pid):
            try:
                if psutil.Process(pid).cmdline() == ["sleep", "1000"]:
                    found.append(pid)
            except psutil.NoSuchProcess:
                pass
    return found


@pytest.mark.parametrize("ending", ["scale-to-zero", "redeploy", "crash", "timeout", "stop"])
async def test_a_detached_child_ends_with_its_worker(engine, version, ending):
    spec = version.spec(idle_seconds=0.5 if ending == "scale-to-zero" else 60, timeout_seconds=1)
    await engine.deploy(spec)
    result = await engine.invoke(spec.version_id, b'"child"', "child")
    assert result.ok, result
    # (Popen returns once the exec began: the child's cmdline may take a moment to show.)
    (child,) = await await_until(lambda: _sleeps(engine, spec))
    assert alive(child)
    if ending == "scale-to-zero":
        await await_until(lambda: engine.status(spec.version_id)["workers"] == 0)
    elif ending == "redeploy":
        successor = version.spec()
        await engine.deploy(successor)
        assert (await engine.invoke(successor.version_id, b'"probe"', "new")).ok
        await engine.undeploy(spec.version_id, drain=True)
    elif ending == "crash":
        assert (await engine.invoke(spec.version_id, b'"crash"', "crash")).status == "crashed"
    elif ending == "timeout":
        assert (await engine.invoke(spec.version_id, b'"hang"', "hang")).status == "timeout"
    else:
        await engine.stop()
    await await_until(lambda: not alive(child), timeout=15)


async def test_detached_children_of_concurrent_workers_all_end(engine, version):
    spec = version.spec(max_workers=2, idle_seconds=60)
    await engine.deploy(spec)
    await asyncio.gather(*(engine.warm(spec.version_id) for _ in range(2)))
    await asyncio.gather(*(engine.invoke(spec.version_id, b'"child"', f"c{n}") for n in range(4)))
    children = await await_until(lambda: _sleeps(engine, spec))
    await engine.undeploy(spec.version_id, drain=True)
    await await_until(lambda: not any(alive(pid) for pid in children), timeout=15)
