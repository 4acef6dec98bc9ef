"""``hub build``: validate a project, store its files, prepare its environment, record the build.

The steps (each a named step of the command's output):

1. ``validate`` — hub_config.json against its schema, exactly one ``@hub_handler`` in
   ``src/main.py`` (read with ``ast``, not imported), requirements that parse;
2. ``store-files`` — every file of ``src/`` and ``model/`` into the blob store; unchanged files
   are recognised by a stat cache and neither re-read nor copied;
3. ``environment`` — the Python environment, reused when Python + requirements did not change;
4. ``record`` — the immutable build record, then ``.hub/last-build`` points at it (last, so an
   interruption at any moment leaves the previous good build in place);
5. ``image`` (with ``--image``) — ``docker build`` when an engine answers, else a plain note.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import paths
from ..errors import WorkError
from ..project.config import load_config
from ..project.files import walk_files
from ..project.handler_check import find_handler
from ..project.input_schema import handler_info
from ..project.locate import project_root
from ..project.requirements import project_requirements
from . import docker, records
from .blobstore import BlobStore, hash_file
from .environments import current_python, ensure_environment, runtime_dir
from .statcache import StatCache

# Emit at most one progress event per this many bytes hashed (plus one per file), so a large
# model does not flood the log panel.
PROGRESS_EVERY = 32 * 1024 * 1024


@dataclass
class StoreReport:
    """What storing a folder's files did."""

    entries: list[dict] = field(default_factory=list)
    total_bytes: int = 0
    bytes_written: int = 0
    files_hashed: int = 0


@dataclass
class Project:
    """A validated project: its folder, completed config, handler name and requirements."""

    root: Path
    config: dict
    handler: str
    requirements: str
    # -- console: the handler's input schema and whether it streams (project/input_schema.py)
    handler_info: dict = field(default_factory=dict)


def validate_project(path: Path | str | None = None) -> Project:
    """Check a project folder without building it; raises :class:`UsageError` on a problem."""
    root = project_root(path)
    config = load_config(root, default_python=current_python())
    handler = find_handler(root / "src" / "main.py")
    requirements = project_requirements(root, config)  # + numpy, Pillow unless opted out
    info = handler_info(root / "src" / "main.py", config)  # console: refuses a bad input_schema
    return Project(
        root=root, config=config, handler=handler, requirements=requirements, handler_info=info
    )


def run_build(path: Path | str | None, out, image: bool = False) -> dict:
    """Build the project at ``path`` (default: the current folder); return the result fields.

    The result holds ``build_id``, ``project``, ``name``, ``version``, ``env_key``,
    ``env_reused``, ``code_changed``, ``model_bytes_written``, ``code_bytes_written``,
    ``model_bytes``, ``files_hashed``, ``image`` and ``seconds``; the record itself is under
    ``record``.
    """
    started = time.monotonic()
    with out.step("validate", "Checking the project"):
        project = validate_project(path)
        out.info(
            f"  {project.config['name']} {project.config['version']}, Python "
            f"{project.config['python']}, handler {project.handler}()"
        )

    store = BlobStore(paths.blobs_dir())
    cache = StatCache(project.root / ".hub" / "stat-cache.json")
    with out.step("store-files", "Storing code and model files"):
        code_files = _list_files(project.root / "src", "src")
        model_files = _list_files(project.root / "model", "model")
        meter = _ByteMeter(out, sum(st.st_size for _, _, st in code_files + model_files))
        code = _store_files(code_files, "src", store, cache, meter)
        model = _store_files(model_files, "model", store, cache, meter)
        meter.finish()
        cache.save()
        if not model.entries:
            out.info(
                "  note: model/ is empty; copy your model files there (main.py reads MODEL_DIR)"
            )
        out.info(
            f"  model: {len(model.entries)} file(s), {human_bytes(model.total_bytes)}, "
            f"{human_bytes(model.bytes_written)} written; code: {len(code.entries)} file(s)"
        )

    with out.step("environment", "Preparing the Python environment"):
        env = ensure_environment(project.config["python"], project.requirements, out)
        out.info(
            f"  {'reused' if env.reused else 'created'} environment {env.key[:12]} "
            f"(Python {env.version})"
        )

    with out.step("record", "Recording the build"):
        previous = records.last_build(project.root)
        record = records.make_record(
            project.config,
            {"key": env.key, "python": env.version, "requirements": env.requirements},
            code.entries,
            model.entries,
        )
        # console: kept with the build (not part of its id: it is derived from the code and
        # config); the platform reports it and the test console offers a form from it.
        record["handler"] = project.handler_info
        record = records.save_build(record)
        records.set_last_build(project.root, record["build_id"])
        code_changed = previous is None or _manifest(previous["code"]) != _manifest(record["code"])
        # Saved again now that seconds have passed: entries dropped as "racy" at the first save
        # (files modified just before the build) are now safe to keep.
        cache.save()

    image_tag = None
    image_note = None
    if image:
        with out.step("image", "Building the Docker image"):
            ok, reason = docker.engine_available()
            if ok:
                image_tag = docker.build_image(project.root, record, runtime_dir(), out)
            else:
                image_note = f"Skipped the Docker image: {reason}."
                out.info(f"  {image_note}")

    return {
        "build_id": record["build_id"],
        "project": str(project.root),
        "name": record["name"],
        "version": record["version"],
        "handler": project.handler,
        "env_key": env.key,
        "env_path": str(env.path),
        "env_reused": env.reused,
        "code_changed": code_changed,
        "model_bytes": model.total_bytes,
        "model_bytes_written": model.bytes_written,
        "code_bytes_written": code.bytes_written,
        "files_hashed": code.files_hashed + model.files_hashed,
        "image": image_tag,
        "image_skipped": image_note,
        "seconds": round(time.monotonic() - started, 3),
        "record": record,
    }


def _list_files(folder: Path, label: str) -> list[tuple[str, Path, os.stat_result]]:
    if not folder.is_dir():
        return []
    return [(rel, path, path.stat()) for rel, path in walk_files(folder, label=f"{label}/")]


class _ByteMeter:
    """Progress of hashing in bytes, over src/ and model/ together, without flooding events."""

    def __init__(self, out, total: int) -> None:
        self.out, self.total, self.done, self.shown = out, total, 0, 0

    def __call__(self, n: int) -> None:
        self.done += n
        if self.done - self.shown >= PROGRESS_EVERY:
            self.shown = self.done
            self.out.progress(self.done, self.total, step="store-files", bytes_=True)

    def finish(self) -> None:
        if self.total:
            self.out.progress(self.total, self.total, step="store-files", bytes_=True)


def _store_files(files, label: str, store: BlobStore, cache: StatCache, meter) -> StoreReport:
    report = StoreReport()
    for rel, path, st in files:
        report.total_bytes += st.st_size
        known = cache.lookup(path, st)
        if known is None:
            report.files_hashed += 1
        try:
            sha, size, written = store.put_file(path, progress=meter, known_sha=known)
        except OSError as err:
            raise WorkError(
                f"Could not store {label}/{rel}: {err.strerror or err}.",
                type="store_failed",
                hint="Check that the file is readable and the disk has room, then build again.",
            ) from None
        if known is not None:
            meter(size)
        cache.record(path, st, sha)
        report.bytes_written += written
        report.entries.append({"path": rel, "sha256": sha, "size": size})
    return report


def verify_store(projects: list[Path], repair: bool, out) -> dict:
    """Re-hash every blob of the local store; with ``repair``, fix the damaged ones.

    A damaged blob (content that no longer matches its name) is taken out of the store and,
    when one of ``projects`` has a file with that content in ``src/`` or ``model/``, stored
    again from it. Returns ``{"blobs", "bytes", "damaged", "repaired", "removed"}`` (digests).
    """
    store = BlobStore(paths.blobs_dir())
    shas = store.shas()
    total = 0
    for sha in shas:
        try:
            total += store.path(sha).stat().st_size
        except FileNotFoundError:
            pass
    damaged: list[str] = []
    with out.step("verify", f"Checking {len(shas)} stored file(s)"):
        meter = _ByteMeter(out, total)
        for sha in shas:
            try:
                actual, _ = hash_file(store.path(sha), meter)
            except FileNotFoundError:
                continue  # removed meanwhile (another command)
            if actual != sha:
                damaged.append(sha)
                out.info(f"  damaged: {sha[:12]}… (its content now hashes to {actual[:12]}…)")
            else:
                store.refresh(sha)
        meter.finish()
    repaired: list[str] = []
    if repair and damaged:
        with out.step("repair", "Storing the damaged files again from the project"):
            for sha in damaged:
                store.remove_damaged(sha)
            wanted = set(damaged)
            for project in projects:
                cache = StatCache(project / ".hub" / "stat-cache.json")
                for folder in ("src", "model"):
                    for rel, path, st in _list_files(project / folder, folder):
                        if (cache.lookup(path, st) or hash_file(path)[0]) not in wanted:
                            continue
                        sha, _, _ = store.put_file(path)  # hashed again as it is copied
                        if sha in wanted:
                            wanted.discard(sha)
                            repaired.append(sha)
                            out.info(f"  repaired {sha[:12]}… from {folder}/{rel}")
    removed = [sha for sha in damaged if sha not in repaired] if repair else []
    return {
        "blobs": len(shas),
        "bytes": total,
        "damaged": damaged,
        "repaired": repaired,
        "removed": removed,
    }


def _manifest(entries: list[dict]) -> list[tuple[str, str]]:
    return sorted((e["path"], e["sha256"]) for e in entries)


def human_bytes(n: int) -> str:
    """``1.5 MB``-style size for people."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


__all__ = ["run_build", "validate_project", "verify_store", "human_bytes", "Project", "StoreReport"]
