"""The hosted `hub` CLI's spellings work: -p/--path, logs --hours/--save_dir, and the
invocation history the panel shows, through the real CLI against a real platform."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
import requests


@pytest.fixture(scope="module")
def parity_api(hosted_platform, tmp_path_factory):
    """A project built with `hub build -p` and deployed with `hub deploy --path` from elsewhere."""
    project = hosted_platform.make_project("parity")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    built = hosted_platform.hub("build", "-p", str(project), "--json", cwd=elsewhere)
    assert built.returncode == 0, built.stdout + built.stderr
    deployed = hosted_platform.hub("deploy", "--path", str(project), "--json", cwd=elsewhere)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    result = [json.loads(line) for line in deployed.stdout.splitlines()][-1]
    headers = {"x-api-key": hosted_platform.key(), "Content-Type": "application/json"}
    for n in range(3):
        body = {"op": "print", "lines": [f"line {n}"]}
        resp = requests.post(result["endpoint"], headers=headers, json=body, timeout=120)
        assert resp.json()["body"]["output"] == 1
    requests.post(
        result["endpoint"], headers=headers, json={"op": "raise", "msg": "x"}, timeout=120
    )
    return project


def test_build_refuses_two_different_folders(hosted_platform, parity_api, tmp_path):
    run = hosted_platform.hub("build", str(tmp_path), "-p", str(parity_api))
    assert run.returncode == 2
    assert "Two project folders" in run.stderr and "Traceback" not in run.stderr


def _add_old_line(hosted_platform, api: str, hours_ago: float) -> None:
    """A log line printed ``hours_ago`` (written as the platform writes its lines)."""
    with sqlite3.connect(hosted_platform.home / "platform" / "platform.db", timeout=30) as db:
        (api_id,) = db.execute("SELECT id FROM apis WHERE name = ?", (api,)).fetchone()
        db.execute(
            "INSERT INTO logs (api_id, version_id, invocation_id, ts, stream, line)"
            " VALUES (?, NULL, NULL, ?, 'stdout', 'an old line')",
            (api_id, time.time() - hours_ago * 3600),
        )


def test_logs_hours_keeps_only_the_last_hours_and_save_dir_writes_a_file(
    hosted_platform, parity_api, tmp_path
):
    _add_old_line(hosted_platform, "parity", hours_ago=2)
    everything = hosted_platform.hub("logs", "parity", "--tail", "1000", "--json")
    lines = [json.loads(e).get("line") for e in everything.stdout.splitlines()]
    assert "an old line" in lines and "line 0" in lines

    recent = hosted_platform.hub("logs", "parity", "--hours", "1", "--json")
    lines = [json.loads(e).get("line") for e in recent.stdout.splitlines()]
    assert "an old line" not in lines
    assert {"line 0", "line 1", "line 2", "to stderr"} <= set(lines)

    save_dir = tmp_path / "logs"
    run = hosted_platform.hub("logs", "parity", "--hours", "3", "--save_dir", str(save_dir))
    assert run.returncode == 0, run.stderr
    (saved,) = list(save_dir.iterdir())
    assert saved.name.startswith("parity-") and saved.suffix == ".log"
    assert f"to {saved}." in run.stdout  # the sentence says where
    text = saved.read_text()
    assert "an old line" in text and "line 2" in text and "stderr to stderr" in text


def test_logs_save_dir_with_follow_is_refused_in_one_sentence(hosted_platform, parity_api):
    run = hosted_platform.hub("logs", "parity", "--follow", "--save_dir", "x")
    assert run.returncode == 2 and "does not go with --follow" in run.stderr


def test_invocations_lists_inputs_and_outputs_newest_first(hosted_platform, parity_api):
    run = hosted_platform.hub("invocations", "parity", "--json")
    assert run.returncode == 0, run.stderr
    items = json.loads(run.stdout)["invocations"]
    assert [i["status"] for i in items] == [500, 200, 200, 200]
    assert json.loads(items[1]["input"]) == {"op": "print", "lines": ["line 2"]}
    assert json.loads(items[1]["output"]) == 1
    assert items[0]["error_message"] == "bad input: x"

    one = hosted_platform.hub("invocations", "--limit", "1", "--json", cwd=parity_api)
    assert [i["id"] for i in json.loads(one.stdout)["invocations"]] == [items[0]["id"]]

    table = hosted_platform.hub("invocations", "parity")
    assert table.returncode == 0
    assert '"line 1"' in table.stdout and "ValueError: bad input: x" in table.stdout
    assert items[2]["id"] in table.stdout

    errors = hosted_platform.hub("invocations", "parity", "--errors", "--json")
    assert [i["status"] for i in json.loads(errors.stdout)["invocations"]] == [500]


@pytest.mark.parametrize("limit", ["0", "1001", "many"])
def test_invocations_refuses_a_limit_out_of_range(hosted_platform, parity_api, limit):
    run = hosted_platform.hub("invocations", "parity", "--limit", limit)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "--limit" in run.stderr
