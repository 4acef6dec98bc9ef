"""The gateway answers every request with the envelope and status of DESIGN.md 3.3."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import requests


def post(endpoint, key, data, **headers):
    h = {"x-api-key": key, "Content-Type": "application/json", **headers}
    return requests.post(endpoint, headers=h, data=data, timeout=60)


def assert_error(resp, status, type_=None):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["statusCode"] == status
    assert set(body["body"]["error"]) >= {"type", "message"}
    assert body["body"]["error"]["message"]
    if type_:
        assert body["body"]["error"]["type"] == type_
    return body["body"]["error"]


def test_get_loads_the_api_and_post_answers_with_output_and_invocation_id(behaviour_api):
    endpoint, key = behaviour_api
    ready = requests.get(endpoint, headers={"x-api-key": key}, timeout=60).json()
    assert ready["statusCode"] == 200 and ready["body"]["status"] == "ready"
    body = post(endpoint, key, json.dumps({"a": [1, 2.5, "x", None]})).json()
    assert body["statusCode"] == 200
    assert body["body"]["output"] == {"a": [1, 2.5, "x", None]}
    assert body["body"]["invocation_id"]


def test_any_json_value_is_accepted(behaviour_api):
    endpoint, key = behaviour_api
    for value in ["text", 3, 2.5, [1, [2]], None, True, {"k": "v"}]:
        assert post(endpoint, key, json.dumps(value)).json()["body"]["output"] == value


def test_body_that_is_not_json_is_400(behaviour_api):
    endpoint, key = behaviour_api
    assert_error(post(endpoint, key, "not json"), 400, "bad_json")
    assert_error(post(endpoint, key, ""), 400, "bad_json")


def test_missing_key_is_401(behaviour_api):
    endpoint, _ = behaviour_api
    assert_error(requests.post(endpoint, data="1", timeout=10), 401, "missing_key")
    assert_error(requests.get(endpoint, timeout=10), 401, "missing_key")


def test_unknown_key_is_403_and_the_key_is_not_echoed(behaviour_api):
    endpoint, _ = behaviour_api
    resp = post(endpoint, "hub_not-a-real-key-123456", "1")
    err = assert_error(resp, 403, "invalid_key")
    assert "not-a-real-key" not in resp.text and err


def test_unknown_api_is_404(behaviour_api, platform):
    _, key = behaviour_api
    assert_error(post(platform.endpoint("no-such-api"), key, "1"), 404, "not_found")


def test_another_users_key_is_403(behaviour_api, platform):
    endpoint, _ = behaviour_api
    bob_token = platform.add_user("bob")
    bob_key = platform.key(bob_token)
    assert_error(post(endpoint, bob_key, "1"), 403, "forbidden")
    # Also for an API of alice's that does not exist: no probing of other users' API names.
    assert_error(post(platform.endpoint("nothing-here"), bob_key, "1"), 403, "forbidden")


def test_body_over_the_limit_is_413_from_content_length(behaviour_api):
    endpoint, key = behaviour_api
    big = json.dumps("x" * (6 * 1024 * 1024 + 10))
    assert_error(post(endpoint, key, big), 413, "payload_too_large")


def test_body_over_the_limit_is_413_while_reading_a_chunked_body(behaviour_api):
    endpoint, key = behaviour_api
    url = urlparse(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    def chunks():
        yield b'"'
        for _ in range(7):
            yield b"x" * (1024 * 1024)
        yield b'"'

    conn.request(
        "POST",
        url.path,
        body=chunks(),
        headers={"x-api-key": key, "Content-Type": "application/json"},
        encode_chunked=True,
    )
    resp = conn.getresponse()
    assert resp.status == 413
    assert json.loads(resp.read())["body"]["error"]["type"] == "payload_too_large"


def test_handler_exception_is_500_with_message_and_traceback_in_logs(behaviour_api, platform):
    endpoint, key = behaviour_api
    resp = post(endpoint, key, json.dumps({"op": "raise", "msg": "nope"}))
    err = assert_error(resp, 500)
    assert "bad input: nope" in err["message"]
    assert "Traceback" not in resp.text
    inv = resp.json()["body"]["invocation_id"]
    logs = platform.control("GET", "/api/v1/apis/behave/logs", params={"invocation_id": inv}).json()
    assert any(
        "Traceback" in line["line"] or "ValueError" in line["line"] for line in logs["lines"]
    )


def test_worker_crash_is_502_then_the_api_answers_again(behaviour_api):
    endpoint, key = behaviour_api
    assert_error(post(endpoint, key, json.dumps({"op": "crash"})), 502)
    assert post(endpoint, key, json.dumps("after crash")).json()["body"]["output"] == "after crash"


def test_timeout_is_504_then_the_api_answers_again(behaviour_api):
    endpoint, key = behaviour_api
    assert_error(post(endpoint, key, json.dumps({"op": "sleep", "seconds": 30})), 504)
    assert (
        post(endpoint, key, json.dumps("after timeout")).json()["body"]["output"] == "after timeout"
    )


def test_other_methods_are_refused_with_the_envelope(behaviour_api):
    endpoint, key = behaviour_api
    resp = requests.put(endpoint, headers={"x-api-key": key}, data="1", timeout=10)
    assert_error(resp, 405)


def test_cors_preflight_allows_browser_clients(behaviour_api):
    endpoint, _ = behaviour_api
    resp = requests.options(endpoint, timeout=10)
    assert resp.status_code == 204
    assert "x-api-key" in resp.headers["access-control-allow-headers"]
