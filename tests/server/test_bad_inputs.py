"""Every bad input to the server extension is a 4xx with one sentence, never a 500 or a 503.

No platform runs here: the platform URL points at a closed port, so a request that got past
its checks would answer 503, which these tests would catch.
"""

from __future__ import annotations

import json
import socket

import pytest
from tornado.httpclient import HTTPClientError

from .conftest import fetch_json, hub_init, post_json


@pytest.fixture(autouse=True)
def no_platform(monkeypatch):
    """A platform URL nobody listens on (and a token, so nothing starts one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HUB_PLATFORM_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HUB_PLATFORM_TOKEN", "unused")


def _is_sentence(body) -> bool:
    return (
        isinstance(body, dict)
        and set(body) == {"message", "reason"}
        and body["message"].endswith(".")
        and "\n" not in body["message"]
        and "Traceback" not in body["message"]
    )


async def _expect(jp_fetch, parts, kwargs, status, reason):
    code, body = await fetch_json(jp_fetch, "hub-api", *parts, **kwargs)
    assert (code, body and body.get("reason")) == (status, reason), (parts, kwargs, body)
    assert _is_sentence(body), body


def _post(body) -> dict:
    return {"method": "POST", "body": body if isinstance(body, str) else json.dumps(body)}


async def test_job_bodies_with_missing_or_mistyped_fields_are_400s(jp_fetch, jp_root_dir):
    hub_init(jp_root_dir, "iris")
    cases = [
        ({}, "bad_kind"),
        ({"project": "iris"}, "bad_kind"),
        ({"kind": ["build"], "project": "iris"}, "bad_kind"),
        ({"kind": {"build": 1}, "project": "iris"}, "bad_kind"),
        ({"kind": 7, "project": "iris"}, "bad_kind"),
        ({"kind": "build"}, "not_a_project"),
        ({"kind": "build", "project": 5}, "bad_path"),
        ({"kind": "build", "project": ["iris"]}, "bad_path"),
        ({"kind": "build", "project": "iris\x00"}, "bad_path"),
    ]
    for body, reason in cases:
        await _expect(jp_fetch, ("jobs",), _post(body), 400, reason)
    # Not JSON, in the ways a fuzzer finds (RFC 8259 only: no NaN, no 1e400, no deep nesting).
    for text in ("{not json", "[1]", "null", '{"kind": NaN}', '{"n": 1e400}', "[" * 100_000):
        await _expect(jp_fetch, ("jobs",), _post(text), 400, "bad_json")
    status, listing = await fetch_json(jp_fetch, "hub-api", "jobs")
    assert status == 200 and listing["jobs"] == []  # none of them started a job


async def test_model_file_and_project_bodies_with_mistyped_fields_are_400s(jp_fetch, jp_root_dir):
    hub_init(jp_root_dir, "iris")
    (jp_root_dir / "w.bin").write_bytes(b"w")
    files = ("projects", "iris", "model-files")
    for body, reason in [
        ({}, "bad_request"),
        ({"files": "w.bin"}, "bad_request"),
        ({"files": []}, "bad_request"),
        ({"files": [3]}, "bad_path"),
        ({"files": [None]}, "bad_path"),
        ({"files": ["w.bin"], "overwrite": "no"}, "bad_request"),
    ]:
        await _expect(jp_fetch, files, _post(body), 400, reason)
    for body, reason in [
        ({}, "bad_name"),
        ({"name": 5}, "bad_name"),
        ({"name": "ok", "template": ["blank"]}, "bad_template"),
        ({"name": "ok", "parent": 3}, "bad_request"),
        ({"name": "ok", "parent": None}, "bad_request"),
        ({"name": "ok", "model_files": None}, "bad_request"),
        ({"name": "ok", "requirements": 1}, "bad_request"),
        ({"name": "ok", "main_py": ["x"]}, "bad_request"),
        ({"name": "ok", "model_files": "w.bin"}, "bad_request"),
        ({"name": "ok", "model_files": [1]}, "bad_path"),
    ]:
        await _expect(jp_fetch, ("projects",), _post(body), 400, reason)
    assert not (jp_root_dir / "ok").exists()
    assert not (jp_root_dir / "iris" / "model" / "w.bin").exists()


async def test_bad_offsets_limits_and_unknown_ids_are_400s_and_404s(jp_fetch, jp_root_dir):
    hub_init(jp_root_dir, "iris")
    _, job = await post_json(jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": "iris"})
    events = ("jobs", job["id"], "events")
    for offset in ("99999999999999999999", "9" * 5000, "-1", "abc", "1.5", "１２", ""):
        await _expect(jp_fetch, events, {"params": {"offset": offset}}, 400, "bad_argument")
    for limit in ("0", "10001", "x"):
        await _expect(jp_fetch, events, {"params": {"limit": limit}}, 400, "bad_argument")
    for limit in ("0", "1001", "-5", "1e3"):
        await _expect(jp_fetch, ("jobs",), {"params": {"limit": limit}}, 400, "bad_argument")
    # The largest offset accepted is simply past the end.
    status, page = await fetch_json(jp_fetch, "hub-api", *events, params={"offset": str(2**53 - 1)})
    assert status == 200 and page["events"] == []

    unknown = "f" * 32
    for parts, kwargs in [
        (("jobs", unknown), {}),
        (("jobs", unknown), {"method": "DELETE"}),
        (("jobs", unknown, "events"), {}),
        (("jobs", unknown, "cancel"), _post({})),
        (("jobs", unknown, "rerun"), _post({})),
        (("jobs", "no such job"), {}),
    ]:
        await _expect(jp_fetch, parts, kwargs, 404, "no_such_job")


async def test_platform_arguments_are_checked_before_the_platform_is_asked(jp_fetch):
    api = ("platform", "apis", "echo")
    for key, value in [
        ("tail", "abc"),
        ("tail", "-1"),
        ("tail", "100001"),
        ("after", "-1"),
        ("limit", "0"),
        ("limit", "5001"),
    ]:
        await _expect(jp_fetch, (*api, "logs"), {"params": {key: value}}, 400, "bad_argument")
    for limit in ("0", "1001", "many"):
        params = {"params": {"limit": limit}}
        await _expect(jp_fetch, (*api, "invocations"), params, 400, "bad_argument")
    for month in ("2026-13", "2026-00", "26-11", "2026-1", "november"):
        params = {"params": {"month": month}}
        await _expect(jp_fetch, ("platform", "usage"), params, 400, "bad_argument")


async def test_invoke_refuses_keys_no_key_can_be_before_calling_anything(jp_fetch):
    invoke = ("platform", "apis", "echo", "invoke")
    # Non-ASCII used to be a 500 (UnicodeEncodeError), CR/LF a 503 "not reachable".
    for key in ("clé", "abc\r\nx-evil: 1", "abc\n", "two words", "\t"):
        await _expect(jp_fetch, invoke, _post({"body": 1, "api_key": key}), 400, "bad_key")
    for body, reason in [
        ({"api_key": 5}, "bad_request"),
        ({"key_id": ["k"]}, "bad_request"),
        ({"key_id": None}, "bad_request"),
        ({"api_key": ""}, "bad_key"),
        ({"method": "post"}, "bad_request"),
        ({"method": "PUT"}, "bad_request"),
        ({"method": 3}, "bad_request"),
    ]:
        await _expect(jp_fetch, invoke, _post(body), 400, reason)


async def test_a_wrong_method_is_a_405_that_says_which_methods_are_allowed(jp_fetch):
    for parts, method, allow in [
        (("jobs",), "PUT", "GET, HEAD, POST, OPTIONS"),
        (("jobs", "x"), "POST", "GET, HEAD, DELETE, OPTIONS"),
        (("jobs", "x", "cancel"), "GET", "POST, OPTIONS"),
        (("templates",), "DELETE", "GET, HEAD, OPTIONS"),
        (("platform", "keys", "k"), "GET", "DELETE, PATCH, OPTIONS"),
    ]:
        body = "{}" if method in ("POST", "PUT", "PATCH") else None
        try:
            await jp_fetch("hub-api", *parts, method=method, body=body)
        except HTTPClientError as err:
            response = err.response
        else:
            raise AssertionError(f"{method} {parts} was answered")
        assert response.code == 405, (parts, method)
        assert response.headers["Allow"] == allow, (parts, response.headers.get("Allow"))
        assert _is_sentence(json.loads(response.body))


async def test_head_is_get_without_the_body(jp_fetch, jp_root_dir):
    hub_init(jp_root_dir, "iris")
    for parts in (("templates",), ("projects",), ("files",), ("projects", "iris", "config")):
        got = await jp_fetch("hub-api", *parts)
        head = await jp_fetch("hub-api", *parts, method="HEAD")
        assert head.code == 200 and head.body == b"", parts
        assert head.headers["Content-Type"] == got.headers["Content-Type"]
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("hub-api", "jobs", "x", "cancel", method="HEAD")
    assert info.value.code == 405


async def test_an_unknown_path_is_a_json_404(jp_fetch):
    for parts, method in [
        (("nope",), "GET"),
        (("platform", "keys", "k", "explode"), "POST"),
        (("jobs", "x", "events", "more"), "GET"),
    ]:
        body = "{}" if method == "POST" else None
        await _expect(jp_fetch, parts, {"method": method, "body": body}, 404, "not_found")


async def test_a_plain_get_of_the_watch_socket_says_to_upgrade(jp_fetch):
    try:
        await jp_fetch("hub-api", "jobs", "watch")
    except HTTPClientError as err:
        response = err.response
    else:
        raise AssertionError("a plain GET of jobs/watch was answered")
    assert response.code == 426 and response.headers["Upgrade"] == "websocket"
    assert _is_sentence(json.loads(response.body))


async def test_a_lone_surrogate_in_a_body_is_a_400_not_a_500(jp_fetch):
    """Found by Schemathesis: JSON's \\u escapes can spell half a UTF-16 pair, which Python
    decodes and every path or file name made of it then fails to encode, deep in a handler."""
    for body in (
        '{"name": "lone", "template": "blank", "parent": "\\ud800x"}',
        '{"name": "lone", "template": "sklearn", "model_files": ["\\udfd2"]}',
        '{"kind": "build", "project": "\\udc00"}',
    ):
        parts = ("jobs",) if '"kind"' in body else ("projects",)
        await _expect(jp_fetch, parts, _post(body), 400, "bad_json")


async def test_a_path_with_a_name_too_long_is_a_400_not_a_500(jp_fetch):
    """Found by Schemathesis: a 'parent' of 600 bytes made the folder check raise
    ENAMETOOLONG (a 500); the same for a model file and a project path."""
    long_name = "é" * 300  # 600 bytes in UTF-8
    for parts, body in (
        (("projects",), {"name": "longname", "template": "blank", "parent": long_name}),
        (("projects",), {"name": "longname", "template": "sklearn", "model_files": [long_name]}),
        (("jobs",), {"kind": "build", "project": f"a/{long_name}"}),
        (("projects",), {"name": "longname", "parent": "/".join(["abcdefgh"] * 500)}),
    ):
        await _expect(jp_fetch, parts, _post(body), 400, "bad_path")
