"""API keys: the whole lifecycle through the CLI, and no key ever written in clear."""

from __future__ import annotations

import json
import sqlite3

import requests


def call(endpoint, key):
    return requests.post(
        endpoint,
        headers={"x-api-key": key, "Content-Type": "application/json"},
        data="1",
        timeout=30,
    )


def events(result):
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_key_lifecycle_create_reveal_disable_enable_delete(platform, behaviour_api):
    endpoint, _ = behaviour_api
    created = platform.hub("keys", "create", "ci-pipeline", "--json", check=True)
    key = events(created)[-1]
    assert key["name"] == "ci-pipeline" and key["secret"].startswith("hub_")
    assert call(endpoint, key["secret"]).status_code == 200

    listed = events(platform.hub("keys", "list", "--json", check=True))[-1]["keys"]
    entry = next(k for k in listed if k["id"] == key["id"])
    assert entry["enabled"] and entry["last_used_at"]
    assert key["secret"] not in json.dumps(listed)  # listings are masked

    revealed = platform.hub("keys", "reveal", "ci-pipeline", check=True).stdout.strip()
    assert revealed == key["secret"]

    platform.hub("keys", "disable", key["id"], check=True)
    resp = call(endpoint, key["secret"])
    assert resp.status_code == 403 and resp.json()["body"]["error"]["type"] == "disabled_key"

    platform.hub("keys", "enable", "ci-pipeline", check=True)
    assert call(endpoint, key["secret"]).status_code == 200

    platform.hub("keys", "delete", key["id"], "--yes", check=True)
    resp = call(endpoint, key["secret"])
    assert resp.status_code == 403 and resp.json()["body"]["error"]["type"] == "invalid_key"


def test_unknown_key_reference_is_a_usage_error(platform):
    result = platform.hub("keys", "reveal", "no-such-key")
    assert result.returncode == 2
    assert "no key 'no-such-key'" in result.stderr


def test_keys_are_never_stored_or_logged_in_clear(platform, behaviour_api):
    endpoint, _ = behaviour_api
    secret = events(platform.hub("keys", "create", "secret-check", "--json", check=True))[-1][
        "secret"
    ]
    call(endpoint, secret)
    call(endpoint, secret + "x")  # a wrong key is not logged either
    db = sqlite3.connect(platform.home / "platform" / "platform.db")
    dump = "\n".join(db.iterdump())
    db.close()
    assert secret not in dump
    for path in (platform.home / "platform").glob("*.log"):
        assert secret not in path.read_text(errors="replace")
    assert secret not in (platform.home / "test-platform.log").read_text(errors="replace")


def test_token_and_secret_files_are_private(platform):
    for name in ("token", "secret.key", "platform.db"):
        mode = (platform.home / "platform" / name).stat().st_mode & 0o777
        assert mode == 0o600, (name, oct(mode))


def test_control_plane_refuses_requests_without_the_token(platform):
    resp = requests.get(f"{platform.url}/api/v1/keys", timeout=10)
    assert resp.status_code == 401 and resp.json()["error"]["type"] == "missing_token"
    resp = requests.get(
        f"{platform.url}/api/v1/keys", headers={"Authorization": "Bearer wrong"}, timeout=10
    )
    assert resp.status_code == 401 and resp.json()["error"]["type"] == "invalid_token"


def test_users_see_only_their_own_keys(platform):
    carol = platform.add_user("carol")
    carol_keys = platform.control("GET", "/api/v1/keys", carol).json()["keys"]
    alice_keys = platform.control("GET", "/api/v1/keys").json()["keys"]
    assert {k["id"] for k in carol_keys}.isdisjoint({k["id"] for k in alice_keys})
    resp = platform.control("POST", f"/api/v1/keys/{alice_keys[0]['id']}/reveal", carol)
    assert resp.status_code == 404
