"""A real local Ray cluster for the Ray engine's tests, on 127.0.0.1 only.

``ray.init()`` in the test process starts the cluster (GCS, raylet, their workers) as its
children and ``ray.shutdown()`` ends it; other processes (a platform under test) join it by its
address. Ray is the package's ``ray`` extra, which scripts/setup.sh --test installs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

# Ray would advertise the machine's outward address even when asked for 127.0.0.1; with this
# it uses the loopback address (read when ray is imported). No usage reports either.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
# The raylet waits this long for its agents (Python processes) to start: its default, about
# 15 s, is too short on a busy 2-core CI machine.
os.environ.setdefault("RAY_raylet_start_wait_time_s", "120")

# Logical CPUs of the test cluster: each replica reserves one (runtime.cpus), and a test may
# hold a few replicas at once; the machine's real cores are shared as usual.
CPUS = 8


@contextlib.contextmanager
def ray_cluster():
    """Start a local Ray cluster; yield its address (``host:port`` of the GCS)."""
    import ray

    # Short: Ray puts Unix sockets under it, whose paths are limited to 107 bytes.
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    try:
        for attempt in range(3):
            try:
                ray.init(
                    num_cpus=CPUS,
                    _temp_dir=temp,
                    _node_ip_address="127.0.0.1",
                    include_dashboard=False,
                    configure_logging=False,
                    log_to_driver=False,
                    namespace="jupyter-hub-api",
                )
                break
            except Exception:
                # Ray gives its raylet a fixed 30 s to register; a busy CI machine can take
                # longer. Start again rather than fail a test over the machine's load, after
                # ending what the failed start left running (shutdown() does not know it).
                ray.shutdown()
                _end_children_of(temp)
                if attempt == 2:
                    raise
        try:
            yield ray.get_runtime_context().gcs_address
        finally:
            from ray import serve

            with contextlib.suppress(Exception):
                serve.shutdown()
            ray.shutdown()
    finally:
        _end_children_of(temp)
        shutil.rmtree(temp, ignore_errors=True)


def _end_children_of(temp: str) -> None:
    """Kill this process's children that belong to the cluster under ``temp``."""
    import psutil

    ours = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            argv = child.cmdline()
            # Ray's processes name the cluster's folder in their arguments, or are renamed
            # "ray::<what>" (its agents and workers).
            if any(temp in arg for arg in argv) or (argv and argv[0].startswith("ray::")):
                ours.append(child)
    for child in ours:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(ours, timeout=10)
