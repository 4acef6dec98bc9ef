"""Quotas and rate limits: exact counts, the right 429s, and what counts."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from platform_helpers import PlatformProcess

SMALL_QUOTA = 20


@pytest.fixture
def small(tmp_path):
    """A platform whose default plan allows SMALL_QUOTA calls, and a rate-limited plan.

    One per test: a test's calls count against the quota, so none may see another's.
    """
    config = {
        "plans": {
            "small": {"monthly_calls": SMALL_QUOTA, "rate_limit_per_second": 0},
            "slow": {"monthly_calls": 1000, "rate_limit_per_second": 1, "rate_limit_burst": 3},
        },
        "default_plan": "small",
        "users": {"slowpoke": {"plan": "slow"}},
    }
    proc = PlatformProcess(tmp_path, config).start()
    yield proc
    proc.stop()


def usage_calls(platform, token=None):
    return platform.control("GET", "/api/v1/usage", token).json()["total_calls"]


def test_exact_count_under_64_concurrent_clients(small):
    endpoint = small.deploy(small.make_project("counted", runtime={"max_workers": 2}))["endpoint"]
    key = small.key()
    barrier = threading.Barrier(64)

    def client() -> list[int]:
        session = requests.Session()
        headers = {"x-api-key": key, "Content-Type": "application/json"}
        barrier.wait(timeout=120)
        statuses = []
        for i in range(3):
            resp = session.post(endpoint, headers=headers, data=json.dumps(i), timeout=60)
            statuses.append(resp.status_code)
            if resp.status_code == 429:
                assert resp.json()["body"]["error"]["type"] == "quota_exceeded"
                assert int(resp.headers["retry-after"]) > 0
        return statuses

    with ThreadPoolExecutor(64) as pool:
        futures = [pool.submit(client) for _ in range(64)]
        # .result() raises here what failed in a client thread (an assertion included).
        statuses = [status for future in futures for status in future.result()]
    assert len(statuses) == 192
    assert statuses.count(200) == SMALL_QUOTA
    assert statuses.count(429) == 192 - SMALL_QUOTA
    assert usage_calls(small) == SMALL_QUOTA
    me = small.control("GET", "/api/v1/me").json()
    assert me["calls_this_month"] == SMALL_QUOTA


def test_per_key_rate_limit_is_429_with_retry_after(small):
    token = small.add_user("slowpoke")
    project = small.make_project("limited")
    endpoint = small.deploy(project, token=token)["endpoint"]
    assert "/slowpoke/limited" in endpoint
    key = small.key(token)
    session = requests.Session()
    headers = {"x-api-key": key, "Content-Type": "application/json"}
    statuses = [session.post(endpoint, headers=headers, data="1", timeout=30) for _ in range(8)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, [r.status_code for r in statuses]
    assert limited[0].json()["body"]["error"]["type"] == "rate_limited"
    assert int(limited[0].headers["retry-after"]) >= 1
    # Rate-limited requests are not counted.
    assert usage_calls(small, token) == sum(r.status_code == 200 for r in statuses)


def test_what_counts_handler_errors_yes_refusals_and_crashes_no(launch_platform):
    proc = launch_platform(
        {"plans": {"free": {"monthly_calls": 4, "rate_limit_per_second": 0}}},
    )
    try:
        endpoint = proc.deploy(proc.make_project("what-counts", runtime={"timeout_seconds": 1}))[
            "endpoint"
        ]
        key = proc.key()
        h = {"x-api-key": key, "Content-Type": "application/json"}

        def post(data, headers=h):
            return requests.post(endpoint, headers=headers, data=data, timeout=60)

        assert post("not json").status_code == 400
        assert post("1", headers={}).status_code == 401
        assert requests.get(endpoint, headers=h, timeout=60).status_code == 200
        assert post(json.dumps({"op": "crash"})).status_code == 502
        assert post(json.dumps({"op": "sleep", "seconds": 10})).status_code == 504
        assert usage_calls(proc) == 0
        assert post(json.dumps({"op": "raise"})).status_code == 500  # counted: the handler answered
        assert [post("1").status_code for _ in range(4)] == [200, 200, 200, 429]
        usage = proc.control("GET", "/api/v1/usage").json()
        item = usage["apis"][0]
        assert (item["calls"], item["errors"], item["failures"]) == (4, 1, 2)
        assert usage["quota"]["remaining"] == 0
        # The CLI shows the same numbers.
        text = proc.hub("usage", check=True).stdout
        assert "4 of 4 calls" in text
    finally:
        proc.stop()


def test_the_1001st_call_of_the_month_is_429_with_the_default_plan(launch_platform):
    # The guide's free tier (1000 calls a month) unchanged; only the per-key rate limit is off
    # so the test can call quickly.
    proc = launch_platform({"plans": {"free": {"rate_limit_per_second": 0}}})
    try:
        plan = proc.control("GET", "/api/v1/me").json()["plan"]
        assert (plan["monthly_calls"], plan["max_apis"]) == (1000, 5)
        endpoint = proc.deploy(proc.make_project("thousand"))["endpoint"]
        session = requests.Session()
        session.headers.update({"x-api-key": proc.key(), "Content-Type": "application/json"})
        codes = [session.post(endpoint, data="1", timeout=30).status_code for _ in range(1000)]
        assert codes.count(200) == 1000
        last = session.post(endpoint, data="1", timeout=30)
        assert last.status_code == 429
        assert last.json()["statusCode"] == 429
        assert last.json()["body"]["error"]["type"] == "quota_exceeded"
        assert int(last.headers["retry-after"]) > 0
        assert usage_calls(proc) == 1000
    finally:
        proc.stop()
