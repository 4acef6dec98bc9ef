"""`hub build` through the real CLI: validation, the cache behaviour, clean failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from jupyter_hub_api import paths
from jupyter_hub_api.artifacts.docker import engine_available
from jupyter_hub_api.processes import pid_alive

HUB = str(Path(sys.executable).with_name("hub"))  # the venv's console script


@pytest.fixture
def blank(hub, tmp_path):
    """A fresh blank project (no requirements: its environment is made in a blink)."""
    assert hub("init", "blank-api", "--dir", str(tmp_path)).code == 0
    return tmp_path / "blank-api"


def blob_files():
    root = paths.blobs_dir() / "sha256"
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def env_entries() -> list[str]:
    """What is in the environments folder (lock files aside: they are empty and harmless)."""
    return sorted(p.name for p in paths.envs_dir().iterdir() if not p.name.startswith(".lock-"))


def last_build_id(project: Path) -> str | None:
    marker = project / ".hub" / "last-build"
    return marker.read_text().strip() if marker.exists() else None


def test_sklearn_rebuilds_copy_no_model_byte_and_install_nothing(hub, tmp_path, iris_model):
    assert (
        hub("init", "iris", "-t", "sklearn", "-m", str(iris_model), "--dir", str(tmp_path)).code
        == 0
    )
    project = tmp_path / "iris"

    first = hub("build", "--json", cwd=project)
    assert first.code == 0, first.stdout + first.stderr
    r1 = first.result
    assert r1["env_reused"] is False and r1["code_changed"] is True
    assert r1["model_bytes_written"] == r1["model_bytes"] == iris_model.stat().st_size
    assert any("scikit-learn" in e["line"] for e in first.of("log"))  # installer output streamed
    assert [e["name"] for e in first.of("step") if e["status"] == "done"] == [
        "validate",
        "store-files",
        "environment",
        "record",
    ]
    record = json.loads((paths.builds_dir() / f"{r1['build_id']}.json").read_text())
    assert record["name"] == "iris" and record["environment"]["key"] == r1["env_key"]
    assert [e["path"] for e in record["model"]] == ["iris-tree.joblib"]
    assert {e["path"] for e in record["code"]} == {"main.py", "requirements.txt", "utils.py"}
    assert last_build_id(project) == r1["build_id"]
    blobs = blob_files()

    # Nothing changed: same build, no model byte copied, nothing installed, no blob touched.
    second = hub("build", "--json", cwd=project)
    assert second.code == 0
    r2 = second.result
    assert r2["build_id"] == r1["build_id"]
    assert r2["env_reused"] is True and r2["code_changed"] is False
    assert r2["model_bytes_written"] == 0 and r2["code_bytes_written"] == 0
    assert not any("Installed" in e["line"] or "+ scikit" in e["line"] for e in second.of("log"))
    assert blob_files() == blobs

    # Only main.py changed: the code is rebuilt, the environment and model are reused.
    main = project / "src" / "main.py"
    main.write_text(main.read_text() + "\n# a comment changes the code\n")
    third = hub("build", "--json", cwd=project)
    assert third.code == 0
    r3 = third.result
    assert r3["build_id"] != r1["build_id"]
    assert r3["env_reused"] is True and r3["env_key"] == r1["env_key"]
    assert r3["code_changed"] is True
    assert r3["model_bytes_written"] == 0 and r3["code_bytes_written"] == main.stat().st_size
    assert last_build_id(project) == r3["build_id"]
    assert len(blob_files()) == len(blobs) + 1  # just the new main.py

    # Only a runtime setting changed: a new build (deploy rolls it out), nothing else redone.
    config = json.loads((project / "hub_config.json").read_text())
    config["runtime"]["timeout_seconds"] = 5
    (project / "hub_config.json").write_text(json.dumps(config))
    fourth = hub("build", "--json", cwd=project)
    r4 = fourth.result
    assert r4["build_id"] != r3["build_id"] and r4["env_reused"] is True
    assert r4["model_bytes_written"] == 0 and r4["code_changed"] is False
    stored = json.loads((paths.builds_dir() / f"{r4['build_id']}.json").read_text())
    assert stored["config"]["runtime"]["timeout_seconds"] == 5


def test_build_for_a_person_shows_named_steps_without_traceback(hub, blank):
    run = hub("build", cwd=blank)
    assert run.code == 0, run.stderr
    for title in ("Checking the project", "Storing code and model files", "Recording the build"):
        assert title in run.stdout
    assert "Next: hub deploy" in run.stdout


def test_build_takes_the_project_path_as_an_argument(hub, blank, tmp_path):
    run = hub("build", str(blank), "--json", cwd=tmp_path)
    assert run.code == 0 and run.result["project"] == str(blank)


def test_outside_a_project_it_says_where_to_run(hub, tmp_path):
    run = hub("build", "--json", cwd=tmp_path)
    assert run.code == 2
    assert run.error["type"] == "not_a_project"
    assert "run it in the folder that holds hub_config.json" in run.error["message"].lower()


def test_inside_a_subfolder_it_points_at_the_project(hub, blank):
    run = hub("build", cwd=blank / "src")
    assert run.code == 2
    assert str(blank) in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize(
    "config, field",
    [
        (
            '{"name": "blank-api", "version": "1", "runtime": {"max_workers": -1}}',
            "runtime.max_workers",
        ),
        ('{"name": "Blank API", "version": "1"}', "name"),
        ('{"version": "1"}', "name"),
        ('{"name": "blank-api", "version": "1",}', None),
    ],
)
def test_a_broken_config_exits_2_naming_the_field(hub, blank, config, field):
    (blank / "hub_config.json").write_text(config)
    run = hub("build", "--json", cwd=blank)
    assert run.code == 2
    assert run.error["type"] == "bad_config"
    assert run.error.get("field") == field
    if field:
        assert field in run.error["message"]
    assert last_build_id(blank) is None


def test_a_minimal_config_of_the_hosted_guide_builds(hub, blank):
    (blank / "hub_config.json").write_text('{"name": "blank-api", "version": "0.0.1"}')
    run = hub("build", "--json", cwd=blank)
    assert run.code == 0, run.stdout
    record = json.loads((paths.builds_dir() / f"{run.result['build_id']}.json").read_text())
    assert record["config"]["runtime"]["idle_seconds"] > 0  # defaults recorded for the platform


@pytest.mark.parametrize(
    "source, kind",
    [
        ("def inference_handler(inputs, context):\n    return inputs\n", "no_handler"),
        (
            "from hub import hub_handler\n@hub_handler\ndef a(i, c): pass\n@hub_handler\ndef b(i, c): pass\n",
            "two_handlers",
        ),
    ],
)
def test_handler_problems_exit_2(hub, blank, source, kind):
    (blank / "src" / "main.py").write_text(source)
    run = hub("build", "--json", cwd=blank)
    assert run.code == 2 and run.error["type"] == kind


def test_an_unresolvable_requirement_exits_2_and_keeps_the_previous_build(hub, blank):
    good = hub("build", "--json", cwd=blank)
    assert good.code == 0
    envs_before = env_entries()
    (blank / "src" / "requirements.txt").write_text("hub-api-test-no-such-package-7d1e0\n")
    run = hub("build", "--json", cwd=blank)
    assert run.code == 2
    assert run.error["type"] == "unresolvable_requirements"
    assert "hub-api-test-no-such-package-7d1e0" in run.error["message"]
    assert last_build_id(blank) == good.result["build_id"]
    assert env_entries() == envs_before


def test_an_unparseable_requirement_exits_2_with_its_line(hub, blank):
    (blank / "src" / "requirements.txt").write_text("numpy\nnot a requirement!\n")
    run = hub("build", "--json", cwd=blank)
    assert run.code == 2 and "line 2" in run.error["message"]


def test_a_python_that_is_not_installed_exits_2_and_says_so(hub, blank):
    (blank / "hub_config.json").write_text(
        '{"name": "blank-api", "version": "1", "python": "3.99"}'
    )
    run = hub("build", "--json", cwd=blank)
    assert run.code == 2
    assert "Python 3.99 is not installed" in run.error["message"]


def test_a_model_folder_with_a_directory_loop_exits_2(hub, blank):
    os.symlink("..", blank / "model" / "parent")
    run = hub("build", "--json", cwd=blank)
    assert run.code == 2 and run.error["type"] == "directory_loop"


def test_image_is_built_or_plainly_skipped(hub, blank):
    run = hub("build", "--image", "--json", cwd=blank)
    ok, _ = engine_available()
    if ok:
        assert run.code == 0 and run.result["image"]
    else:
        assert run.code == 0
        assert run.result["image"] is None
        assert run.result["image_skipped"].startswith("Skipped the Docker image")


def _slow_sdist(tmp_path: Path, marker: Path) -> Path:
    """An sdist whose in-tree build backend signals that it started, then takes a minute."""
    src = tmp_path / "slowpkg-src" / "hub_test_slow-1.0"
    src.mkdir(parents=True)
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "slow_backend"\nbackend-path = ["."]\n\n'
        '[project]\nname = "hub-test-slow"\nversion = "1.0"\n'
    )
    (src / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: hub-test-slow\nVersion: 1.0\n")
    (src / "slow_backend.py").write_text(
        "import os, pathlib, time\n"
        f"pathlib.Path({str(marker)!r}).write_text(str(os.getpid()))\n"
        "time.sleep(120)\n"
    )
    sdist = tmp_path / "hub_test_slow-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        tar.add(src, arcname=src.name)
    return sdist


def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    "signum, group, inherited",
    [
        (signal.SIGINT, True, signal.SIG_DFL),
        # A script's background job (and so a test run started as one) inherits an ignored
        # SIGINT: Ctrl-C was then lost until the build backend gave up minutes later.
        (signal.SIGINT, True, signal.SIG_IGN),
        (signal.SIGTERM, True, signal.SIG_DFL),
        # `kill <pid of hub>`: hub alone is told, and must end the installer's children too.
        (signal.SIGTERM, False, signal.SIG_DFL),
    ],
    ids=["ctrl-c", "ctrl-c-sigint-ignored", "job-cancel", "kill-hub-only"],
)
def test_interrupting_the_install_keeps_the_previous_build_and_no_half_environment(
    hub, blank, tmp_path, signum, group, inherited
):
    good = hub("build", "--json", cwd=blank)
    assert good.code == 0
    envs_before = env_entries()
    builds_before = sorted(p.name for p in paths.builds_dir().iterdir())

    marker = tmp_path / "install-started"
    sdist = _slow_sdist(tmp_path, marker)
    (blank / "src" / "requirements.txt").write_text(f"hub-test-slow @ {sdist.as_uri()}\n")
    (blank / "src" / "main.py").write_text((blank / "src" / "main.py").read_text() + "\n# v2\n")

    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    # Its own process group, like a terminal's foreground job: Ctrl-C reaches the whole group.
    proc = subprocess.Popen(  # noqa: S603
        [HUB, "build", "--json"],
        cwd=blank,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_ignore_sigint if inherited == signal.SIG_IGN else None,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() or not marker.read_text():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the install never started"
            time.sleep(0.1)
        backend = int(marker.read_text())
        assert any(p.name.startswith(".tmp-") for p in paths.envs_dir().iterdir())
        if group:
            os.killpg(proc.pid, signum)
        else:
            os.kill(proc.pid, signum)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group is left
        except ProcessLookupError:
            pass
        proc.wait()

    assert proc.returncode == 130
    # Nothing the installer started outlives hub (the build backend was told to stop too).
    deadline = time.monotonic() + 30
    while pid_alive(backend) and _not_a_zombie(backend):
        assert time.monotonic() < deadline, "the build backend outlived hub build"
        time.sleep(0.1)
    events = [json.loads(line) for line in stdout.splitlines()]
    assert events[-1]["event"] == "error" and events[-1]["type"] == "interrupted"
    assert {"event": "step", "name": "environment", "status": "failed"}.items() <= next(
        e for e in events if e.get("name") == "environment" and e.get("status") == "failed"
    ).items()
    # The previous good build is still the last build; no half environment, no new record.
    assert last_build_id(blank) == good.result["build_id"]
    assert env_entries() == envs_before
    assert sorted(p.name for p in paths.builds_dir().iterdir()) == builds_before


def _not_a_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_build_deploy_makes_the_api_answer(hub, tmp_path, monkeypatch):
    """`hub build -d` as in the guide: build, then deploy to the embedded platform (started on
    a free loopback port), then the API answers. (The blank template keeps it light: the
    scikit-learn handler is run in its environment by tests/project/test_templates_run.py.)"""
    monkeypatch.setenv("HUB_PLATFORM_URL", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.delenv("HUB_PLATFORM_TOKEN", raising=False)
    assert hub("init", "echo", "--dir", str(tmp_path)).code == 0
    project = tmp_path / "echo"
    try:
        run = hub("build", "-d", "--json", cwd=project)
        assert run.code == 0, run.stdout[-2000:] + run.stderr[-2000:]
        result = run.result
        assert result["build_id"] == last_build_id(project)
        assert result["deploy"]["endpoint"].endswith("/echo")
        assert result["endpoint"] == result["deploy"]["endpoint"]
        answer = hub("invoke", "echo", '{"text": "hi"}', "--json")
        assert answer.code == 0, answer.stdout + answer.stderr
        assert answer.result["output"] == {"echo": {"text": "hi"}}
    finally:
        stopped = hub("platform", "stop")
        state = paths.platform_dir() / "platform.json"
        if stopped.code != 0 and state.exists():
            # Never leave the platform this test started running: kill it by its pid, after
            # checking that pid is still that platform process.
            pid = json.loads(state.read_text()).get("pid")
            cmdline = Path(f"/proc/{pid}/cmdline")
            if cmdline.exists() and b"jupyter_hub_api.platform" in cmdline.read_bytes():
                os.kill(pid, signal.SIGKILL)
