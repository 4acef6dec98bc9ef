"""One platform for a team: 50 users x 5 APIs — memory, dashboard pages, cold starts at once.

    python bench/scale_bench.py [--users 50] [--apis-per-user 5] [--wake 50] [--repeat 10]
                                [--json-out FILE]

On a real platform process (temporary HUB_HOME, free loopback port, a plan without limits):
one echo project is built once with the real CLI (`hub build`), and its build record is
deployed under ``--users`` x ``--apis-per-user`` API names, each user with their own token
(``POST /api/v1/users``), so every API shares one built environment. APIs scale to zero
after ``idle_seconds`` (20 s); the bench waits until every one is cold, then measures:

- memory: the platform's RSS with every API cold, and after ``--wake`` cold APIs were woken
  together the platform's RSS and the whole process tree's RSS and PSS (workers included);
- dashboard: ``GET /api/v1/apis`` of every user (``--repeat`` rounds, each user's own token),
  and the admin pages ``GET /api/v1/admin/users`` and ``/api/v1/admin/apis`` (every user's
  APIs), p50/p99 — against the same user page measured with 1 user x 1 API earlier in the same
  run (the ratio says what 250 APIs cost a page);
- cold starts at once: one POST to each of ``--wake`` cold APIs (of different users) at the
  same moment: time until all answered, failures, per-call p50/p99 — against one cold start
  alone measured in the same run.

Prints one JSON document (and writes it to ``--json-out``). Uses only the public HTTP API and
the CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_bench import ECHO_INPUT, Bench, _runtime, pct  # noqa: E402

from jupyter_hub_api.artifacts.records import last_build  # noqa: E402
from jupyter_hub_api.client.api import PlatformClient  # noqa: E402
from jupyter_hub_api.client.deploy import deploy_build  # noqa: E402
from jupyter_hub_api.errors import HubError  # noqa: E402
from jupyter_hub_api.events import EventWriter  # noqa: E402

IDLE_SECONDS = 20.0


class Quiet(EventWriter):
    """An event sink that drops the deploy's events."""

    def emit(self, event, **hints) -> None:
        pass


def stats(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values), 2),
        "p99_ms": round(pct(values, 99), 2),
    }


def timed_get(client: httpx.Client, path: str, token: str) -> float:
    start = time.perf_counter()
    resp = client.get(path, headers={"Authorization": f"Bearer {token}"})
    elapsed = (time.perf_counter() - start) * 1000
    if resp.status_code != 200:
        raise RuntimeError(f"GET {path}: {resp.status_code} {resp.text[:200]}")
    return elapsed


def tree_memory(pid: int) -> dict:
    """RSS of the platform, and RSS and PSS of it with every descendant (MB)."""
    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    rss = pss = 0
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return {
        "platform_rss_mb": round(root.memory_info().rss / 2**20, 1),
        "processes": len(procs),
        "tree_rss_mb": round(rss / 2**20, 1),
        "tree_pss_mb": round(pss / 2**20, 1),
    }


ERRORS: list[str] = []  # the first few error answers of the run, for the report


def call(endpoint: str, key: str) -> tuple[int, float]:
    start = time.perf_counter()
    try:
        resp = httpx.post(
            endpoint,
            headers={"x-api-key": key, "Content-Type": "application/json"},
            content=json.dumps(ECHO_INPUT),
            timeout=300,
        )
        status = resp.status_code
        if status != 200 and len(ERRORS) < 3:
            ERRORS.append(f"{status}: {resp.text[:300]}")
    except httpx.HTTPError as err:
        status = 0
        if len(ERRORS) < 3:
            ERRORS.append(f"no answer: {err}")
    return status, (time.perf_counter() - start) * 1000


def wait_cold(bench: Bench, tokens: dict[str, str], guard: float = 300) -> float:
    """Wait until every API of every user is cold (scaled to zero); the seconds waited."""
    start = time.monotonic()
    with httpx.Client(base_url=bench.url, timeout=60) as client:
        while True:
            warm = 0
            for token in tokens.values():
                apis = client.get(
                    "/api/v1/apis", headers={"Authorization": f"Bearer {token}"}
                ).json()["apis"]
                warm += sum(1 for a in apis if a["workers"])
            if not warm:
                return time.monotonic() - start
            if time.monotonic() - start > guard:
                raise RuntimeError(f"{warm} APIs still have workers after {guard} s")
            time.sleep(1.0)


def measure(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="plans-scale-bench-") as tmp:
        bench = Bench(Path(tmp))
        # No limit of any kind: the bench measures the platform, not the plan.
        (Path(tmp) / "bench-config.json").write_text(
            json.dumps(
                {
                    "plans": {
                        "free": {
                            "monthly_calls": None,
                            "rate_limit_per_second": 0,
                            "max_apis": None,
                        }
                    }
                }
            )
        )
        # This process reads the build record and the blob store of that HUB_HOME too.
        os.environ.update(HUB_HOME=bench.env["HUB_HOME"])
        bench.start()
        try:
            return _measure(bench, args)
        finally:
            bench.stop()
            log = Path(tmp) / "platform-bench.log"
            if log.exists():  # kept for a look after the run
                Path(tempfile.gettempdir(), "scale-bench-platform.log").write_bytes(
                    log.read_bytes()[-200_000:]
                )


def _measure(bench: Bench, args) -> dict:
    out: dict = {"users": args.users, "apis_per_user": args.apis_per_user}
    owner_token = (bench.home / "platform" / "token").read_text().strip()
    project = bench.echo_project()
    _runtime(project, idle_seconds=IDLE_SECONDS, max_workers=1)
    t0 = time.perf_counter()
    bench.hub("build", cwd=project)
    out["build_s"] = round(time.perf_counter() - t0, 2)
    record = last_build(project)

    failed: list[str] = []

    def deploy(token: str, name: str) -> str | None:
        """The endpoint, or None when the deploy failed (counted and reported)."""
        with PlatformClient(bench.url, token, timeout=300) as client:
            try:
                return deploy_build(dict(record, name=name), Quiet(), client)["endpoint"]
            except HubError as err:
                failed.append(f"{name}: {err.message[:300]}")
                return None

    # Baseline in the same run: one user with one API.
    first = deploy(owner_token, "echo-0")
    if first is None:
        raise RuntimeError(f"the first deploy failed: {failed}")
    with httpx.Client(base_url=bench.url, timeout=60) as client:
        for _ in range(3):
            timed_get(client, "/api/v1/apis", owner_token)
        base = [timed_get(client, "/api/v1/apis", owner_token) for _ in range(args.repeat * 5)]
    out["dashboard_1_api"] = stats(base)

    # The team: users (the owner is user 0) and their APIs, deployed 4 at a time.
    tokens = {bench.env["JUPYTERHUB_USER"]: owner_token}
    for i in range(1, args.users):
        resp = httpx.post(
            f"{bench.url}/api/v1/users",
            json={"name": f"user{i:03d}"},
            headers={"Authorization": f"Bearer {owner_token}"},
            timeout=60,
        )
        resp.raise_for_status()
        tokens[f"user{i:03d}"] = resp.json()["token"]
    jobs = [
        (user, token, f"echo-{j}")
        for user, token in tokens.items()
        for j in range(args.apis_per_user)
        if (user, j) != (bench.env["JUPYTERHUB_USER"], 0)
    ]
    endpoints: dict[tuple[str, str], str] = {(bench.env["JUPYTERHUB_USER"], "echo-0"): first}
    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        for (user, _, name), endpoint in zip(
            jobs, pool.map(lambda job: deploy(job[1], job[2]), jobs), strict=True
        ):
            if endpoint is not None:
                endpoints[(user, name)] = endpoint
    out["deploy_all_s"] = round(time.perf_counter() - t0, 2)
    out["apis"] = len(endpoints)
    out["deploy_failures"] = len(failed)
    out["deploy_failure_examples"] = failed[:3]
    keys = {}
    with httpx.Client(base_url=bench.url, timeout=60) as client:
        for user, token in tokens.items():
            auth = {"Authorization": f"Bearer {token}"}
            first_key = client.get("/api/v1/keys", headers=auth).json()["keys"][0]["id"]
            keys[user] = client.post(f"/api/v1/keys/{first_key}/reveal", headers=auth).json()[
                "secret"
            ]

    out["waited_for_cold_s"] = round(wait_cold(bench, tokens), 1)
    out["memory_all_cold"] = tree_memory(bench.proc.pid)

    # Dashboard pages with every API deployed.
    with httpx.Client(base_url=bench.url, timeout=60) as client:
        pages = [
            timed_get(client, "/api/v1/apis", token)
            for _ in range(args.repeat)
            for token in tokens.values()
        ]
        admin_users = [
            timed_get(client, "/api/v1/admin/users", owner_token) for _ in range(args.repeat * 2)
        ]
        admin_apis = [
            timed_get(client, "/api/v1/admin/apis", owner_token) for _ in range(args.repeat * 2)
        ]
    out["dashboard_user_page"] = stats(pages)
    out["dashboard_admin_users"] = stats(admin_users)
    out["dashboard_admin_all_apis"] = stats(admin_apis)
    out["dashboard_ratio_p50_vs_1_api"] = round(
        out["dashboard_user_page"]["p50_ms"] / out["dashboard_1_api"]["p50_ms"], 2
    )

    # One cold start alone (the owner's echo-0), then let it go cold again.
    status, alone = call(first, keys[bench.env["JUPYTERHUB_USER"]])
    out["cold_start_alone_ms"] = round(alone, 1)
    out["cold_start_alone_status"] = status
    wait_cold(bench, tokens)

    # --wake cold APIs of different users, woken at the same moment.
    deployed = sorted(endpoints, key=lambda t: (t[1], t[0]))  # echo-0 of everyone first
    wave = deployed[: args.wake]
    barrier = threading.Barrier(len(wave))

    def wake(target: tuple[str, str]) -> tuple[int, float]:
        barrier.wait(timeout=120)
        return call(endpoints[target], keys[target[0]])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(wave)) as pool:
        results = list(pool.map(wake, wave))
    all_answered = (time.perf_counter() - t0) * 1000
    latencies = [ms for status, ms in results if status == 200]
    out["cold_wave"] = {
        "apis": len(wave),
        "all_answered_ms": round(all_answered, 1),
        "failures": sum(1 for status, _ in results if status != 200),
        "statuses": sorted({status for status, _ in results}),
        **(stats(latencies) if latencies else {}),
        "ratio_all_answered_vs_one_alone": round(all_answered / alone, 2),
    }
    out["memory_after_wave"] = tree_memory(bench.proc.pid)
    workers = out["memory_after_wave"]["processes"] - out["memory_all_cold"]["processes"]
    if workers > 0:
        out["memory_after_wave"]["pss_mb_per_woken_api"] = round(
            (out["memory_after_wave"]["tree_pss_mb"] - out["memory_all_cold"]["tree_pss_mb"])
            / len(wave),
            1,
        )
    out["error_examples"] = ERRORS
    out["load_average"] = [round(x, 2) for x in psutil.getloadavg()]
    out["cpus"] = psutil.cpu_count()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--apis-per-user", type=int, default=5)
    parser.add_argument("--wake", type=int, default=50, help="cold APIs woken together")
    parser.add_argument("--repeat", type=int, default=10, help="rounds of dashboard pages")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    if (
        args.users < 1
        or args.apis_per_user < 1
        or not 1 <= args.wake <= args.users * args.apis_per_user
    ):
        parser.error("--users and --apis-per-user must be 1 or more, --wake 1..users*apis-per-user")
    result = {"scale": measure(args)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
