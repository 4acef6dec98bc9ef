"""The sandbox a worker runs in: bubblewrap, with everything read-only but its own scratch.

With ``bwrap`` (Debian's ``bubblewrap``) on the PATH and usable, a worker is started as::

    bwrap --unshare-pid --unshare-ipc --unshare-uts --die-with-parent --cap-drop ALL
          --ro-bind / /  --dev /dev  --proc /proc  --ro-bind /proc/sys /proc/sys
          --bind <scratch>/tmp /tmp          (a private, writable /tmp: TMPDIR)
          --tmpfs $HUB_HOME                  (the blob store, other environments and versions,
                                              the platform's token, key and database: hidden)
          --ro-bind <environment> ...        (its environment, the hub runtime, its version's
          --ro-bind <model>                   model/: read-only)
          --bind <src>                       (its version's src/, writable as a container's
                                              working directory is; shared by its workers)
          --bind <scratch>/home <same path>  (a private, writable HOME)
          --chdir <src> -- <python> -m hub._worker ...

Why each part:

- ``--unshare-pid``: the worker's processes live in a PID namespace whose init is bubblewrap's;
  when the worker ends (or is killed) the kernel kills everything left in it, including
  children that detached with ``start_new_session``. ``--die-with-parent`` ends the sandbox
  when the platform dies, even by ``kill -9``.
- ``--cap-drop ALL``: a worker running as root keeps uid 0 but no capability, so it can neither
  remount a read-only bind writable nor bypass file modes; ``/proc/sys`` is read-only too.
- Read-only binds, not file modes, are what protect ``MODEL_DIR`` (hard links to the shared
  blob store) and the environments (shared by every API with the same requirements): root
  ignores modes, not a read-only mount (EROFS).

Without a usable ``bwrap`` the worker runs as before (its own process group, killed as a whole)
with a private TMPDIR and HOME; the platform log says so once. Extra read-only paths (e.g. a
test's runtime folder on ``PYTHONPATH``) are given by whoever builds the engine, never by a
spec: a spec comes from a user's ``hub_config.json``.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ...processes import pid_alive

__all__ = ["Sandbox", "Scratch", "bwrap_usable"]

log = logging.getLogger(__name__)

_BWRAP_BASE = (
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--die-with-parent",
    "--cap-drop",
    "ALL",
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--ro-bind",
    "/proc/sys",
    "/proc/sys",
)
# Devices a GPU framework needs, passed through when the machine has them.
_GPU_DEVICES = ("/dev/dri", "/dev/kfd")
_probed: dict[str, str | None] = {}


def bwrap_usable(bwrap: str | None = None) -> str | None:
    """The path of a ``bwrap`` that works here (tried once per process), else ``None``."""
    bwrap = bwrap or shutil.which("bwrap")
    if not bwrap:
        return None
    if bwrap not in _probed:
        try:
            proc = subprocess.run(  # noqa: S603 - fixed argv
                [bwrap, *_BWRAP_BASE, "--", "true"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=30,
            )
            ok = proc.returncode == 0
            detail = proc.stderr.decode(errors="replace").strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            ok, detail = False, str(exc)
        _probed[bwrap] = bwrap if ok else None
        if not ok:
            log.warning("bubblewrap at %s does not work here (%s)", bwrap, detail[:200])
    return _probed[bwrap]


class Scratch:
    """A worker's private, writable folders: ``tmp`` (its /tmp and TMPDIR) and ``home``."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The platform's pid in the name lets a later platform sweep what a killed one left.
        self.path = root / f"{os.getpid()}-{secrets.token_hex(6)}"
        self.tmp = self.path / "tmp"
        self.home = self.path / "home"
        self.tmp.mkdir(parents=True, mode=0o700)
        self.home.mkdir(mode=0o700)

    def remove(self) -> None:
        """Delete the folders and what the worker left in them."""
        try:
            shutil.rmtree(self.path, ignore_errors=True)
        except OSError:  # rmtree can still raise closing a folder; what is left is swept later
            pass

    @staticmethod
    def sweep(root: Path) -> None:
        """Remove the scratch folders of platforms that are no longer running."""
        if not root.is_dir():
            return
        for entry in root.iterdir():
            pid = entry.name.split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)


class Sandbox:
    """Builds the command line that starts a worker, sandboxed when bubblewrap works.

    ``enabled``: ``None`` (default) sandboxes when bubblewrap is usable, ``False`` never,
    ``True`` requires it. ``hidden``: folders the worker must not see (default: the data
    directory, ``$HUB_HOME``); ``visible``: read-only folders it needs inside them (the hub
    runtime); ``read_only``: further folders to show read-only (trusted configuration only).
    """

    def __init__(
        self,
        enabled: bool | None = None,
        hidden: Iterable[Path] = (),
        visible: Iterable[Path] = (),
        read_only: Iterable[Path] = (),
    ) -> None:
        self.bwrap = bwrap_usable() if enabled is not False else None
        if enabled and self.bwrap is None:
            from jupyter_hub_api.errors import UsageError

            raise UsageError(
                "The engine was asked to sandbox workers, but bubblewrap (bwrap) is not "
                "installed or does not work here.",
                type="no_sandbox",
                hint="Install it (apt-get install bubblewrap) or leave the sandbox on auto.",
            )
        if enabled is None and self.bwrap is None:
            log.warning(
                "bubblewrap (bwrap) is not available: workers run without a sandbox, so "
                "MODEL_DIR and environments are protected by file modes only and a handler's "
                "detached children may outlive their worker; install bubblewrap to fix this."
            )
        self.hidden = [Path(p) for p in hidden]
        self.visible = [Path(p) for p in visible]
        self.read_only = [Path(p) for p in read_only]

    @property
    def active(self) -> bool:
        """Whether workers run inside bubblewrap."""
        return self.bwrap is not None

    def command(
        self, argv: list[str], src_dir: Path, model_dir: Path, python: Path, scratch: Scratch
    ) -> list[str]:
        """``argv`` wrapped in bubblewrap (unchanged when the sandbox is off)."""
        if self.bwrap is None:
            return argv
        cmd = [self.bwrap, *_BWRAP_BASE]
        for device in _GPU_DEVICES + tuple(_nvidia_devices()):
            if os.path.exists(device):
                cmd += ["--dev-bind", device, device]
        cmd += ["--bind", str(scratch.tmp), "/tmp"]
        for path in self.hidden:
            if path.is_dir():
                cmd += ["--tmpfs", str(path.resolve())]
        shown = [*self.visible, *self.read_only, _environment_root(python), model_dir]
        for path in shown:
            if path is not None and path.exists():
                real = str(path.resolve())
                cmd += ["--ro-bind", real, real]
        src, home = str(src_dir.resolve()), str(scratch.home.resolve())
        cmd += ["--bind", src, src, "--bind", home, home, "--chdir", src, "--", *argv]
        return cmd

    def environment(self, scratch: Scratch) -> dict[str, str]:
        """``TMPDIR`` and ``HOME`` of a worker: private and writable, sandbox or not."""
        tmp = "/tmp" if self.bwrap is not None else str(scratch.tmp)  # noqa: S108 - its own /tmp
        return {"TMPDIR": tmp, "HOME": str(scratch.home.resolve())}

    def returncode(self, code: int | None) -> int | None:
        """A worker's exit status as if it had not been wrapped: bubblewrap reports a child
        killed by signal N as exit code 128 + N."""
        if self.bwrap is not None and code is not None and 128 < code < 128 + 65:
            return -(code - 128)
        return code


def _environment_root(python: Path) -> Path | None:
    """The folder of the virtual environment ``python`` belongs to (``None`` if it is none)."""
    root = Path(python).parent.parent
    return root if (root / "pyvenv.cfg").is_file() else None


def _nvidia_devices() -> list[str]:
    try:
        return [f"/dev/{name}" for name in os.listdir("/dev") if name.startswith("nvidia")]
    except OSError:
        return []
