"""Escapes tried by a tenant, the way one would: a second user of a real platform (created with
``POST /api/v1/users``) deploys a handler with the real CLI and calls it through the gateway;
the handler tries to reach what belongs to the platform and to the first user. Every attempt
must fail, and the first user's API must keep serving unchanged.

What the handler tries (``ATTACK``): read the platform's owner token, its secret key and its
database; read the owner's model file and source, and the blob store; write outside its own
folders (the machine's files, the platform's data directory, the owner's version, its own
version's ``src/`` as other workers see it); signal the owner's worker and read its
``/proc/<pid>/environ`` and ``cmdline``; find any token in its environment or the files it can
see; call the control plane without a token; read the owner's HOME, ``/root`` and
``/etc/shadow``.

The same platform's plan limits of a worker (``worker_processes``, ``worker_open_files``,
``worker_cpu_seconds``) are met by a third user's API. One platform for both tests: one
environment build.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
import requests
from platform_helpers import PlatformProcess

from jupyter_hub_api.platform.engines.sandbox import bwrap_usable
from jupyter_hub_api.platform.service import DB_FILE, SECRET_FILE, TOKEN_FILE

pytestmark = pytest.mark.skipif(
    bwrap_usable() is None,
    reason="bubblewrap is not installed here (scripts/setup.sh: apt-get install bubblewrap)",
)

OWNER_MAIN = """
import os
from hub import hub_handler

WORKER = (os.getpid(), os.getuid())

@hub_handler
def inference_handler(inputs, context):
    if inputs == "who":
        return list(WORKER)
    return open(os.path.join(os.environ["MODEL_DIR"], "weights.txt")).read()
"""

ATTACK = r"""
import errno, json, os, signal, urllib.error, urllib.request
from hub import hub_handler


def outcome(action):
    try:
        value = action()
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return "done" if value is None else value


def read(path):
    with open(path, "rb") as f:
        return "read %d bytes" % len(f.read())


def write(path, text="written by the tenant"):
    with open(path, "w") as f:
        f.write(text)


def listing(path):
    return sorted(os.listdir(path))


def http(url, token=None):
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def visible_processes():
    seen = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/cmdline" % name, "rb") as f:
                    seen.append(f.read().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return seen


def strings_found(roots, needles):
    # Every file a tenant can read under ``roots`` (small ones), searched for the secrets.
    found = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(folder, name)
                try:
                    if os.path.getsize(path) > 1_000_000:
                        continue
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                found += [path for needle in needles if needle.encode() in data]
    return found


@hub_handler
def inference_handler(inputs, context):
    t = inputs
    model = os.environ["MODEL_DIR"]
    if t == "own":
        return open(os.path.join(model, "mine.txt")).read()
    pid = t["owner_pid"]
    results = {
        "uid": os.getuid(),
        "token": outcome(lambda: read(t["token"])),
        "secret_key": outcome(lambda: read(t["secret_key"])),
        "database": outcome(lambda: read(t["database"])),
        "platform_dir": outcome(lambda: listing(t["platform_dir"])),
        "versions": outcome(lambda: listing(os.path.join(t["platform_dir"], "versions"))),
        "owner_model": outcome(lambda: read(t["owner_model"])),
        "owner_src": outcome(lambda: read(t["owner_src"])),
        "blob_store": outcome(lambda: listing(t["blobs"])),
        "owner_home": outcome(lambda: read(t["owner_home_file"])),
        "root_home": outcome(lambda: listing("/root")),
        "shadow": outcome(lambda: read("/etc/shadow")),
        "write_etc": outcome(lambda: write("/etc/hub-tenant-was-here")),
        "write_usr": outcome(lambda: write("/usr/hub-tenant-was-here")),
        "write_hub_home": outcome(lambda: write(os.path.join(t["hub_home"], "evil.txt"))),
        "write_platform_dir": outcome(lambda: write(os.path.join(t["platform_dir"], "evil"))),
        "write_owner_src": outcome(lambda: write(t["owner_src"])),
        "write_owner_home": outcome(lambda: write(t["owner_home_file"])),
        "write_var_tmp": outcome(lambda: write(t["var_tmp_file"])),
        "write_own_src": outcome(lambda: write(os.path.join(os.getcwd(), "main.py"), "x = 1")),
        "sysrq": outcome(lambda: os.close(os.open("/proc/sysrq-trigger", os.O_WRONLY))),
        "kill_owner": outcome(lambda: os.kill(pid, signal.SIGKILL)),
        "owner_environ": outcome(lambda: read("/proc/%d/environ" % pid)),
        "owner_cmdline": outcome(lambda: read("/proc/%d/cmdline" % pid)),
        "processes": visible_processes(),
        "control_no_token": http(t["control"]),
        "control_bad_token": http(t["control"], "not-a-token"),
        "secrets_in_env": [k for k, v in os.environ.items() if v in t["needles"]],
        "secrets_in_files": strings_found(
            [t["hub_home"], os.environ["HOME"], "/tmp", os.getcwd(), "/var/tmp"], t["needles"]
        ),
    }
    return results
"""


LIMITED_MAIN = """
import errno, os, time
from hub import hub_handler


@hub_handler
def inference_handler(inputs, context):
    if inputs == "fork-bomb":
        read, write = os.pipe()
        children, failure = [], None
        for _ in range(500):
            try:
                pid = os.fork()
            except OSError as exc:
                failure = errno.errorcode.get(exc.errno)
                break
            if pid == 0:  # a child waits until the bomb is over, then leaves
                os.close(write)
                os.read(read, 1)
                os._exit(0)
            children.append(pid)
        os.close(write)
        for pid in children:
            os.waitpid(pid, 0)
        return {"forked": len(children), "failure": failure}
    if inputs == "open-files":
        held = []
        for _ in range(10_000):
            held.append(open(os.devnull))
        return len(held)
    if inputs == "spin":
        while True:
            pass
    return "ok"
"""


PROCESSES, OPEN_FILES, CPU_SECONDS = 24, 64, 2


@pytest.fixture(scope="module")
def shared_platform(tmp_path_factory):
    """A real platform whose owner (alice) has a HOME outside /tmp with a private file; bob
    and carol (added by the tests) are on a plan with worker limits."""
    owner_home = Path(tempfile.mkdtemp(prefix="tenants-owner-home-", dir="/var/tmp"))
    (owner_home / "notes.txt").write_text("alice's private notes")
    (owner_home / "notes.txt").chmod(0o600)
    home = tmp_path_factory.mktemp("platform-home")
    unlimited = {"rate_limit_per_second": 0, "monthly_calls": None}
    limited = {
        **unlimited,
        "worker_processes": PROCESSES,
        "worker_open_files": OPEN_FILES,
        "worker_cpu_seconds": CPU_SECONDS,
    }
    config = {
        "plans": {"free": unlimited, "limited": limited},
        "users": {"bob": {"plan": "limited"}, "carol": {"plan": "limited"}},
    }
    proc = PlatformProcess(home, config)
    proc.env["HOME"] = str(owner_home)
    proc.owner_home = owner_home
    proc.start()
    yield proc
    proc.stop()
    shutil.rmtree(owner_home, ignore_errors=True)


def _worker_of(platform: PlatformProcess, api: str) -> psutil.Process:
    """The host process of the (only) worker of ``api`` (its python, inside the sandbox)."""
    for proc in psutil.Process(platform.proc.pid).children(recursive=True):
        try:
            cmd = proc.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "hub._worker" in cmd and api in cmd and "bwrap" not in os.path.basename(cmd[0]):
            return proc
    raise AssertionError(f"no worker of {api} is running")


def test_a_tenant_reaches_nothing_of_the_platform_or_of_other_users(shared_platform):
    platform = shared_platform
    owner_project = platform.make_project(
        "weights",
        main_py=OWNER_MAIN,
        runtime={"min_workers": 1, "max_workers": 1},
        model_files={"weights.txt": b"alice's secret weights"},
    )
    owner_endpoint = platform.deploy(owner_project)["endpoint"]
    owner_headers = {"x-api-key": platform.key()}
    before = requests.post(owner_endpoint, json="who", headers=owner_headers, timeout=60)
    assert before.status_code == 200, before.text

    bob = platform.add_user("bob")
    attacker = platform.make_project(
        "attack", main_py=ATTACK, model_files={"mine.txt": b"bob's own model"}
    )
    bob_endpoint = platform.deploy(attacker, token=bob)["endpoint"]
    bob_headers = {"x-api-key": platform.key(bob)}

    # The sandbox leaves a tenant's own API working: it reads its own model file.
    own = requests.post(bob_endpoint, json="own", headers=bob_headers, timeout=60)
    assert own.json()["body"]["output"] == "bob's own model", own.text

    state = platform.home / "platform"
    versions = sorted((state / "versions").iterdir())
    owner_version = next(v for v in versions if (v / "model" / "weights.txt").exists())
    bob_version = next(v for v in versions if (v / "model" / "mine.txt").exists())
    owner_worker = _worker_of(platform, "alice/weights")
    var_tmp_file = Path(tempfile.mkdtemp(prefix="tenants-", dir="/var/tmp")) / "x"
    needles = [
        platform.token,
        (state / SECRET_FILE).read_bytes().hex()[:32],
        platform.key(),
        "alice's secret weights",
        "alice's private notes",
    ]
    targets = {
        "token": str(state / TOKEN_FILE),
        "secret_key": str(state / SECRET_FILE),
        "database": str(state / DB_FILE),
        "platform_dir": str(state),
        "hub_home": str(platform.home),
        "blobs": str(platform.home / "blobs"),
        "owner_model": str(owner_version / "model" / "weights.txt"),
        "owner_src": str(owner_version / "src" / "main.py"),
        "owner_home_file": str(platform.owner_home / "notes.txt"),
        "var_tmp_file": str(var_tmp_file),
        "owner_pid": owner_worker.pid,
        "control": f"{platform.url}/api/v1/apis",
        "needles": [n for n in needles if n],
    }
    try:
        resp = requests.post(bob_endpoint, json=targets, headers=bob_headers, timeout=120)
        assert resp.status_code == 200, resp.text
        seen = resp.json()["body"]["output"]
        print(json.dumps(seen, indent=1))

        denied = ("ENOENT", "EACCES", "EPERM", "EROFS")
        for what in (
            "token", "secret_key", "database", "owner_model", "owner_src", "owner_home",
            "shadow", "write_etc", "write_usr", "write_hub_home", "write_platform_dir",
            "write_owner_src", "write_owner_home", "write_var_tmp", "sysrq",
            "owner_environ", "owner_cmdline",
        ):  # fmt: skip
            assert seen[what] in denied, (what, seen[what])
        # Listings that succeed show nothing of the data directory or of root's HOME: only
        # the folders leading to the tenant's own mounts (its version, its scratch).
        assert seen["blob_store"] in denied or seen["blob_store"] == [], seen["blob_store"]
        # (/root shows at most the folder leading to the Python the environment was made from.)
        python_in_root = (
            {Path(sys.base_prefix).parts[2]} if sys.base_prefix.startswith("/root/") else set()
        )
        assert seen["root_home"] in denied or set(seen["root_home"]) <= python_in_root
        assert seen["platform_dir"] in denied or set(seen["platform_dir"]) <= {
            "versions",
            "workers",
        }, seen["platform_dir"]
        assert seen["versions"] in denied or seen["versions"] == [bob_version.name]
        # The owner's worker is out of reach: another PID namespace (and another uid).
        assert seen["kill_owner"] in ("ESRCH", "EPERM"), seen["kill_owner"]
        assert not [cmd for cmd in seen["processes"] if "alice/" in cmd], seen["processes"]
        assert seen["control_no_token"] == 401 and seen["control_bad_token"] == 401
        assert seen["secrets_in_env"] == [] and seen["secrets_in_files"] == []
        # With a root platform the tenant runs as a uid of its own, neither root nor the owner's.
        if os.getuid() == 0:
            assert seen["uid"] not in (0, before.json()["body"]["output"][1])

        # Nothing the tenant wrote reached the machine, the data directory or a version.
        assert not Path("/etc/hub-tenant-was-here").exists()
        assert not Path("/usr/hub-tenant-was-here").exists()
        assert not (platform.home / "evil.txt").exists() and not (state / "evil").exists()
        assert not var_tmp_file.exists()
        assert (owner_version / "src" / "main.py").read_text() == OWNER_MAIN
        mine = (bob_version / "src" / "main.py").read_text()
        assert mine == (attacker / "src" / "main.py").read_text()  # its write stayed its own
        assert (platform.owner_home / "notes.txt").read_text() == "alice's private notes"
    finally:
        shutil.rmtree(var_tmp_file.parent, ignore_errors=True)

    # The owner's API kept its worker (same pid, never signalled) and serves its model.
    assert owner_worker.is_running()
    after = requests.post(owner_endpoint, json="who", headers=owner_headers, timeout=60)
    assert after.json()["body"]["output"] == before.json()["body"]["output"]
    weights = requests.post(owner_endpoint, json="read", headers=owner_headers, timeout=60)
    assert weights.json()["body"]["output"] == "alice's secret weights"


def test_the_plan_caps_processes_open_files_and_cpu_time(shared_platform):
    """A fork bomb is capped (EAGAIN past the plan's processes: counted per tenant uid, so only
    on a root platform), a handler opening too many files gets "Too many open files", a CPU
    spinner is stopped past its CPU time with a 502 naming the limit; the next call is served.
    """
    platform = shared_platform
    carol = platform.add_user("carol")
    project = platform.make_project(
        "limited", main_py=LIMITED_MAIN, runtime={"timeout_seconds": 60}
    )
    endpoint = platform.deploy(project, token=carol)["endpoint"]
    headers = {"x-api-key": platform.key(carol)}

    def call(what: str) -> requests.Response:
        return requests.post(endpoint, json=what, headers=headers, timeout=120)

    assert call("hello").json()["body"]["output"] == "ok"

    if os.getuid() == 0:  # a uid per tenant: the process limit counts carol's processes only
        bomb = call("fork-bomb")
        assert bomb.status_code == 200, bomb.text
        outcome = bomb.json()["body"]["output"]
        assert outcome["failure"] == "EAGAIN" and outcome["forked"] < PROCESSES, outcome

    files = call("open-files")
    assert files.status_code == 500, files.text
    assert "Too many open files" in files.json()["body"]["error"]["message"]

    spun = call("spin")
    assert spun.status_code == 502, spun.text
    error = spun.json()["body"]["error"]
    assert error["type"] == "CpuLimit", error
    assert f"more than {CPU_SECONDS} s of CPU time" in error["message"]
    assert "worker_cpu_seconds" in error["message"]

    # The worker was replaced: the next call is served.
    assert call("hello").json()["body"]["output"] == "ok"
