"""The serving benchmark's harness still works end to end (tiny mode: the bare limit, 1 s, c=1).

No timing is asserted: only that a real server was started, loaded by the real wrk, and that
the JSON result has the shape bench/report.py reads, with non-zero counts.
"""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_tiny_serving_run_writes_the_result_shape_the_report_reads(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "hub-home"))
    out = tmp_path / "serving.json"
    done = subprocess.run(
        [
            sys.executable, str(REPO / "bench" / "serving.py"), "--tiny", "--install-wrk",
            # The bare limit needs only uvicorn, Starlette and scikit-learn: the product's venv
            # has them, so the test does not need the peers' venv.
            "--peers-python", sys.executable, "--out", str(out),
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())

    assert result["kind"] == "serving"
    assert result["settings"]["runs"] == 1
    assert set(result["versions"]) == {"peers", "ours"}
    [server] = result["servers"]
    assert server["error"] is None, server["error"]
    assert (server["system"], server["config"], server["handler"]) == ("bare", "default", "echo")
    assert server["start_to_ready_s"] > 0
    assert server["cold_request_status"] == 200
    assert json.loads(server["sample_response"]) == {"output": {"text": "hello world", "n": 1}}
    assert server["idle_rss_mb"] > 0

    [cell] = server["cells"]
    assert cell["concurrency"] == 1 and cell["pinned"] is False
    [run] = cell["runs"]
    assert run["requests"] > 0 and run["ok"] == run["requests"]
    assert run["errors"] == 0
    assert run["rps"] > 0 and run["rss_mb"] > 0
    for metric in ("rps", "p50_ms", "p99_ms", "errors", "rss_mb"):
        assert set(cell[metric]) == {"median", "min", "max"}
    assert cell["p50_ms"]["median"] <= cell["p99_ms"]["median"]


def test_report_renders_a_tiny_result_and_says_what_is_missing(tmp_path):
    sys.path.insert(0, str(REPO / "bench"))
    import report

    serving = {
        "kind": "serving",
        "settings": {"runs": 1, "duration_s": 1, "payloads": {"echo": "{}"}, "load_generator": "wrk"},
        "versions": {"peers": {}, "ours": {}},
        "servers": [
            {
                "system": "bare", "config": "default", "handler": "echo", "error": None,
                "description": "uvicorn", "start_to_ready_s": 0.5, "cold_request_ms": 3.0,
                "idle_rss_mb": 40.0, "extra": {},
                "cells": [
                    {
                        "concurrency": 1, "pinned": False, "runs": [],
                        **{m: {"median": 1.0, "min": 1.0, "max": 1.0}
                           for m in ("rps", "p50_ms", "p99_ms", "errors", "rss_mb")},
                    }
                ],
            }
        ],
    }  # fmt: skip
    results = {
        "machine": {"cpu": "test cpu", "cores": 2},
        "load_before": {"loadavg": [0.1]},
        "load_after": {"loadavg": [0.1]},
        "sections": {
            "serving": {"status": "ok", "result": serving},
            "gateway": {
                "status": "missing",
                "result": None,
                "error": "bench/gateway_bench.* does not exist yet",
            },
        },
    }
    text = report.render(results)
    assert "test cpu" in text
    assert "| bare uvicorn+Starlette | default | 1 |" in text
    assert "**not measured**" in text  # ours and the peers are absent: the goals say so
    assert "**Missing:** bench/gateway_bench.* does not exist yet" in text
