"""The control plane's answers to what it does not serve or take: JSON errors of one sentence,
``Allow`` on a 405, HEAD wherever GET is, and the same refusals the OpenAPI document states."""

from __future__ import annotations

import calendar
import time

import pytest
import requests


def assert_error(resp, status: int, type_: str) -> dict:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["type"] == type_ and error["message"]
    return error


def test_a_method_a_path_does_not_serve_is_405_with_allow(platform):
    resp = platform.control("PUT", "/api/v1/keys")
    error = assert_error(resp, 405, "method_not_allowed")
    assert set(resp.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    assert "GET" in error["message"]
    resp = platform.control("POST", "/api/v1/apis/anything")
    assert_error(resp, 405, "method_not_allowed")
    assert set(resp.headers["allow"].split(", ")) == {"GET", "HEAD", "DELETE"}


def test_an_unknown_control_path_is_a_json_404(platform):
    assert_error(platform.control("GET", "/api/v1/nothing-here"), 404, "not_found")


def test_head_is_answered_like_get_without_a_body(platform):
    got = platform.control("GET", "/api/v1/keys")
    head = platform.control("HEAD", "/api/v1/keys")
    assert head.status_code == got.status_code == 200
    assert head.content == b"" and head.headers["content-length"] == str(len(got.content))
    assert requests.head(f"{platform.url}/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "26-11", "2026-1", "", "x" * 100])
def test_a_month_that_is_not_a_month_is_400(platform, month):
    error = assert_error(
        platform.control("GET", "/api/v1/usage", params={"month": month}), 400, "bad_request"
    )
    assert "2026-11" in error["message"]


@pytest.mark.parametrize(
    "path, params",
    [
        ("/api/v1/apis/behave/invocations", {"limit": "-1"}),
        ("/api/v1/apis/behave/invocations", {"limit": ""}),
        ("/api/v1/apis/behave/invocations", {"before": "nan"}),
        ("/api/v1/apis/behave/logs", {"tail": "abc"}),
        ("/api/v1/apis/behave/logs", {"follow": "perhaps"}),
    ],
)
def test_query_values_the_document_refuses_are_400(platform, behaviour_api, path, params):
    assert_error(platform.control("GET", path, params=params), 400, "bad_request")


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/api/v1/keys"),
        ("POST", "/api/v1/users"),
        ("PATCH", "/api/v1/keys/key_000000000000"),
        ("POST", "/api/v1/deployments"),
        ("POST", "/api/v1/apis/behave/rollback"),
    ],
)
@pytest.mark.parametrize("body", ["null", "[]", '"text"', "NaN", '{"name": Infinity}', "[" * 5000])
def test_a_body_that_is_not_a_json_object_is_400(platform, method, path, body):
    resp = platform.control(
        method, path, content=body, headers={"Content-Type": "application/json"}
    )
    error = assert_error(resp, 400, "bad_json")
    assert "Traceback" not in error["message"]


def test_a_key_name_given_as_null_or_empty_is_refused(platform):
    for name in (None, "", " leading space"):
        resp = platform.control("POST", "/api/v1/keys", json={"name": name})
        assert_error(resp, 400, "bad_name")


def test_an_api_summary_counts_its_calls_per_day_of_the_month(platform, behaviour_api):
    endpoint, key = behaviour_api

    def summary() -> dict:
        resp = platform.control("GET", "/api/v1/apis/behave")
        assert resp.status_code == 200, resp.text
        return resp.json()

    day = time.gmtime().tm_mday
    before = summary()
    for _ in range(3):
        resp = requests.post(endpoint, json={"op": "echo"}, headers={"x-api-key": key}, timeout=60)
        assert resp.status_code == 200, resp.text
    after = summary()
    if time.gmtime().tm_mday != day:
        pytest.skip("the day changed during the test")
    year, month = (int(part) for part in after["month"].split("-"))
    assert len(after["calls_per_day"]) == calendar.monthrange(year, month)[1]
    assert after["calls_per_day"][day - 1] - before["calls_per_day"][day - 1] == 3
    assert sum(after["calls_per_day"]) == after["calls_this_month"]
    listed = platform.control("GET", "/api/v1/apis").json()["apis"]
    assert [a["calls_per_day"] for a in listed if a["name"] == "behave"] == [after["calls_per_day"]]
