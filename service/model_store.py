"""Find and load an exported model (TensorFlow Serving layout: `models/<name>/<version>/`).

Loading turns every way a model folder can be wrong into `ModelNotFound` or `ModelCorrupt`
with the path in the message, so the CLI and the REST workers never show a TF traceback.
The signature's outputs are checked against `metadata.json` here, once, so the predictor
can trust them on every batch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.errors import ModelCorrupt, ModelNotFound
from service.export_contract import (
    COMPILED_SIGNATURE,
    HEAD_OUTPUTS,
    METADATA_FILE,
    SIGNATURE,
    is_version_folder,
    metadata_problem,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """A loaded export: call `signature(tokens=...)`; `module` keeps its variables alive.

    `compiled_signature` is the XLA-compiled one for single sentences, None in exports made
    before it existed.
    """

    signature: Callable[..., dict[str, Any]]
    compiled_signature: Callable[..., dict[str, Any]] | None
    module: Any
    metadata: dict[str, Any]
    name: str
    version: int
    heads: tuple[str, ...]
    path: Path


def version_dirs(path: Path | str, pinned: int = 0) -> list[Path]:
    """The version folders `path` offers, newest first: `path` itself if it is a version folder,
    else its integer-named subfolders (TensorFlow Serving's rule, so a half-written export in a
    hidden temporary folder beside them is never picked); with `pinned`, only that version."""
    path = Path(path)
    if not path.is_dir():
        raise ModelNotFound(f"model path {path} does not exist or is not a folder")
    if (path / "saved_model.pb").is_file():
        return [path]
    versions = sorted(
        (p for p in path.iterdir() if p.is_dir() and is_version_folder(p.name)), key=lambda p: -int(p.name)
    )
    if pinned:
        versions = [p for p in versions if int(p.name) == pinned]
        if not versions:
            raise ModelNotFound(f"model path {path} has no version {pinned} (SLOT_TAGGER_MODEL_VERSION)")
    if versions:
        return versions
    if is_version_folder(path.name):
        return [path]  # a version folder without a SavedModel: the checks below say it is corrupt
    raise ModelNotFound(f"model path {path} holds no integer version folder (e.g. {path}/1)")


def resolve_version_dir(path: Path | str, pinned: int = 0) -> Path:
    """The version folder `check_model_folder` would pick."""
    return check_model_folder(path, pinned)[0]


def check_model_folder(path: Path | str, pinned: int = 0) -> tuple[Path, dict[str, Any]]:
    """The newest version folder whose files look servable, and its checked metadata, without
    importing TensorFlow; a newer broken folder is skipped, so it cannot stop the server.

    The gunicorn master calls this before it forks (TF's threads do not survive a fork), so a
    missing model stops `make serve` at once; loading the SavedModel tells the rest.
    """
    problems = []
    for version_dir in version_dirs(path, pinned):
        try:
            return version_dir, _check_files(version_dir)
        except ModelCorrupt as exc:
            problems.append(exc.message)
    raise ModelCorrupt(no_valid_version(Path(path), problems))


def no_valid_version(path: Path, problems: list[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    return f"no valid version under {path}: " + "; ".join(problems)


def _check_files(version_dir: Path) -> dict[str, Any]:
    if not (version_dir / "saved_model.pb").is_file():
        raise ModelCorrupt(f"{version_dir} has no saved_model.pb; was the export interrupted?")
    return _read_metadata(version_dir)


def load_model(path: Path | str, pinned: int = 0) -> LoadedModel:
    """Load the newest version under `path` whose files look servable (or the version folder
    `path`, or version `pinned`) and check it against the export contract."""
    import tensorflow as tf  # here, not at module level: see check_model_folder

    version_dir, metadata = check_model_folder(path, pinned)
    heads = tuple(metadata["heads"])
    try:
        module = tf.saved_model.load(str(version_dir))
    except Exception as exc:  # TF raises OSError, ValueError, DecodeError, OpError...
        raise ModelCorrupt(f"cannot load SavedModel at {version_dir}: {_first_line(exc)}") from exc
    signature = module.signatures.get(SIGNATURE)
    if signature is None:
        raise ModelCorrupt(f"SavedModel at {version_dir} has no '{SIGNATURE}' signature")
    compiled_signature = module.signatures.get(COMPILED_SIGNATURE)
    for present in (signature, compiled_signature):
        if present is not None:
            _check_outputs(present, metadata, version_dir)
    # The folder name is what TF Serving serves; metadata only speaks for a loose folder.
    version = int(version_dir.name if is_version_folder(version_dir.name) else metadata.get("version", 0))
    model = LoadedModel(
        signature=signature,
        compiled_signature=compiled_signature,
        module=module,
        metadata=metadata,
        name=str(metadata.get("name", version_dir.parent.name)),
        version=version,
        heads=heads,
        path=version_dir,
    )
    logger.info(
        "loaded model %s version %d from %s; heads %s; label counts %s",
        model.name,
        model.version,
        version_dir,
        ",".join(heads),
        {head: len(metadata["labels"].get(head, [])) for head in heads},
    )
    return model


def _read_metadata(version_dir: Path) -> dict[str, Any]:
    """Parse and check metadata.json: the heads it names decide which outputs we read."""
    meta_path = version_dir / METADATA_FILE
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelCorrupt(f"{meta_path} is missing; was the export interrupted?") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelCorrupt(f"{meta_path} is not readable JSON: {exc}") from exc
    problem = metadata_problem(metadata)
    if problem:
        raise ModelCorrupt(f"{meta_path}: {problem}")
    return metadata


def _check_outputs(signature: Any, metadata: dict[str, Any], version_dir: Path) -> None:
    """Fail at load, not mid-batch, when the signature lacks an output its heads promise, or
    ranks a different number of intents than metadata.json names."""
    heads = metadata["heads"]
    outputs = signature.structured_outputs
    expected = {"lengths"}.union(*(HEAD_OUTPUTS[head] for head in heads))
    missing = sorted(expected - set(outputs))
    if missing:
        raise ModelCorrupt(
            f"SavedModel at {version_dir} lacks outputs {missing} for heads {list(heads)}"
        )
    if "intent" in heads:
        ranked, named = outputs["intent_probabilities"].shape[-1], len(metadata["labels"]["intent"])
        if ranked != named:
            raise ModelCorrupt(
                f"SavedModel at {version_dir} gives {ranked} intent probabilities for the "
                f"{named} intents metadata.json names"
            )
    inputs = signature.structured_input_signature[1]
    if set(inputs) != {"tokens"}:
        raise ModelCorrupt(
            f"SavedModel at {version_dir} must take one input 'tokens', takes {sorted(inputs)}"
        )


def _first_line(exc: BaseException) -> str:
    """TF error texts run to pages; the first line says what happened."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
