"""The sandbox a worker runs in: bubblewrap, with everything read-only but its own scratch,
and, when the platform runs as root, a Unix uid of its own per tenant (platform user).

With ``bwrap`` (Debian's ``bubblewrap``) on the PATH and usable, a worker is started as::

    bwrap --unshare-pid --unshare-ipc --unshare-uts --die-with-parent --cap-drop ALL
          --ro-bind / /  --dev /dev  --proc /proc  --ro-bind /proc/sys /proc/sys
          --bind <scratch>/tmp /tmp          (a private, writable /tmp: TMPDIR)
          --tmpfs $HUB_HOME, the platform's  (the blob store, other environments and versions,
            HOME, /home, /root, /run/user     the platform's token, key and database, the
                                              owner's and other users' files: hidden)
          --ro-bind <environment> ...        (its environment and the Python it was made from,
          --ro-bind <model>                   the hub runtime, its version's model/ (for a
                                              tenant: its own folders of links to the blobs):
                                              read-only)
          --bind <scratch>/src <src>         (a private copy of its version's src/: writable,
                                              as a container's working directory is; nothing
                                              written there reaches the version or its peers)
          --bind <scratch>/home <same path>  (a private, writable HOME)
          --remount-ro <each hidden folder>  (nothing can be written in them either; a
                                              tenant's uid cannot anyway: skipped)
          --chdir <src> -- [prlimit --nofile=.. --nproc=.. --cpu=..]   (the plan's limits)
                           [setpriv --reuid <tenant uid> --regid <tenant uid> --clear-groups]
                           <python> -m hub._worker ...

Why each part:

- ``--unshare-pid``: the worker's processes live in a PID namespace whose init is bubblewrap's;
  when the worker ends (or is killed) the kernel kills everything left in it, including
  children that detached with ``start_new_session``. ``--die-with-parent`` ends the sandbox
  when the platform dies, even by ``kill -9``. A worker cannot name, signal or read the
  ``/proc`` of any process outside its namespace: other workers, the platform, other users'.
- ``--cap-drop ALL``: a worker running as root keeps uid 0 but no capability, so it can neither
  remount a read-only bind writable nor bypass file modes; ``/proc/sys`` is read-only too.
- Read-only binds, not file modes, are what protect ``MODEL_DIR`` (hard links to the shared
  blob store) and the environments (shared by every API with the same requirements): root
  ignores modes, not a read-only mount (EROFS).
- One uid per tenant (platform root only): the sandbox keeps ``CAP_SETUID``/``CAP_SETGID`` for
  ``setpriv`` alone, which becomes ``TENANT_UID_BASE + <user id>`` (no ``/etc/passwd`` entry on
  the machine: the sandbox sees one, ``hub-tenant-<id>``) and loses every capability on the way
  (bubblewrap sets ``no_new_privs``: no setuid binary gives them back). Files only root may
  read (``/etc/shadow``, ``/root``, ``/proc/sysrq-trigger``) are out of reach, the process limit
  counts that tenant's processes only, and two tenants' workers cannot signal each other even
  if they met. What a worker must read (its environment, the hub runtime, ``model/``, the copy
  of ``src/``) is world-readable or owned by it; nothing else of ``$HUB_HOME`` is mounted.
  Without root the workers of every user run as the platform's own uid, isolated by the mounts
  and the PID namespace only; the platform log says so once a second user's worker starts.

Without a usable ``bwrap`` the worker runs as before (its own process group, killed as a whole)
with a private TMPDIR and HOME; the platform log says so once. Extra read-only paths (e.g. a
test's runtime folder on ``PYTHONPATH``) are given by whoever builds the engine, never by a
spec: a spec comes from a user's ``hub_config.json``.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ...processes import pid_alive
from .limits import WorkerLimits

__all__ = ["Identity", "Sandbox", "Scratch", "TENANT_UID_BASE", "bwrap_usable", "tenant_uid"]

log = logging.getLogger(__name__)

# The first uid of the tenants: systemd leaves 1879048192-2147352575 to no one (its container
# range ends below, the user-namespace range begins above), so no account of the machine has
# it; HUB_TENANT_UID_BASE moves the range where this one is taken.
TENANT_UID_BASE = 1_900_000_000
TENANT_UID_SPAN = 200_000_000  # user ids a platform may give (its database ids)

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
# What setpriv needs to become the tenant, and nothing more (it loses them doing so).
_SETUID_CAPS = ("--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID")
# Devices a GPU framework needs, passed through when the machine has them.
_GPU_DEVICES = ("/dev/dri", "/dev/kfd")
_probed: dict[str, str | None] = {}


def bwrap_usable(bwrap: str | None = None) -> str | None:
    """The path of a ``bwrap`` that works here (tried once per process), else ``None``."""
    bwrap = bwrap or shutil.which("bwrap")
    if not bwrap:
        return None
    if bwrap not in _probed:
        ok, detail = _try([bwrap, *_BWRAP_BASE, "--", "true"])
        _probed[bwrap] = bwrap if ok else None
        if not ok:
            log.warning("bubblewrap at %s does not work here (%s)", bwrap, detail[:200])
    return _probed[bwrap]


def _try(argv: list[str]) -> tuple[bool, str]:
    try:
        proc = subprocess.run(  # noqa: S603 - fixed argv
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return proc.returncode == 0, proc.stderr.decode(errors="replace").strip()


def tenant_uid(tenant: int) -> int:
    """The uid (and gid) the workers of platform user ``tenant`` run as on a root platform."""
    base = int(os.environ.get("HUB_TENANT_UID_BASE") or TENANT_UID_BASE)
    if not 0 <= tenant < TENANT_UID_SPAN:
        raise ValueError(f"user id {tenant} is outside the tenants' uid range")
    return base + tenant


@dataclass(frozen=True)
class Identity:
    """Who a tenant's workers run as: ``uid`` (its gid is the same number), ``name``."""

    uid: int
    name: str

    @classmethod
    def of(cls, tenant: int) -> Identity:
        return cls(tenant_uid(tenant), f"hub-tenant-{tenant}")


class Scratch:
    """A worker's private, writable folders: ``tmp`` (its /tmp and TMPDIR), ``home``, and in
    the sandbox ``src`` (its own copy of the version's ``src/``)."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The platform's pid in the name lets a later platform sweep what a killed one left.
        self.path = root / f"{os.getpid()}-{secrets.token_hex(6)}"
        self.tmp = self.path / "tmp"
        self.home = self.path / "home"
        self.src: Path | None = None
        self.model: Path | None = None  # a tenant's view of model/ (links to the blobs)
        self.identity: Identity | None = None
        self.limits: WorkerLimits | None = None
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
    directory, ``$HUB_HOME``; the platform's HOME, ``/home``, ``/root`` and ``/run/user`` are
    always hidden); ``visible``: read-only folders it needs inside them (the hub runtime);
    ``read_only``: further folders to show read-only (trusted configuration only).
    ``tenants``: run each tenant's workers as a uid of its own when the platform is root
    (``None``: when ``setpriv`` works in the sandbox, ``False``: never).
    """

    def __init__(
        self,
        enabled: bool | None = None,
        hidden: Iterable[Path] = (),
        visible: Iterable[Path] = (),
        read_only: Iterable[Path] = (),
        tenants: bool | None = None,
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
                "MODEL_DIR and environments are protected by file modes only, a handler's "
                "detached children may outlive their worker, and the platform's other users "
                "(if any) can read this platform's files; install bubblewrap to fix this."
            )
        self.data = [Path(p) for p in hidden]  # the platform's own folders ($HUB_HOME...)
        self.hidden = _outermost_first([*self.data, *_private_roots()])
        self._opened: set[Path] = set()  # folders made readable to tenants (once each)
        self.visible = [Path(p) for p in visible]
        self.read_only = [Path(p) for p in read_only]
        self.prlimit = shutil.which("prlimit")
        self.setpriv = self._setpriv() if tenants is not False else None
        self._shared_uid_said = False
        self._tenants_seen: set[int] = set()
        self._passwd: bytes | None = None
        self._group: bytes | None = None

    def _setpriv(self) -> str | None:
        """``setpriv`` when the platform is root and it can become a tenant in the sandbox."""
        setpriv = shutil.which("setpriv")
        if self.bwrap is None or os.geteuid() != 0:
            return None
        if setpriv is not None:
            uid = str(tenant_uid(0))
            ok, detail = _try(
                [self.bwrap, *_BWRAP_BASE, *_SETUID_CAPS, "--", setpriv, "--reuid", uid,
                 "--regid", uid, "--clear-groups", "--", "true"]
            )  # fmt: skip
            if ok:
                log.info(
                    "workers run in bubblewrap, each platform user's as a uid of its own "
                    "(%d + user id)",
                    tenant_uid(0),
                )
                return setpriv
        else:
            detail = "setpriv (util-linux) is not installed"
        log.warning(
            "the platform runs as root but cannot give each user's workers a uid of their own "
            "(%s): every user's workers run as root without capabilities, isolated by "
            "bubblewrap's mounts and PID namespace only.",
            detail[:200],
        )
        return None

    @property
    def active(self) -> bool:
        """Whether workers run inside bubblewrap."""
        return self.bwrap is not None

    @property
    def tenant_uids(self) -> bool:
        """Whether each tenant's workers run as a uid of its own."""
        return self.setpriv is not None

    def prepare(self, scratch: Scratch, spec) -> None:
        """Make ``scratch`` the worker's of ``spec``: owned by its tenant's uid (when tenants
        have one), with a private copy of ``src/`` in the sandbox, and the plan's limits."""
        limits = getattr(spec, "limits", None)
        if isinstance(limits, dict):  # a spec that came over the wire (the Ray engine's)
            limits = WorkerLimits(**limits)
        scratch.limits = limits
        tenant = getattr(spec, "tenant", None)
        if self.bwrap is None:
            return
        if tenant is not None and self.setpriv is not None:
            scratch.identity = Identity.of(tenant)
        elif tenant is not None:
            self._tenants_seen.add(tenant)
            if len(self._tenants_seen) > 1 and not self._shared_uid_said:
                self._shared_uid_said = True
                log.warning(
                    "workers of several platform users run as one uid (%d: the platform is "
                    "not root): they are kept apart by bubblewrap's mounts and PID namespace "
                    "only; run the platform as root to give each user a uid of their own.",
                    os.geteuid(),
                )
        scratch.src = scratch.path / "src"
        owner = scratch.identity
        # With a uid of its own the tenant cannot write the version's files (root's, 0644):
        # hard links cost nothing. Under one uid a link would be a door to the shared file.
        _copy_tree(Path(spec.src_dir), scratch.src, link=owner is not None)
        if owner is not None:
            # What it runs from, made by a platform with umask 077, must be readable by it:
            # the environment and the runtime (outside the platform's 0700 state folder) are
            # opened to others once; model/ is shown through folders of its own holding links
            # to the blobs (0444), so the version's folders stay the platform's (0700).
            self._open_up([*self.visible, *_interpreter_roots(Path(spec.python))])
            scratch.model = scratch.path / "model"
            _copy_tree(Path(spec.model_dir), scratch.model, link="always")
        if owner is not None:  # its folders (the links stay root's, the copies become its)
            _chown_tree(scratch.path, owner.uid, files=False)
            # bubblewrap (root without capabilities) must cross its /tmp to a --chdir below.
            scratch.tmp.chmod(0o755)
            for tree in (scratch.src, scratch.model):
                for folder, _dirs, names in os.walk(tree):
                    for name in names:
                        path = os.path.join(folder, name)
                        if os.lstat(path).st_nlink == 1:
                            os.chown(path, owner.uid, owner.uid, follow_symlinks=False)
            (scratch.path / "passwd").write_bytes(self._passwd_of(owner))
            (scratch.path / "group").write_bytes(self._group_of(owner))

    def _open_up(self, paths: Iterable[Path]) -> None:
        """Let others read (and cross) ``paths`` and what is under them, where they are the
        platform's (in its data folders, whose own 0700 modes keep them private on the host:
        only the sandbox's binds reach inside). Done once per folder and process."""
        for path in paths:
            if path in self._opened or not any(path.is_relative_to(d) for d in self.data):
                continue
            self._opened.add(path)
            for folder, _dirs, files in os.walk(path):
                _add_mode(folder, 0o005)
                for name in files:
                    _add_mode(os.path.join(folder, name), 0o004)

    def command(
        self, argv: list[str], src_dir: Path, model_dir: Path, python: Path, scratch: Scratch
    ) -> list[str]:
        """``argv`` wrapped in bubblewrap (unchanged when the sandbox is off), with the plan's
        limits and, when tenants have one, the tenant's uid."""
        argv = self._limited(argv, scratch)
        if self.bwrap is None:
            return argv
        owner = scratch.identity
        cmd = [self.bwrap, *_BWRAP_BASE]
        if owner is not None:
            cmd += _SETUID_CAPS
        for device in _GPU_DEVICES + tuple(_nvidia_devices()):
            if os.path.exists(device):
                cmd += ["--dev-bind", device, device]
        cmd += ["--bind", str(scratch.tmp), "/tmp"]
        # bubblewrap can make the folders leading to a mount 0700 root's: a tenant could not
        # cross them. Made first, 0755, in the new /tmp and the hidden folders' empty tmpfs.
        made: set[str] = set()
        fresh = ["/tmp/"]  # noqa: S108 - the worker's own /tmp

        def folders_to(path: Path) -> list[str]:
            args = []
            for parent in map(str, reversed(path.parents)):
                if parent not in made and any((parent + "/").startswith(f) for f in fresh):
                    made.add(parent)
                    args += ["--perms", "0755", "--dir", parent]
            return args

        for path in self.hidden:
            cmd += [*folders_to(path), "--tmpfs", str(path)]
            fresh.append(f"{path}/")
        # Root ignores its mode (0200): a worker left as root must not reach sysrq either.
        cmd += ["--ro-bind-try", "/proc/sysrq-trigger", "/proc/sysrq-trigger"]
        if owner is not None:
            cmd += ["--ro-bind", str(scratch.path / "passwd"), "/etc/passwd"]
            cmd += ["--ro-bind", str(scratch.path / "group"), "/etc/group"]
        shown = [*self.visible, *self.read_only, *_interpreter_roots(Path(python))]
        shown = [path.resolve() for path in shown if path is not None and path.exists()]
        src, home, model = src_dir.resolve(), scratch.home.resolve(), model_dir.resolve()
        for path in [*shown, model, src, home]:
            cmd += folders_to(path)
        for path in shown:
            cmd += ["--ro-bind", str(path), str(path)]
        own_model = scratch.model.resolve() if scratch.model is not None else model
        cmd += ["--ro-bind", str(own_model), str(model)]
        private_src = str(scratch.src.resolve()) if scratch.src is not None else str(src)
        cmd += ["--bind", private_src, str(src), "--bind", str(home), str(home)]
        if owner is None:  # a tenant cannot write root's 0755 tmpfs anyway: spare the mounts
            for path in self.hidden:
                cmd += ["--remount-ro", str(path)]
        cmd += ["--chdir", str(src), "--"]
        if owner is not None:
            uid = str(owner.uid)
            cmd += [self.setpriv, "--reuid", uid, "--regid", uid, "--clear-groups", "--"]
        return [*cmd, *argv]

    def _limited(self, argv: list[str], scratch: Scratch) -> list[str]:
        """``argv`` under ``prlimit`` with the plan's limits (unchanged without any)."""
        limits = scratch.limits
        options = limits.prlimit_options(per_uid=scratch.identity is not None) if limits else []
        if not options:
            return argv
        if self.prlimit is None:
            log.warning("prlimit (util-linux) is not installed: the plan's limits are not set")
            return argv
        return [self.prlimit, *options, "--", *argv]

    def environment(self, scratch: Scratch) -> dict[str, str]:
        """``TMPDIR`` and ``HOME`` of a worker: private and writable, sandbox or not (and the
        tenant's name as ``USER`` when it has a uid of its own)."""
        tmp = "/tmp" if self.bwrap is not None else str(scratch.tmp)  # noqa: S108 - its own /tmp
        env = {"TMPDIR": tmp, "HOME": str(scratch.home.resolve())}
        if scratch.identity is not None:
            env["USER"] = env["LOGNAME"] = scratch.identity.name
        return env

    def returncode(self, code: int | None) -> int | None:
        """A worker's exit status as if it had not been wrapped: bubblewrap reports a child
        killed by signal N as exit code 128 + N."""
        if self.bwrap is not None and code is not None and 128 < code < 128 + 65:
            return -(code - 128)
        return code

    def _passwd_of(self, owner: Identity) -> bytes:
        if self._passwd is None:
            self._passwd = _read("/etc/passwd")
        entry = (
            f"{owner.name}:x:{owner.uid}:{owner.uid}:hub tenant:/nonexistent:/usr/sbin/nologin\n"
        )
        return self._passwd + entry.encode()

    def _group_of(self, owner: Identity) -> bytes:
        if self._group is None:
            self._group = _read("/etc/group")
        return self._group + f"{owner.name}:x:{owner.uid}:\n".encode()


def _read(path: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError:
        return b""
    return data if data.endswith(b"\n") or not data else data + b"\n"


def _private_roots() -> list[Path]:
    """Folders of people, hidden from every worker: the platform's HOME, /home, /root and the
    users' runtime folders (their sockets, Jupyter's tokens)."""
    found = [Path.home(), Path("/home"), Path("/root"), Path("/run/user")]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        found.append(Path(runtime))
    return found


def _outermost_first(paths: Iterable[Path]) -> list[Path]:
    """Existing folders (resolved, each once, none ``/``), parents before their children: a
    tmpfs mounted later would hide what was mounted inside it before."""
    seen: dict[str, Path] = {}
    for path in paths:
        try:
            real = Path(path).resolve()
        except OSError:
            continue
        if real.is_dir() and real != Path("/"):
            seen.setdefault(str(real), real)
    return sorted(seen.values(), key=lambda p: (len(p.parts), str(p)))


@functools.lru_cache(maxsize=256)
def _interpreter_roots(python: Path) -> list[Path]:
    """What running ``python`` needs to read: its virtual environment and the installation it
    was made from (``home`` in ``pyvenv.cfg``; it may live in a hidden HOME, e.g. pyenv's)."""
    env = Path(python).parent.parent
    cfg = env / "pyvenv.cfg"
    if not cfg.is_file():
        return [env]
    roots = [env]
    try:
        for line in cfg.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                roots.append(Path(value.strip()).parent)
    except OSError:
        pass
    return roots


def _copy_tree(src: Path, dest: Path, link: bool | str) -> None:
    """``dest``: the files of ``src`` hard-linked (``link``: those others may read;
    ``"always"``: all, made readable) or copied, symlinks as symlinks."""
    dest.mkdir()
    dest.chmod(0o755)  # whatever the umask (the platform's is 077): bubblewrap enters it
    for folder, dirs, files in os.walk(src):
        rel = Path(folder).relative_to(src)
        target = dest / rel
        for name in dirs:
            path = Path(folder, name)
            if path.is_symlink():
                os.symlink(os.readlink(path), target / name)
            else:
                (target / name).mkdir()
                (target / name).chmod(0o755)
        for name in files:
            path = Path(folder, name)
            if path.is_symlink():
                os.symlink(os.readlink(path), target / name)
            elif link == "always" or (link and path.stat().st_mode & 0o004):  # readable: link
                if link == "always":  # model files: read-only blobs, inside 0700 folders
                    _add_mode(str(path), 0o004)
                try:
                    os.link(path, target / name)
                except OSError:
                    shutil.copyfile(path, target / name)
            else:
                shutil.copyfile(path, target / name)
                shutil.copymode(path, target / name)


def _add_mode(path: str, bits: int) -> None:
    try:
        st = os.lstat(path)
        if not os.path.islink(path) and st.st_mode & bits != bits:
            os.chmod(path, (st.st_mode & 0o7777) | bits)
    except OSError:
        pass


def _chown_tree(root: Path, uid: int, files: bool) -> None:
    """Give ``root`` and its folders (and files, with ``files``) to ``uid``."""
    os.chown(root, uid, uid)
    for folder, dirs, names in os.walk(root):
        for name in dirs:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)
        if files:
            for name in names:
                os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


def _nvidia_devices() -> list[str]:
    try:
        return [f"/dev/{name}" for name in os.listdir("/dev") if name.startswith("nvidia")]
    except OSError:
        return []
