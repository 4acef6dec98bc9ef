"""A built environment is finalized read-only: shared by every API with the same requirements,
it must not change after its build (what its key promises). File modes stop any worker that is
not root; the sandbox's read-only mount stops root too (tests/engines/test_sandbox.py).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from jupyter_hub_api.artifacts.environments import current_python, ensure_environment, site_packages


def test_no_file_of_a_built_environment_is_writable():
    env = ensure_environment(current_python(), "")
    writable = [
        path
        for path in env.path.rglob("*")
        if not path.is_symlink() and path.is_file() and path.stat().st_mode & 0o222
    ]
    assert writable == []
    assert ensure_environment(current_python(), "").reused  # and it is still reused as it is


SYSTEM_PYTHON = "/usr/bin/python3"  # "nobody" may not read the test's own interpreter

# Appends to each file named in argv, opened relative to the inherited folder descriptor 3
# (so the test's private temporary folders need not be opened up to "nobody").
TRY_WRITES = """
import os, sys
for name in sys.argv[1:]:
    try:
        os.close(os.open(name, os.O_WRONLY | os.O_APPEND, dir_fd=3))
        print("written")
    except PermissionError:
        print("refused")
"""


@pytest.mark.skipif(
    os.getuid() != 0 or not os.path.exists(SYSTEM_PYTHON),
    reason="needs root (to act as another user) and a system python3",
)
def test_a_worker_running_as_its_owner_cannot_change_its_files():
    env = ensure_environment(current_python(), "")
    # A platform (and its workers) running as an ordinary user owns the environments it made.
    for path in [env.path, *env.path.rglob("*")]:
        os.lchown(path, 65534, 65534)
    names = ["pyvenv.cfg", os.path.relpath(site_packages(env.path) / "_hub_runtime.pth", env.path)]
    before = [(env.path / n).read_bytes() for n in names]
    folder = os.open(env.path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        proc = subprocess.run(
            [SYSTEM_PYTHON, "-c", TRY_WRITES, *names],
            capture_output=True,
            text=True,
            pass_fds=(3,),  # kept open in the child: preexec_fn puts the folder there
            preexec_fn=lambda: (os.dup2(folder, 3), os.setgid(65534), os.setuid(65534)),
            timeout=60,
        )
    finally:
        os.close(folder)
    assert proc.stdout.split() == ["refused", "refused"], proc.stderr
    assert [(env.path / n).read_bytes() for n in names] == before
    # (Adding a file is stopped by the sandbox's read-only mount, not by modes: the owner keeps
    # its folders writable so the runtime's .pth can be replaced and the environment deleted.)
