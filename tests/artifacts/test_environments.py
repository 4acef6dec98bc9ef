"""Python environments: keyed by Python + normalised requirements, reused, made atomically,
with only the `hub` runtime on their path, and clear errors for what cannot be installed."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from jupyter_hub_api import paths
from jupyter_hub_api.artifacts.environments import (
    current_python,
    ensure_environment,
    environment_key,
    runtime_dir,
)
from jupyter_hub_api.errors import UsageError


def run_in(env, code):
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    proc = subprocess.run(  # noqa: S603
        [str(env.python), "-c", code], capture_output=True, text=True, env=clean, cwd="/"
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_the_key_depends_on_python_and_requirements_not_on_their_spelling():
    a = environment_key("3.11", "Joblib\n# comment\nnumpy>=1\n")
    assert a == environment_key("3.11", "numpy >= 1\njoblib\n")
    assert a != environment_key("3.12", "numpy>=1\njoblib\n")
    assert a != environment_key("3.11", "numpy>=2\njoblib\n")


def test_an_environment_is_made_once_then_reused(hub_home):
    lines = []

    class Collect:
        def log(self, line, stream="stdout"):
            lines.append(line)

    first = ensure_environment(current_python(), "six\n", Collect())
    assert not first.reused
    assert first.path == paths.envs_dir() / first.key
    assert any("six" in line for line in lines)  # the installer's output was streamed
    assert run_in(first, "import six; print('ok')") == "ok"

    again = ensure_environment(current_python(), "six  # same thing\n")
    assert again.reused and again.key == first.key and again.python == first.python
    # no temporary folder was left behind
    assert [p.name for p in paths.envs_dir().iterdir() if not p.name.startswith(".lock-")] == [
        first.key
    ]


def test_the_environment_sees_the_hub_runtime_and_not_the_products_dependencies():
    env = ensure_environment(current_python(), "")
    hub_file = run_in(env, "import hub; print(hub.__file__)")
    assert hub_file.startswith(str(runtime_dir()))
    for module in ("jupyter_hub_api", "click", "jupyter_server", "jsonschema"):
        run_in(env, f"import importlib.util as u; assert u.find_spec({module!r}) is None")


def test_an_unresolvable_requirement_gives_the_resolvers_message_and_leaves_nothing():
    with pytest.raises(UsageError) as err:
        ensure_environment(current_python(), "hub-api-test-no-such-package-4f9c2\n")
    assert err.value.exit_code == 2
    assert err.value.type == "unresolvable_requirements"
    assert "hub-api-test-no-such-package-4f9c2" in str(err.value)
    assert len(str(err.value)) < 700
    assert [p for p in paths.envs_dir().iterdir() if not p.name.startswith(".lock-")] == []


def test_a_python_that_is_not_installed_is_named():
    with pytest.raises(UsageError, match="Python 3.99 is not installed") as err:
        ensure_environment("3.99", "")
    assert err.value.field == "python"


def test_a_stale_temporary_environment_of_a_dead_build_is_swept():
    root = paths.envs_dir()
    stale = root / ".tmp-env-0123456789abcdef-999999999-abcd1234"  # no such pid
    stale.mkdir(parents=True)
    ensure_environment(current_python(), "")
    assert not stale.exists()


def test_an_environment_whose_base_python_vanished_is_made_again():
    env = ensure_environment(current_python(), "")
    (env.path / "bin" / "python").unlink()
    (env.path / "bin" / "python").symlink_to("/nonexistent/python3")
    again = ensure_environment(current_python(), "")
    assert not again.reused and again.path == env.path
    assert run_in(again, "print('alive')") == "alive"
    assert [p.name for p in paths.envs_dir().iterdir() if p.name[0] != "."] == [env.key]
    assert not list(paths.envs_dir().glob(".tmp-*"))


def test_two_makers_of_one_environment_install_it_once():
    import threading

    results, installs = [], []

    class Count:
        def log(self, line, stream="stdout"):
            if "+ six" in line:
                installs.append(line)

    def make():
        results.append(ensure_environment(current_python(), "six\n", Count()))

    threads = [threading.Thread(target=make) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(env.reused for env in results) == [False, True]
    assert len(installs) == 1
    assert not list(paths.envs_dir().glob(".tmp-*"))


def test_another_installed_python_gets_its_own_environment():
    from jupyter_hub_api.artifacts.environments import find_interpreter

    other = next(
        (f"3.{minor}" for minor in range(10, 15) if f"3.{minor}" != current_python()), None
    )
    try:
        find_interpreter(other)
    except UsageError:
        pytest.skip(f"no Python {other} on this machine besides {current_python()}")
    env = ensure_environment(other, "")
    assert run_in(env, "import sys, hub; print('%d.%d' % sys.version_info[:2])") == other
    assert env.key != ensure_environment(current_python(), "").key


def test_without_uv_venv_and_pip_make_the_environment(monkeypatch):
    from jupyter_hub_api.artifacts import environments

    monkeypatch.setattr(environments, "_uv_bin", lambda: None)  # as on a machine without uv
    lines = []

    class Collect:
        def log(self, line, stream="stdout"):
            lines.append(line)

    env = ensure_environment(current_python(), "six\n", Collect())
    assert not env.reused
    assert run_in(env, "import six, hub; print('ok')") == "ok"
    assert any("six" in line for line in lines)  # pip's own output was streamed


# -- requirements as pip reads them, installed for real ------------------------------------


def _wheel(folder, name, version="1.0"):
    """A tiny pure-Python wheel made on the spot; returns (path, sha256)."""
    import base64
    import hashlib
    import zipfile

    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{name}-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ),
        f"{name}-{version}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel, hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_a_requirements_file_with_pips_options_includes_markers_and_hashes_installs(tmp_path):
    from jupyter_hub_api.project.requirements import project_requirements

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _, alpha = _wheel(wheels, "hubtest_alpha")
    _, beta = _wheel(wheels, "hubtest_beta", "2.0")
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "requirements.txt").write_text(
        "# only what the local folder of wheels has: nothing from the network\n"
        f"--no-index\n--find-links {wheels}\n-r ../common.txt\n"
        f"hubtest-alpha==1.0 ; python_version >= '3.8' \\\n    --hash=sha256:{alpha}\n"
        "never-installed ; python_version < '3'\n"
    )
    (root / "common.txt").write_text(f"Hubtest_Beta>=2 --hash=sha256:{beta}\n")
    requirements = project_requirements(root, {"base_packages": False})
    env = ensure_environment(current_python(), requirements)
    assert run_in(env, "import hubtest_alpha, hubtest_beta; print(hubtest_beta.VERSION)") == "2.0"


def _install_failure(requirements):
    from jupyter_hub_api.errors import HubError

    with pytest.raises(HubError) as err:
        ensure_environment(current_python(), requirements)
    assert [p for p in paths.envs_dir().iterdir() if not p.name.startswith(".lock-")] == []
    message = err.value.message
    assert message.count(". ") == 0 and message.endswith(".") and len(message) < 300, message
    return err.value


@pytest.mark.parametrize(
    "requirements, line",
    [
        ("six\ngit+https://127.0.0.1:1/hub/CLIP.git\n", "git+https://127.0.0.1:1/hub/CLIP.git"),
        (
            "clip @ git+https://127.0.0.1:1/hub/CLIP.git\n",
            "clip @ git+https://127.0.0.1:1/hub/CLIP.git",
        ),
        ("--index-url http://127.0.0.1:1/simple\nsix\n", "--index-url http://127.0.0.1:1/simple"),
    ],
)
def test_a_host_that_cannot_be_reached_is_one_sentence_naming_the_line(requirements, line):
    error = _install_failure(requirements)
    assert f"`{line}`" in error.message
    assert "127.0.0.1:1 cannot be reached" in error.message
    assert error.exit_code == 1 and error.field == "src/requirements.txt"


def test_a_version_that_does_not_exist_is_one_sentence_naming_the_line():
    error = _install_failure("six\nnumpy==0.0.1\n")
    assert error.message == (
        "The requirement `numpy==0.0.1` cannot be installed: no released version matches "
        "numpy==0.0.1 for this Python."
    )
    assert error.exit_code == 2 and error.type == "unresolvable_requirements"


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="Django 6.0 installs on Python 3.12+")
def test_a_version_only_for_a_newer_python_is_one_sentence_naming_the_line():
    error = _install_failure("django==6.0\n")
    assert error.message == (
        "The requirement `django==6.0` cannot be installed: it needs Python>=3.12, and the "
        f"API's Python is {platform.python_version()}."
    )
