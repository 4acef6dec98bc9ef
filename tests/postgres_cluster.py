"""A real, throwaway PostgreSQL cluster for the tests (and bench/db_bench.py) of the platform's
PostgreSQL backend.

``initdb`` into a fresh folder under /tmp, ``pg_ctl start`` with a Unix socket in that folder
only (no TCP listener: nothing outside this machine's users can reach it, and no port can be
taken), ``pg_ctl stop`` at the end. PostgreSQL refuses to run as root, so as root the server
runs as the ``postgres`` system user (Debian's postgresql package makes it) via ``runuser``.
The server binaries are Debian's (``/usr/lib/postgresql/<major>/bin``, or ``pg_config
--bindir``); scripts/setup.sh --test installs the ``postgresql`` package when they are missing.

Each test gets a database of its own (:meth:`PostgresCluster.new_database`), so tests never see
each other's rows.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

PORT = 5432  # only names the socket file, inside the cluster's own folder


def server_bindir() -> Path:
    """The folder of ``initdb`` / ``pg_ctl``; a clear error when PostgreSQL is not installed."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major, reverse=True)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.insert(0, out.stdout.strip())
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    raise RuntimeError(
        "PostgreSQL's server (initdb, pg_ctl) is not installed: run scripts/setup.sh --test "
        "(it installs Debian's postgresql package)."
    )


def _major(folder: str) -> int:
    try:
        return int(Path(folder).parent.name)
    except ValueError:
        return 0


class PostgresCluster:
    """One running cluster; :meth:`url` names a database of it for psycopg / the platform."""

    def __init__(self, root: Path, user: str) -> None:
        self.root = root
        self.user = user
        self._names = itertools.count(1)

    @property
    def socket_dir(self) -> Path:
        return self.root

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{dbname}?host={self.socket_dir}&port={PORT}"

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"{prefix}{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.split("/")[3].split("?")[0]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _as_server_user() -> tuple[list[str], str, int | None]:
    """The command prefix that runs a server binary, the role name, and the uid to own files."""
    if os.geteuid() != 0:
        return [], pwd.getpwuid(os.geteuid()).pw_name, None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError(
            "PostgreSQL refuses to run as root and there is no 'postgres' user to run it as: "
            "install Debian's postgresql package (scripts/setup.sh --test) or run as another user."
        ) from None
    return ["runuser", "-u", "postgres", "--"], "postgres", entry.pw_uid


@contextlib.contextmanager
def postgres_cluster(durable: bool = False):
    """Start a throwaway cluster; yield a :class:`PostgresCluster`; stop and remove it.

    ``durable=False`` (the tests) turns fsync off: a crash of this machine is not what the
    tests are about, and a commit then costs no disk flush. ``durable=True`` (the bench) keeps
    PostgreSQL's defaults (fsync and ``synchronous_commit`` on).
    """
    bindir = server_bindir()
    prefix, user, uid = _as_server_user()
    root = Path(tempfile.mkdtemp(prefix="hub-pg-", dir="/tmp"))
    data = root / "data"
    if uid is not None:
        os.chown(root, uid, -1)
    root.chmod(0o700)
    run = lambda *args: subprocess.run(  # noqa: E731
        [*prefix, *args], check=True, capture_output=True, text=True, timeout=120
    )
    try:
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            user,
            "--auth=trust",  # the socket's folder is 0700: only its owner (and root) get in
            "--no-sync",
            "--encoding=UTF8",
            "--locale=C",
        )
        options = [
            "-c listen_addresses=''",
            f"-c unix_socket_directories='{root}'",
            f"-c port={PORT}",
            "-c max_connections=200",
            "-c shared_buffers=64MB",
        ]
        if not durable:
            options += ["-c fsync=off", "-c full_page_writes=off"]
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "server.log"),
            "-o",
            " ".join(options),
            "-w",
            "-t",
            "60",
            "start",
        )
        try:
            yield PostgresCluster(root, user)
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    except subprocess.CalledProcessError as err:
        log = root / "server.log"
        detail = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(f"PostgreSQL did not start: {err.stderr or err.stdout}{detail}") from err
    finally:
        shutil.rmtree(root, ignore_errors=True)
