"""The gateway answers every request with the envelope and status of ARCHITECTURE.md (wire format)."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import pytest
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
    for value in ["text", 3, 2.5, [1, [2]], None, True, {"k": "v"}, 1e308, 1e-300, 10**300]:
        assert post(endpoint, key, json.dumps(value)).json()["body"]["output"] == value
    # Numbers that underflow are zero, as JSON parsers read them; "e000" in text is text.
    assert post(endpoint, key, "[1e-400]").json()["body"]["output"] == [0.0]
    assert post(endpoint, key, '"e000 E+999"').json()["body"]["output"] == "e000 E+999"


def test_body_that_is_not_json_is_400(behaviour_api):
    endpoint, key = behaviour_api
    assert_error(post(endpoint, key, "not json"), 400, "bad_json")
    assert_error(post(endpoint, key, ""), 400, "bad_json")


def test_a_utf8_body_may_start_with_a_byte_order_mark_and_other_encodings_are_400(behaviour_api):
    endpoint, key = behaviour_api
    text = json.dumps({"text": "naïve ✓"}, ensure_ascii=False)
    answer = post(endpoint, key, b"\xef\xbb\xbf" + text.encode()).json()
    assert answer["body"]["output"] == {"text": "naïve ✓"}  # RFC 8259 8.1: the mark is ignored
    for other in (text.encode("utf-16"), b'"na\xefve"'):  # UTF-16; Latin-1
        err = assert_error(post(endpoint, key, other), 400, "bad_json")
        assert "not UTF-8" in err["message"]


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


def usage_calls(platform) -> int:
    return platform.control("GET", "/api/v1/usage").json()["total_calls"]


@pytest.mark.parametrize(
    "body, why",
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("NaN", "NaN"),
        ('{"x": Infinity}', "Infinity"),
        ("[-Infinity]", "Infinity"),
        ("1e400", "too large"),
        ('{"x": [1, -2.5e999]}', "too large"),
        ("1" + "0" * 400 + ".5", "too large"),
    ],
    ids=["deep", "nan", "infinity", "minus-infinity", "1e400", "nested-overflow", "long"],
)
def test_what_is_not_rfc_8259_json_is_400_bad_json_and_not_counted(
    behaviour_api, platform, body, why
):
    endpoint, key = behaviour_api
    before = usage_calls(platform)
    err = assert_error(post(endpoint, key, body), 400, "bad_json")
    assert why in err["message"] and "Traceback" not in err["message"]
    assert usage_calls(platform) == before


def test_405_says_which_methods_are_allowed(behaviour_api):
    endpoint, key = behaviour_api
    for method in ("PUT", "DELETE", "PATCH", "TRACE"):
        resp = requests.request(method, endpoint, headers={"x-api-key": key}, timeout=10)
        assert_error(resp, 405, "method_not_allowed")
        assert resp.headers["allow"] == "GET, HEAD, POST, OPTIONS"


def test_head_is_answered_like_get_without_a_body(behaviour_api):
    endpoint, key = behaviour_api
    got = requests.get(endpoint, headers={"x-api-key": key}, timeout=60)
    head = requests.head(endpoint, headers={"x-api-key": key}, timeout=60)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == "application/json"
    assert int(head.headers["content-length"]) > 0
    assert requests.head(endpoint, timeout=10).status_code == 401


def raw_post(endpoint: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, dict]:
    """A POST with exactly these header lines (HTTP clients would tidy them)."""
    url = urlparse(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.putrequest("POST", url.path)
    for name, value in [*headers, ("Content-Length", str(len(body)))]:
        conn.putheader(name, value)
    conn.endheaders(body)
    resp = conn.getresponse()
    answer = json.loads(resp.read())
    conn.close()
    return resp.status, answer


def test_a_key_with_surrounding_whitespace_is_accepted(behaviour_api):
    endpoint, key = behaviour_api
    status, answer = raw_post(endpoint, [("x-api-key", f"  {key}\t ")], b'"padded"')
    assert status == 200 and answer["body"]["output"] == "padded"


def test_two_key_headers_are_400(behaviour_api):
    endpoint, key = behaviour_api
    status, answer = raw_post(
        endpoint, [("x-api-key", "hub_someone-elses-key"), ("x-api-key", key)], b"1"
    )
    assert status == 400 and answer["body"]["error"]["type"] == "bad_request"
    assert "more than one x-api-key" in answer["body"]["error"]["message"]
