"""The wizard's edited main.py through the real server extension: ``POST /hub-api/projects``
writes ``main_py`` over the template's src/main.py after the scaffold, and refuses one too
large, before anything is created."""

from __future__ import annotations

from jupyter_hub_api.server.handlers_projects import MAX_MAIN_PY_BYTES

from .conftest import fetch_json, post_json

EDITED = '''"""Édité dans l'assistant."""
from hub import hub_handler


@hub_handler
def classify(inputs, context):
    return [{"label": "ok"} for _ in inputs]
'''


async def test_the_edited_main_py_replaces_the_templates_and_is_the_handler(jp_fetch, jp_root_dir):
    status, templates = await fetch_json(jp_fetch, "hub-api", "templates")
    assert status == 200
    sklearn = next(t for t in templates["templates"] if t["name"] == "sklearn")
    assert sklearn["main_py"] != EDITED
    status, created = await post_json(
        jp_fetch,
        "hub-api",
        "projects",
        body={"name": "edited", "template": "sklearn", "main_py": EDITED},
    )
    assert status == 201, created
    project = jp_root_dir / "edited"
    assert (project / "src" / "main.py").read_bytes() == EDITED.encode("utf-8")
    # The rest of the scaffold is the template's; no partial file is left behind.
    assert (project / "src" / "requirements.txt").read_text() == sklearn["requirements"]
    assert not list(project.rglob("*.hub-partial"))
    status, check = await fetch_json(jp_fetch, "hub-api", "projects", "edited", "config")
    assert status == 200 and check["valid"] and check["handler"] == "classify", check


async def test_a_main_py_over_1_mib_is_refused_before_anything_is_created(jp_fetch, jp_root_dir):
    # 2-byte characters: the limit is on UTF-8 bytes, not characters.
    text = "# " + "é" * (MAX_MAIN_PY_BYTES // 2)
    status, answer = await post_json(
        jp_fetch, "hub-api", "projects", body={"name": "big", "main_py": text}
    )
    assert status == 400, answer
    assert answer["reason"] == "bad_main_py", answer
    assert answer["message"] == (
        f"main_py is {len(text.encode())} bytes; keep src/main.py under 1 MiB (put data in "
        "model/ instead)."
    )
    assert not (jp_root_dir / "big").exists()
    # Exactly the limit is taken.
    text = "#" * MAX_MAIN_PY_BYTES
    status, created = await post_json(
        jp_fetch, "hub-api", "projects", body={"name": "at-limit", "main_py": text}
    )
    assert status == 201, created
    assert (jp_root_dir / "at-limit" / "src" / "main.py").read_text() == text
