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


def _server(system, config, handler="echo", rps=1.0, p50=1.0, ready=1.0, cold=10.0, idle=50.0):
    stat = lambda v: {"median": v, "min": v, "max": v}  # noqa: E731
    return {
        "system": system, "config": config, "handler": handler, "error": None,
        "description": f"{system} {config}", "start_to_ready_s": ready, "cold_request_ms": cold,
        "idle_rss_mb": idle, "extra": {},
        "cells": [
            {"concurrency": 16, "pinned": False, "runs": [], "rps": stat(rps),
             "p50_ms": stat(p50), "p99_ms": stat(p50 * 2), "errors": stat(0), "rss_mb": stat(100.0)}
        ],
    }  # fmt: skip


def test_the_report_compares_each_configuration_as_a_whole_and_not_start_to_ready():
    """Ours/default is judged against LitServe/default only, never with ours/tuned's figures."""
    sys.path.insert(0, str(REPO / "bench"))
    import report

    serving = {
        "settings": {"runs": 3, "duration_s": 10, "payloads": {}},
        "versions": {},
        "servers": [
            _server("bare", "default", rps=1000.0, p50=0.1),
            # Ours' default is slower than LitServe's default; ours' tuned is faster than both.
            _server("ours", "default", rps=50.0, p50=3.0, ready=0.1),
            _server("ours", "tuned", rps=500.0, p50=0.5, ready=0.1),
            _server("litserve", "default", rps=100.0, p50=2.0, ready=5.0),
        ],
    }
    lead, trail = report.lead_and_trail(serving)
    default_line = next(line for line in lead if "ours default vs LitServe default" in line)
    # Throughput and latency are behind for the default pair: not among its leads.
    assert "throughput" not in default_line and "p50 latency" not in default_line
    assert not any("ours tuned vs LitServe" in line for line in lead)  # no LitServe tuned
    throughput = next(line for line in trail if line.startswith("- throughput"))
    assert "ours default vs LitServe default in echo c16 (50.0 vs 100)" in throughput
    # Start to ready (ours 0.1 s vs 5 s) is never counted as a lead.
    assert not any("start to ready" in line for line in lead)
    goals = "\n".join(report.goals(serving, {}))
    assert "ours default: 50.0 req/s" in goals and "ours tuned: 500 req/s" in goals


def test_a_full_run_names_every_section_and_the_tutorial_only_on_request():
    sys.path.insert(0, str(REPO / "bench"))
    import run

    names = [name for name, *_ in run.SECTIONS]
    for section in (
        "build",
        "engine",
        "gateway",
        "logstream",
        "frontend",
        "control",
        "ray",
        "gateway_ab",
        "batch",
        "fork",
        "scale",
        "database",
        "sandbox",
        "journey",
    ):
        assert section in names, section
    assert run.OPT_IN == {"connections", "tutorial"}
    # Every section's script exists and declares the options of its full and quick passes.
    for name, stem, _, full, quick in run.SECTIONS:
        [script] = [p for p in (REPO / "bench").glob(f"{stem}.*") if p.suffix in (".py", ".js")]
        source = script.read_text()
        for option in (a for a in full + quick if a.startswith("--")):
            assert f'"{option}"' in source, f"{name}: {script.name} has no {option}"


def test_the_report_says_which_section_failed_or_was_skipped_instead_of_a_traceback():
    sys.path.insert(0, str(REPO / "bench"))
    import report
    import run

    names = ["serving", "profile", "bentoml_build", *(name for name, *_ in run.SECTIONS)]
    base = {"started_at": "T", "machine": {"cores": 2}}
    # Skipped: nothing ran.
    text = report.render({**base, "sections": {}})
    assert "- Serving was not measured in this run." in text
    assert (
        "### Adaptive batching and streaming (bench/batch_bench.py)\n\nNot run in this pass."
        in text
    )
    # Failed, with no result, or with a result of a shape the report does not know.
    for result in (None, "a text", {"servers": [{"system": "ours"}]}):
        sections = {
            n: {"name": n, "status": "failed", "result": result, "error": "exit code 1: boom"}
            for n in names
        }
        text = report.render({**base, "sections": sections})
        assert "**Failed:** exit code 1: boom." in text
        if result == "a text":  # serving's text is no result; the build's cannot be read
            assert "- Serving was not measured in this run." in text
            assert "- **Build: the figures could not be rendered** (AttributeError" in text
