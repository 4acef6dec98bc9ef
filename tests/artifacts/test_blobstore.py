"""The content-addressed blob store: one copy per content, atomic verified writes."""

from __future__ import annotations

import hashlib
import io
import os
import stat

import pytest

from jupyter_hub_api.artifacts.blobstore import BlobStore
from jupyter_hub_api.errors import WorkError


@pytest.fixture
def store(tmp_path):
    return BlobStore(tmp_path / "blobs")


def test_a_file_is_stored_under_its_sha256_once(store, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)  # several read chunks
    source = tmp_path / "weights.bin"
    source.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()

    assert store.put_file(source) == (sha, len(data), len(data))
    assert store.path(sha) == store.root / "sha256" / sha[:2] / sha[2:]
    assert store.path(sha).read_bytes() == data
    # the same content again (even under another name) writes nothing
    copy = tmp_path / "copy.bin"
    copy.write_bytes(data)
    assert store.put_file(copy) == (sha, len(data), 0)
    assert store.has(sha)
    with store.open(sha) as fh:
        assert fh.read(4) == data[:4]


def test_blobs_are_read_only_so_hard_links_cannot_corrupt_them(store):
    sha = store.put_bytes(b"model")
    assert not store.path(sha).stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_a_known_sha_from_the_stat_cache_skips_reading(store, tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(b"abc")
    sha, _, _ = store.put_file(source)
    read = []
    assert store.put_file(source, progress=read.append, known_sha=sha) == (sha, 3, 0)
    assert read == []  # not even hashed


def test_progress_reports_every_byte_hashed(store, tmp_path):
    source = tmp_path / "f.bin"
    source.write_bytes(b"x" * 2_500_000)
    seen = []
    store.put_file(source, progress=seen.append)
    assert sum(seen) == 2_500_000


def test_missing_lists_each_absent_digest_once_in_order(store):
    present = store.put_bytes(b"here")
    a, b = "a" * 64, "b" * 64
    assert store.missing([a, present, b, a]) == [a, b]


def test_a_stream_that_does_not_match_its_digest_is_not_kept(store):
    with pytest.raises(WorkError, match="does not match"):
        store.put_stream(io.BytesIO(b"tampered"), expected="0" * 64)
    assert not store.has("0" * 64)
    assert list((store.root / "tmp").iterdir()) == []  # no temporary file left


def test_reading_an_absent_blob_says_what_to_do(store):
    with pytest.raises(WorkError, match="hub build"):
        store.open("c" * 64)


def test_a_malformed_digest_is_refused(store):
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


def _tamper(path, data=b"tampered"):
    """Change a blob in place, as a handler running as root could through a hard link."""
    os.chmod(path, 0o644)
    with open(path, "r+b") as fh:
        fh.write(data)
    os.chmod(path, 0o444)


def test_a_blob_changed_in_place_is_found_and_taken_out(store):
    sha = store.put_bytes(b"original weights")
    assert store.intact(sha)
    _tamper(store.path(sha))
    assert not store.intact(sha)
    assert not store.has(sha)  # so the next build stores it again instead of reusing it
    assert store.put_bytes(b"original weights") == sha
    assert store.path(sha).read_bytes() == b"original weights" and store.intact(sha)


def test_an_unchanged_blob_is_checked_without_reading_it(store):
    sha = store.put_bytes(b"x" * 100_000)
    read = []
    assert store.intact(sha, progress=read.append) and read == []
    os.utime(store.path(sha))  # its stat changed, its content did not: hashed once, then trusted
    assert store.intact(sha, progress=read.append) and sum(read) == 100_000
    assert store.intact(sha, progress=read.append) and sum(read) == 100_000


def test_an_edit_that_sets_the_mtime_back_is_caught_by_the_ctime(store):
    sha = store.put_bytes(b"original weights")
    before = store.path(sha).stat()
    _tamper(store.path(sha), b"Original weights")  # same size
    os.utime(store.path(sha), ns=(before.st_atime_ns, before.st_mtime_ns))
    assert not store.intact(sha)


def test_a_file_whose_blob_was_damaged_is_copied_again_by_put_file(store, tmp_path):
    source = tmp_path / "w.bin"
    source.write_bytes(b"original weights")
    sha, size, written = store.put_file(source)
    _tamper(store.path(sha))
    # Even with the digest known from the project's stat cache, it is not reused.
    assert store.put_file(source, known_sha=sha) == (sha, size, size)
    assert store.path(sha).read_bytes() == b"original weights"
