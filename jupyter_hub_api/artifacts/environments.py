"""Python environments for APIs, made once per (Python version, requirements) and then reused.

An environment lives in ``paths.envs_dir()/<key>`` where ``key = environment_key(python,
requirements)``: the sha256 of the Python ``major.minor`` and the *normalised* requirements. A
build whose requirements did not change finds its environment there and installs nothing.

Making one is atomic: the environment is created in ``envs/.tmp-env-<key>-<pid>-<random>`` and renamed to its
key only when the install succeeded, so an interrupted or failed install never leaves a
half-made environment under a real key. ``uv`` (a dependency of this package) creates it
(``uv venv --relocatable``, so the rename does not break its scripts) and installs into it,
fast because it links packages from its user cache; plain ``venv`` + ``pip`` is the fallback.

Every environment also sees the **runtime**: a folder that holds only the top-level ``hub``
package (copied, by content hash, to ``$HUB_HOME/runtime/<hash>/``) is put on its path by a
``_hub_runtime.pth`` file in its site-packages, never the product's own dependencies.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..errors import UsageError, WorkError
from ..processes import pid_alive
from ..project.requirements import normalise_requirements, requirement_names

# Bump when the way environments are made changes, so old ones are not reused by mistake.
ENV_FORMAT = "hub-env-1"
MARKER = "hub-env.json"
RUNTIME_PTH = "_hub_runtime.pth"
_VERSION_RE = re.compile(r"^3\.\d{1,2}$")


@dataclass(frozen=True)
class Environment:
    """A ready Python environment.

    ``key`` names it, ``path`` is its folder, ``python`` the interpreter inside it (run the
    worker with that), ``version`` the Python ``major.minor`` and ``reused`` says whether it
    already existed (nothing was installed).
    """

    key: str
    path: Path
    python: Path
    version: str
    requirements: str
    reused: bool


def current_python() -> str:
    """The running interpreter's ``major.minor``, the default Python of a project."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def environment_key(python: str, requirements: str) -> str:
    """The key of the environment for Python ``python`` (``"3.11"``) and a requirements text."""
    normalised = normalise_requirements(requirements)
    payload = f"{ENV_FORMAT}\npython {python}\n{normalised}"
    return hashlib.sha256(payload.encode()).hexdigest()


def ensure_environment(python: str, requirements: str, out=None) -> Environment:
    """Return the environment for ``python`` + ``requirements``, making it if needed.

    ``out`` (an ``events.EventSink``) receives the installer's lines as ``log`` events. Raises
    :class:`UsageError` when that Python is not installed here or a requirement cannot be
    resolved (with the resolver's own message, shortened), :class:`WorkError` when the install
    fails otherwise. Ctrl-C while installing leaves nothing behind.
    """
    python = str(python)
    if not _VERSION_RE.match(python):
        raise UsageError(
            f"Python version {python!r} is not of the form major.minor.",
            type="bad_config",
            field="python",
            hint='Set "python" in hub_config.json to e.g. "3.11".',
        )
    normalised = normalise_requirements(requirements)
    key = environment_key(python, normalised)
    root = paths.envs_dir()
    final = root / key
    env = _reuse(final, key, python, normalised)
    if env is not None:
        return env

    root.mkdir(parents=True, exist_ok=True)
    # One maker per key at a time (two deploys of one project, a build beside the platform):
    # the second waits, then finds the environment made and reuses it.
    with open(root / f".lock-{key[:16]}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        env = _reuse(final, key, python, normalised)
        if env is not None:
            return env
        _sweep_stale_tmp(root)
        interpreter = find_interpreter(python)
        tmp = root / _tmp_name("env", key)
        try:
            _create(tmp, interpreter, normalised, out)
            marker = {
                "key": key,
                "python": python,
                "requirements": normalised,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "format": ENV_FORMAT,
            }
            (tmp / MARKER).write_text(json.dumps(marker, indent=2))
            if final.exists():  # a folder without a marker: not one of ours, or tampered with
                _discard(final)
            make_read_only(tmp)
            os.rename(tmp, final)  # the environment appears whole, or not at all
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    env = _describe(final, key, python, normalised, reused=False)
    install_runtime(env)
    return env


def _reuse(final: Path, key: str, python: str, normalised: str) -> Environment | None:
    """The finished environment at ``final``, or None (a broken one is discarded)."""
    if not (final / MARKER).is_file():
        return None
    if not (final / "bin" / "python").exists():  # exists() follows the link to the base Python
        # The interpreter it was made from is gone (Python upgraded or removed): make it anew.
        _discard(final)
        return None
    env = _describe(final, key, python, normalised, reused=True)
    install_runtime(env)
    return env


def _tmp_name(kind: str, key: str) -> str:
    """``.tmp-<kind>-<key16>-<pid>-<random>``: unique per maker, and the pid tells the sweeper
    whether its maker is still alive."""
    return f".tmp-{kind}-{key[:16]}-{os.getpid()}-{secrets.token_hex(4)}"


def find_interpreter(python: str) -> str:
    """The path of an installed Python ``major.minor`` interpreter, or a clear UsageError.

    Looked for, in order: the running interpreter, what ``uv python find`` sees (the PATH and
    uv-managed Pythons; never a download), ``python<major.minor>`` on the PATH, and pyenv's
    versions folder (pyenv's shims only answer for the versions selected in the shell).
    """
    if python == current_python():
        return sys.executable
    candidates = []
    uv = _uv_bin()
    if uv:
        proc = subprocess.run(  # noqa: S603 - argv list, no shell
            [uv, "python", "find", "--system", "--no-project", python],
            capture_output=True,
            text=True,
            env={**os.environ, "UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1"},
        )
        if proc.returncode == 0 and proc.stdout.strip():
            candidates.append(proc.stdout.strip().splitlines()[-1])
    candidates.append(shutil.which(f"python{python}"))
    pyenv = Path(os.environ.get("PYENV_ROOT") or "~/.pyenv").expanduser() / "versions"
    candidates += sorted(
        (str(p) for p in pyenv.glob(f"{python}.*/bin/python{python}")), key=_version_order
    )[::-1]
    for candidate in candidates:
        if candidate and _reports_version(candidate, python):
            return candidate
    raise UsageError(
        f"Python {python} is not installed on this machine.",
        type="python_unavailable",
        field="python",
        hint=f'Install Python {python}, or set "python" in hub_config.json to '
        f'"{current_python()}" (the Python running hub).',
    )


def _version_order(path: str) -> tuple:
    """Sort key of ``.../versions/3.12.10/bin/python3.12`` by its patch level, numerically."""
    version = Path(path).parent.parent.name
    return tuple(int(p) if p.isdigit() else -1 for p in version.split("."))


def _reports_version(interpreter: str, python: str) -> bool:
    """Whether ``interpreter`` runs and is Python ``python`` (a pyenv shim may be neither)."""
    try:
        proc = subprocess.run(  # noqa: S603 - argv list, no shell
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and proc.stdout.strip() == python


def site_packages(env_path: Path) -> Path:
    """The site-packages folder of the environment at ``env_path``."""
    found = sorted((env_path / "lib").glob("python3*/site-packages"))
    if not found:
        raise WorkError(f"The environment {env_path} has no site-packages folder.")
    return found[0]


def runtime_dir() -> Path:
    """A folder holding only the ``hub`` runtime package, versioned by its content.

    The running ``hub`` package is copied to ``$HUB_HOME/runtime/<hash>/hub`` (once per
    content), so environments made earlier keep working while the product is upgraded.
    """
    import hub

    source = Path(hub.__file__).resolve().parent
    files = sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for f in files:
        digest.update(str(f.relative_to(source)).encode() + b"\0" + f.read_bytes() + b"\0")
    target = paths.hub_home() / "runtime" / digest.hexdigest()[:16]
    if not (target / "hub" / "__init__.py").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
        try:
            for f in files:
                dest = tmp / "hub" / f.relative_to(source)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest)
            try:
                os.rename(tmp, target)
            except OSError:
                if not (target / "hub" / "__init__.py").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def install_runtime(env: Environment) -> None:
    """Point the environment's ``_hub_runtime.pth`` at the current runtime folder (atomically)."""
    pth = site_packages(env.path) / RUNTIME_PTH
    line = f"{runtime_dir()}\n"
    try:
        if pth.read_text() == line:
            return
    except FileNotFoundError:
        pass
    tmp = pth.with_name(f".{RUNTIME_PTH}.{os.getpid()}")
    tmp.write_text(line)
    os.chmod(tmp, 0o444)  # like every file of a finished environment (make_read_only)
    os.replace(tmp, pth)


# -- making an environment ------------------------------------------------------------------


def _describe(path: Path, key: str, python: str, reqs: str, reused: bool) -> Environment:
    return Environment(
        key=key,
        path=path,
        python=path / "bin" / "python",
        version=python,
        requirements=reqs,
        reused=reused,
    )


def _uv_bin() -> str | None:
    try:
        import uv

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _create(tmp: Path, interpreter: str, requirements: str, out) -> None:
    uv = _uv_bin()
    env = {**os.environ, "NO_COLOR": "1", "UV_NO_PROGRESS": "1", "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)  # the installer must target the new env, not the caller's
    if uv:
        _run([uv, "venv", "--quiet", "--relocatable", "--python", interpreter, str(tmp)], env, out)
    else:
        _run([interpreter, "-m", "venv", str(tmp)], env, out)
    if not requirements.strip():
        return
    req_file = tmp / "hub-requirements.txt"
    if uv:
        # Bytecode is compiled now, once, rather than by every worker at every cold start
        # (where PYTHONDONTWRITEBYTECODE is set, importing scikit-learn from source costs
        # seconds per start; precompiled, under one).
        text, options = uv_requirements(requirements)
        req_file.write_text(text)
        argv = [uv, "pip", "install", "--compile-bytecode", "--python", str(tmp / "bin" / "python")]
        argv += [*options, "-r", str(req_file)]
    else:
        req_file.write_text(requirements)  # pip reads its own format as it is
        argv = [str(tmp / "bin" / "python"), "-m", "pip", "install", "--no-input"]
        argv += ["-r", str(req_file)]
    _run(argv, env, out, installing=True, requirements=requirements)


def uv_requirements(normalised: str) -> tuple[str, list[str]]:
    """A normalised (pip) requirements text as uv takes it: ``(file text, command options)``.

    uv reads pip's format but ignores, in the file, ``--pre`` and ``--trusted-host`` (it wants
    them on the command line) and refuses a requirement's own ``--config-settings`` and pip
    26's ``--all-releases``/``--only-final``; those become the equivalent uv options.
    """
    lines, options = [], []
    for line in normalised.splitlines():
        words = shlex.split(line) if line.startswith("-") else []
        if words[:1] in (["--pre"], ["--all-releases"]):
            options.append(("--prerelease", "allow"))
        elif words[:1] == ["--trusted-host"]:
            options.append(("--allow-insecure-host", words[1]))
        elif words[:1] in (["--only-final"], ["--no-require-hashes"], ["--use-feature"]):
            continue  # uv's defaults already are what these ask for, or they are pip-only
        elif words[:1] == ["--prefer-binary"]:
            continue  # uv prefers wheels anyway
        elif " --config-settings=" in line:
            requirement, *settings = line.split(" --config-settings=")
            name = requirement_names(requirement.split(" --hash=")[0] + "\n")
            for setting in settings:
                value = shlex.split(setting)[0]
                options.append(
                    ("--config-settings-package", f"{name[0]}:{value}")
                    if name
                    else ("--config-setting", value)
                )
            lines.append(requirement)
        else:
            lines.append(line)
    flat = [word for pair in dict.fromkeys(options) for word in pair]
    return "".join(f"{line}\n" for line in lines), flat


def _run(argv: list[str], env: dict, out, installing: bool = False, requirements: str = "") -> None:
    """Run ``argv``, streaming its merged output to ``out`` as log lines; raise on failure."""
    lines: list[str] = []
    own_group = threading.current_thread() is threading.main_thread()
    proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        env=env,
        # In `hub build` (the main thread, where signals arrive) the installer gets its own
        # process group, stopped by us: Ctrl-C reaches only hub, which then ends the installer
        # _and_ what it started (a build backend compiling an sdist), even when they inherited
        # an ignored SIGINT (as every child of a background job in a script does) or only hub
        # was signalled; otherwise such a backend runs on for minutes after hub exits. In a
        # thread of the platform it stays in the platform's group, which stopping it ends.
        start_new_session=own_group,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            if out is not None and line.strip():
                out.log(line, stream="stderr" if installing else "stdout")
        code = proc.wait()
    except BaseException:
        # Ctrl-C or an error: stop the installer before the caller removes its folder.
        _stop(proc, own_group)
        raise
    finally:
        proc.stdout.close()
    if code != 0:
        raise _install_error(lines, installing, requirements)


def _stop(proc: subprocess.Popen, own_group: bool, grace: float = 3) -> None:
    """End the installer: SIGTERM, ``grace`` seconds, then SIGKILL; with ``own_group``, to all
    of its process group (what it started too), else to it alone."""

    def send(sig: int) -> bool:
        try:
            if own_group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        except ProcessLookupError:
            return False  # nobody of the group is left
        return True

    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not send(sig):
            break
        try:
            proc.wait(timeout=grace)
            if not own_group:
                break
        except subprocess.TimeoutExpired:
            pass
    proc.wait()


_UNRESOLVABLE = (
    "no solution found",
    "not found in the package registry",
    "resolutionimpossible",
    "no matching distribution found",
    "could not find a version that satisfies",
)
_UNREACHABLE = re.compile(
    r"connection refused|couldn't connect|could not connect|failed to connect|"
    r"name or service not known|dns error|failed to lookup address|could not resolve host|"
    r"temporary failure in name resolution|network is unreachable|timed out|connecterror",
    re.I,
)
_URL_IN_TEXT = re.compile(r"(?:git\+)?https?://[^\s'`\"()]+")


def _install_error(lines: list[str], installing: bool, requirements: str = "") -> Exception:
    """One sentence: which line of the requirements could not be installed, and why."""
    text = "\n".join(lines)
    short = _shorten(lines)
    if not installing:
        return WorkError(
            f"Preparing the Python environment failed: {short}",
            type="environment_failed",
            hint="Read the output above and build again.",
        )
    culprit = _culprit(text, requirements)
    what = f"The requirement `{culprit}`" if culprit else "A requirement"
    unreachable = _UNREACHABLE.search(text)
    if unreachable:
        host = _host_of(text) or "its host"
        return WorkError(
            f"{what} cannot be installed: {host} cannot be reached ({unreachable.group(0)}).",
            type="environment_failed",
            field="src/requirements.txt",
            hint="Check the URL and the network, or remove that line from src/requirements.txt, "
            "and build again.",
        )
    if any(marker in text.lower() for marker in _UNRESOLVABLE):
        missing = re.search(r"there is no version of ([^\s,]+)", text)
        python = re.search(r"current Python version \(([\d.]+)\) does not satisfy ([^\s,]+)", text)
        if missing:
            reason = f"no released version matches {missing.group(1)} for this Python."
        elif python:
            reason = f"it needs {python.group(2)}, and the API's Python is {python.group(1)}."
        elif "not found in the package registry" in text.lower():
            reason = "no package of that name is on the package index."
        else:
            reason = short
        return UsageError(
            f"{what} cannot be installed: {reason}",
            type="unresolvable_requirements",
            field="src/requirements.txt",
            hint="Fix the package name or version in src/requirements.txt and build again.",
        )
    if re.search(r"failed to build|build backend returned an error", text, re.I):
        return UsageError(
            f"{what} cannot be installed: it has no wheel for this Python and platform, "
            "and building it from source failed.",
            type="unresolvable_requirements",
            field="src/requirements.txt",
            hint="Choose a version that publishes wheels for this Python (see its page on the "
            "package index), and build again.",
        )
    return WorkError(
        f"{what} cannot be installed: {short}",
        type="environment_failed",
        field="src/requirements.txt",
        hint="Read the installer's output above, fix src/requirements.txt, and build again.",
    )


def _culprit(text: str, requirements: str) -> str | None:
    """The line of ``requirements`` that the installer's output ``text`` blames, if one."""
    lines = [line for line in requirements.splitlines() if line]
    # A URL the installer failed to fetch: the requirement or index option that holds it.
    for url in map(_url_key, _URL_IN_TEXT.findall(text)):
        for line in lines:
            for word in map(_url_key, _URL_IN_TEXT.findall(line)):
                if url.startswith(word) or word.startswith(url):
                    return line.split(" --hash=")[0]
    # A package the resolver names: "no version of numpy==0.0.1", "Failed to build `x==1`".
    lowered = text.lower()
    # The one the output names first ("Because there is no version of numpy==0.0.1 ...").
    lowered = lowered.replace("_", "-")
    found = []
    named = [line for line in lines if _is_named(line)]
    for line, name in zip(named, requirement_names(requirements), strict=True):
        match = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", lowered)
        if match:
            found.append((match.start(), line.split(" --hash=")[0]))
    return min(found)[1] if found else None


def _url_key(url: str) -> str:
    """A URL without its VCS prefix, fragment and final slash, to compare one with another."""
    return re.sub(r"^[a-z]+\+", "", url.split("#", 1)[0]).rstrip("/")


def _is_named(line: str) -> bool:
    return not line.startswith("-") and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", line)


def _host_of(text: str) -> str | None:
    from urllib.parse import urlsplit

    for url in _URL_IN_TEXT.findall(text):
        netloc = urlsplit(url.removeprefix("git+")).netloc
        if netloc:
            return netloc.rsplit("@", 1)[-1]
    return None


def _shorten(lines: list[str], limit: int = 400) -> str:
    """The installer's message on one line: box-drawing, blank lines and prefixes dropped.

    When the resolver explains itself ("Because X was not found ... unsatisfiable"), that
    explanation is the message; otherwise the whole output, joined.
    """
    kept = []
    for line in lines:
        cleaned = re.sub(r"[×╰─▶│├┬┼└┐┌┘]+", " ", line).strip()
        cleaned = re.sub(r"^(error|cause|hint):\s*", "", cleaned, flags=re.I)
        if cleaned and not cleaned.lower().startswith(("using ", "resolved ", "creating ")):
            kept.append(cleaned)
    text = re.sub(r"\s+", " ", " ".join(kept)) or "the installer gave no message"
    because = text.find("Because ")
    if because >= 0:
        text = "b" + text[because + 1 :]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def make_read_only(env_path: Path) -> None:
    """Finalize a built environment: no file in it stays writable (it is shared by every API
    with the same requirements, and what its key promises must not change).

    Directories stay writable by their owner so the runtime's ``.pth`` can still be replaced
    and a broken environment deleted. Modes do not stop root: the sandbox's read-only mount of
    the environment is what protects it from workers (``platform/engines/sandbox.py``).
    """
    for folder, _, files in os.walk(env_path):
        for name in files:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
                if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o222:
                    os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o222)
            except OSError:
                pass  # vanished, or not ours: the read-only mount still protects it
        try:
            mode = stat.S_IMODE(os.lstat(folder).st_mode)
            if mode & 0o022:
                os.chmod(folder, mode & ~0o022)
        except OSError:
            pass


def _discard(env_path: Path) -> None:
    """Move an environment aside (one rename, so no reader sees it half-deleted), then delete."""
    trash = env_path.with_name(_tmp_name("trash", env_path.name))
    try:
        os.rename(env_path, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _sweep_stale_tmp(root: Path) -> None:
    """Remove temporary environments of makers that died without cleaning up (e.g. SIGKILL)."""
    for tmp in root.glob(".tmp-*"):
        parts = tmp.name.split("-")
        pid = parts[3] if len(parts) >= 5 else ""
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)
