"""The wizard's endpoints: create a project (real ``hub init``), copy model files as a job,
list projects, check a project's config, list folders."""

from __future__ import annotations

import asyncio
import json
import threading

from jupyter_hub_api.server.jobs.copy import CopyWork

from .conftest import fetch_json, follow, hub_init, post_json

MAIN_PY = """from hub import hub_handler


@hub_handler
def predict(inputs, context):
    return {"n": len(inputs)}
"""


async def test_create_a_project_with_requirements_main_py_and_model_files(
    jp_fetch, jp_ws_fetch, jp_root_dir
):
    (jp_root_dir / "data" / "weights").mkdir(parents=True)
    (jp_root_dir / "data" / "model.bin").write_bytes(b"\x01" * (3 << 20))
    (jp_root_dir / "data" / "weights" / "layer.npy").write_bytes(b"\x02" * 1000)
    (jp_root_dir / "apis").mkdir()
    status, created = await post_json(
        jp_fetch,
        "hub-api",
        "projects",
        body={
            "name": "sentiment",
            "template": "sklearn",
            "parent": "apis",
            "requirements": "scikit-learn>=1.4\n",
            "main_py": MAIN_PY,
            "model_files": ["data/model.bin", "data/weights"],
        },
    )
    assert status == 201, created
    project = jp_root_dir / "apis" / "sentiment"
    assert (
        created["project"]["path"] == "apis/sentiment" and created["project"]["name"] == "sentiment"
    )
    assert (project / "src" / "requirements.txt").read_text() == "scikit-learn>=1.4\n"
    assert (project / "src" / "main.py").read_text() == MAIN_PY
    assert created["job"]["kind"] == "model-files"

    events, jobs, _ = await follow(jp_ws_fetch, created["job"]["id"])
    assert jobs[-1]["state"] == "succeeded", jobs[-1]
    assert jobs[-1]["result"] == {
        "files": ["model/model.bin", "model/weights/layer.npy"],
        "bytes": (3 << 20) + 1000,
    }
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and progress[-1]["done"] == progress[-1]["total"] == (3 << 20) + 1000
    assert (project / "model" / "model.bin").read_bytes() == b"\x01" * (3 << 20)
    assert (project / "model" / "weights" / "layer.npy").stat().st_size == 1000
    assert not list(project.rglob("*.hub-partial"))

    status, check = await fetch_json(jp_fetch, "hub-api", "projects", "apis/sentiment", "config")
    assert status == 200 and check["valid"] and check["handler"] == "predict"
    assert check["config"]["name"] == "sentiment"

    # Copying the same file again would replace it: refused unless asked.
    status, error = await post_json(
        jp_fetch,
        "hub-api",
        "projects",
        "apis/sentiment",
        "model-files",
        body={"files": ["data/model.bin"]},
    )
    assert (
        status == 409 and error["reason"] == "file_exists" and "model/model.bin" in error["message"]
    )
    status, job = await post_json(
        jp_fetch,
        "hub-api",
        "projects",
        "apis/sentiment",
        "model-files",
        body={"files": ["data/model.bin"], "overwrite": True},
    )
    assert status == 202
    _, jobs, _ = await follow(jp_ws_fetch, job["id"])
    assert jobs[-1]["state"] == "succeeded"


async def test_bad_project_requests_say_what_is_wrong(jp_fetch, jp_root_dir):
    hub_init(jp_root_dir, "iris")
    cases = [
        ({"name": "My Model"}, "bad_name"),
        ({"name": "ok", "template": "cobol"}, "bad_template"),
        ({"name": "ok", "requirements": "numpy>>>1\n"}, None),
        ({"name": "ok", "model_files": ["missing.bin"]}, "not_found"),
        ({"name": "iris"}, None),  # exists: the CLI itself refuses
    ]
    for body, reason in cases:
        status, error = await post_json(jp_fetch, "hub-api", "projects", body=body)
        assert status == 400, (body, error)
        assert set(error) == {"message", "reason"}
        if reason:
            assert error["reason"] == reason, (body, error)
    assert not (jp_root_dir / "ok").exists()


async def test_listing_projects_and_checking_a_broken_config(jp_fetch, jp_root_dir):
    hub_init(jp_root_dir, "iris")
    (jp_root_dir / "team").mkdir()
    hub_init(jp_root_dir / "team", "churn")
    (jp_root_dir / "node_modules" / "x").mkdir(parents=True)
    (jp_root_dir / "node_modules" / "x" / "hub_config.json").write_text("{}")
    (jp_root_dir / ".hidden").mkdir()
    (jp_root_dir / ".hidden" / "hub_config.json").write_text("{}")

    status, listing = await fetch_json(jp_fetch, "hub-api", "projects")
    assert status == 200
    assert sorted(p["path"] for p in listing["projects"]) == ["iris", "team/churn"]

    config = json.loads((jp_root_dir / "iris" / "hub_config.json").read_text())
    config["runtime"] = {**config.get("runtime", {}), "max_workers": "many"}
    (jp_root_dir / "iris" / "hub_config.json").write_text(json.dumps(config))
    (jp_root_dir / "iris" / "src" / "main.py").write_text("def nothing():\n    pass\n")
    status, check = await fetch_json(jp_fetch, "hub-api", "projects", "iris", "config")
    assert status == 200 and not check["valid"]
    fields = {e["field"] for e in check["errors"]}
    assert "runtime.max_workers" in fields and "src/main.py" in fields

    status, folder = await fetch_json(jp_fetch, "hub-api", "files", params={"path": "iris/src"})
    assert status == 200 and folder["path"] == "iris/src"
    main = next(e for e in folder["entries"] if e["name"] == "main.py")
    assert main["type"] == "file" and main["size"] == len("def nothing():\n    pass\n")
    status, root = await fetch_json(jp_fetch, "hub-api", "files")
    assert next(e for e in root["entries"] if e["name"] == "iris")["is_project"] is True
    assert ".hidden" not in {e["name"] for e in root["entries"]}


async def test_templates_offer_the_requirements_and_main_py_that_hub_init_writes(
    jp_fetch, jp_root_dir
):
    status, data = await fetch_json(jp_fetch, "hub-api", "templates")
    assert status == 200
    by_name = {t["name"]: t for t in data["templates"]}
    assert set(by_name) == {"pytorch", "transformers", "keras", "sklearn", "blank"}
    project = hub_init(jp_root_dir, "tpl")
    assert (project / "src" / "main.py").read_text() == by_name["blank"]["main_py"]
    assert (project / "src" / "requirements.txt").read_text() == by_name["blank"]["requirements"]
    assert "@hub_handler" in by_name["sklearn"]["main_py"]


async def test_cancelling_a_model_file_copy_leaves_no_partial_file(
    jp_fetch, jp_ws_fetch, jp_root_dir, monkeypatch
):
    project = hub_init(jp_root_dir, "big")
    with open(jp_root_dir / "weights.bin", "wb") as f:
        f.truncate(64 << 20)  # sparse: quick to make, several chunks to copy
    # The copy waits at the file until the cancel has been answered: no race with its speed.
    reached, release = threading.Event(), threading.Event()

    def pause(item):
        reached.set()
        assert release.wait(60), "the test never released the copy"

    monkeypatch.setattr(CopyWork, "before_file", staticmethod(pause))
    status, job = await post_json(
        jp_fetch, "hub-api", "projects", "big", "model-files", body={"files": ["weights.bin"]}
    )
    assert status == 202
    assert await asyncio.to_thread(reached.wait, 60), "the copy never started"
    status, cancelling = await post_json(jp_fetch, "hub-api", "jobs", job["id"], "cancel")
    assert status == 202 and cancelling["state"] == "cancelling", cancelling
    release.set()
    events, jobs, _ = await follow(jp_ws_fetch, job["id"])
    assert jobs[-1]["state"] == "cancelled", jobs[-1]
    assert [e for e in events if e["event"] == "step"][-1]["status"] == "failed"
    assert list((project / "model").iterdir()) == []
