"""The stat cache: unchanged files are not re-read; changed or just-written ones are."""

from __future__ import annotations

import io
import json
import os
import time

from jupyter_hub_api.artifacts.builder import run_build
from jupyter_hub_api.artifacts.statcache import StatCache
from jupyter_hub_api.cli.output import Output
from jupyter_hub_api.project.scaffold import init_project

HOUR_AGO = time.time() - 3600


def _age(path):
    os.utime(path, (HOUR_AGO, HOUR_AGO))


def test_a_file_unchanged_since_it_was_recorded_is_found(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    _age(f)
    cache = StatCache(tmp_path / "cache.json")
    cache.record(f, f.stat(), "a" * 64)
    cache.save()
    assert StatCache(tmp_path / "cache.json").lookup(f, f.stat()) == "a" * 64


def test_a_changed_file_is_not_found_even_with_the_same_size(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    _age(f)
    cache = StatCache(tmp_path / "cache.json")
    cache.record(f, f.stat(), "a" * 64)
    cache.save()
    f.write_bytes(b"xyz")  # same size, new mtime
    assert StatCache(tmp_path / "cache.json").lookup(f, f.stat()) is None


def test_a_file_modified_just_now_is_not_trusted(tmp_path):
    # Its content could still change within the same mtime tick: hash it again next time.
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    cache = StatCache(tmp_path / "cache.json")
    cache.record(f, f.stat(), "a" * 64)
    cache.save()
    assert StatCache(tmp_path / "cache.json").lookup(f, f.stat()) is None


def test_a_corrupt_cache_file_is_ignored(tmp_path):
    (tmp_path / "cache.json").write_text("{not json")
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    assert StatCache(tmp_path / "cache.json").lookup(f, f.stat()) is None


def test_a_rebuild_reads_no_unchanged_file(tmp_path):
    init_project("p", "blank", parent=tmp_path)
    project = tmp_path / "p"
    (project / "model" / "big.bin").write_bytes(os.urandom(3_000_000))
    for path in list(project.rglob("*")):
        if path.is_file():
            _age(path)

    def build():
        stream = io.StringIO()
        result = run_build(project, Output(json_mode=True, stream=stream))
        return result, [json.loads(line) for line in stream.getvalue().splitlines()]

    first, _ = build()
    assert first["files_hashed"] == 4 and first["model_bytes_written"] == 3_000_000
    second, events = build()
    assert second["files_hashed"] == 0 and second["model_bytes_written"] == 0
    assert second["build_id"] == first["build_id"]
    # progress still accounts for every byte, from the cache
    progress = [e for e in events if e["event"] == "progress"]
    assert (
        progress[-1]["done"]
        == progress[-1]["total"]
        == first["model_bytes"] + sum(e["size"] for e in first["record"]["code"])
    )
