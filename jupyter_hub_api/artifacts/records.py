"""Immutable build records: what a build is made of, by content.

A record (``paths.builds_dir()/<build_id>.json``, format in ARCHITECTURE.md "Build record")
lists the code files and model files of a build by sha256 (their bytes are in the blob store),
the validated config and the environment. ``build_id`` is the sha256 of the code manifest (with
the completed config), the environment key and the model manifest, so the same inputs always
give the same id and a record is never rewritten once it exists.

The project's ``.hub/last-build`` holds the id of its newest good build. It is written last, so
a build interrupted at any moment leaves the previous good build in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from .. import paths
from ..errors import UsageError, WorkError
from .blobstore import BlobStore

LAST_BUILD = Path(".hub") / "last-build"


def compute_build_id(
    code: list[dict], env_key: str, model: list[dict], config: dict | None = None
) -> str:
    """The id of a build: sha256 over the code manifest, environment key and model manifest.

    The completed ``hub_config.json`` counts as code: changing only a runtime setting (a
    timeout, the number of workers) or the version label makes a new build, which a deploy
    then rolls out.
    """
    canonical = json.dumps(
        {
            "code": _manifest_key(code),
            "config": config or {},
            "environment": env_key,
            "model": _manifest_key(model),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def make_record(config: dict, environment: dict, code: list[dict], model: list[dict]) -> dict:
    """A new record (not yet written). ``environment`` is ``{"key", "python", "requirements"}``."""
    return {
        "build_id": compute_build_id(code, environment["key"], model, config),
        "name": config["name"],
        "version": config["version"],
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": config,
        "environment": environment,
        "code": sorted(code, key=lambda e: e["path"]),
        "model": sorted(model, key=lambda e: e["path"]),
    }


def record_path(build_id: str) -> Path:
    """Where the record of ``build_id`` is (or would be) kept."""
    if not build_id or not all(c in "0123456789abcdef" for c in build_id) or len(build_id) != 64:
        raise UsageError(f"{build_id!r} is not a build id.", type="bad_build_id")
    return paths.builds_dir() / f"{build_id}.json"


def save_build(record: dict) -> dict:
    """Write ``record`` atomically; if a record with its id exists, keep and return that one."""
    target = record_path(record["build_id"])
    if target.is_file():
        return load_build(record["build_id"])
    _atomic_write(target, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def load_build(build_id: str) -> dict:
    """The record of ``build_id``; :class:`WorkError` when there is none."""
    target = record_path(build_id)
    try:
        return json.loads(target.read_text())
    except FileNotFoundError:
        raise WorkError(
            f"There is no build {build_id[:12]}… in {paths.builds_dir()}.",
            type="no_such_build",
            hint="Run `hub build` in the project folder first.",
        ) from None


def last_build(project_dir: Path) -> dict | None:
    """The record named by the project's ``.hub/last-build``, or ``None`` before any build."""
    marker = Path(project_dir) / LAST_BUILD
    try:
        build_id = marker.read_text().strip()
    except FileNotFoundError:
        return None
    if not build_id:
        return None
    try:
        return load_build(build_id)
    except (WorkError, UsageError):
        return None  # the data directory was cleared or moved: as if never built


def set_last_build(project_dir: Path, build_id: str) -> None:
    """Point the project's ``.hub/last-build`` at ``build_id`` (atomically)."""
    try:
        _atomic_write(Path(project_dir) / LAST_BUILD, build_id + "\n")
    except OSError as err:
        raise WorkError(
            f"Cannot write {Path(project_dir) / LAST_BUILD}: {err.strerror or err}.",
            type="project_read_only",
            hint="Make the project folder writable; the build itself is recorded as "
            f"{build_id[:12]}.",
        ) from None


def materialize(record: dict, store: BlobStore, dest_dir: Path) -> Path:
    """Lay out the files of ``record`` under ``dest_dir/src`` and ``dest_dir/model``.

    Source files are copied (a worker may write files beside them); model files are
    hard-linked to the blob store when it is on the same file system (no byte copied), else
    copied. Every blob is checked first (:meth:`BlobStore.intact`), so a blob changed in place
    is never laid out again. Returns ``dest_dir``. Raises :class:`WorkError` when a blob is
    missing or damaged.
    """
    dest_dir = Path(dest_dir)
    _check_blobs(record, store)
    for entry in record["code"]:
        target = _safe_join(dest_dir / "src", entry["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(store.path(entry["sha256"]), target)
    for entry in record["model"]:
        _link_model_file(store, entry, _safe_join(dest_dir / "model", entry["path"]))
    (dest_dir / "model").mkdir(parents=True, exist_ok=True)
    (dest_dir / "src").mkdir(parents=True, exist_ok=True)
    return dest_dir


def relink_model(record: dict, store: BlobStore, dest_dir: Path) -> int:
    """Make the model files of an existing version folder the store's blobs again.

    A model file that is no longer the same file as its blob (the blob was found damaged and
    stored again, or the file was replaced) is replaced atomically by a fresh link; workers
    that have it open keep what they read. Returns how many files were replaced.
    """
    dest_dir = Path(dest_dir)
    _check_blobs({**record, "code": []}, store)
    replaced = 0
    for entry in record["model"]:
        target = _safe_join(dest_dir / "model", entry["path"])
        blob = store.path(entry["sha256"])
        try:
            if os.path.samestat(os.stat(target), os.stat(blob)):
                continue
        except FileNotFoundError:
            pass
        _link_model_file(store, entry, target)
        replaced += 1
    return replaced


def _check_blobs(record: dict, store: BlobStore) -> None:
    shas = list(dict.fromkeys(e["sha256"] for e in record["code"] + record["model"]))
    bad = [sha for sha in shas if not store.intact(sha)]
    if bad:
        raise WorkError(
            f"The blob store lacks {len(bad)} file(s) of build {record['build_id'][:12]}… "
            "(missing, or changed since they were stored).",
            type="missing_blob",
            hint="Run `hub build` again in the project folder; it stores them again.",
        )


def _link_model_file(store: BlobStore, entry: dict, target: Path) -> None:
    """``target`` becomes a hard link to the entry's blob (a copy across file systems),
    swapped in atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    blob = store.path(entry["sha256"])
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(blob, tmp)
        linked = True
    except OSError:
        shutil.copyfile(blob, tmp)
        linked = False
    os.replace(tmp, target)
    if linked:
        store.refresh(entry["sha256"])  # the new link (and its rename) changed the blob's ctime


def _manifest_key(entries: list[dict]) -> list[list]:
    return sorted([e["path"], e["sha256"]] for e in entries)


def _safe_join(root: Path, relative: str) -> Path:
    """``root/relative``, refusing a path that would leave ``root`` (a tampered record)."""
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root.resolve()):
        raise WorkError(f"The build record names a path outside its folder: {relative!r}.")
    return root / relative


def _atomic_write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
