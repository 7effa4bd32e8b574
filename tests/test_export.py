"""Exports are safe to serve from: readable folders, whole versions only, one number per export."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from service.export_contract import METADATA_SCHEMA_VERSION
from service.model_store import resolve_version_dir
from training import export
from training.export import STAGING_PREFIX, publish


VALID_METADATA = {"schema_version": METADATA_SCHEMA_VERSION, "heads": ["slots"], "labels": {"slots": ["O"]}}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _staging(model_dir: Path, name: str) -> Path:
    staging = model_dir / f"{STAGING_PREFIX}{name}"
    (staging / "variables").mkdir(parents=True)
    (staging / "saved_model.pb").write_bytes(b"pb")
    return staging


def test_the_version_folder_has_a_normal_folders_permissions(tiny_model: Path) -> None:
    expected = 0o777 & ~_umask()
    assert tiny_model.stat().st_mode & 0o777 == expected
    assert (tiny_model / "metadata.json").stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert not list(tiny_model.parent.glob(f"{STAGING_PREFIX}*"))


def test_a_taken_number_moves_the_export_to_the_next(tmp_path: Path, monkeypatch) -> None:
    model_dir = tmp_path / "m"
    _staging(model_dir, "first").rename(model_dir / "1")
    answers = iter([1])  # as if another export took 1 between our look and our rename
    real = export.next_version
    monkeypatch.setattr(export, "next_version", lambda folder: next(answers, None) or real(folder))
    target = publish(_staging(model_dir, "second"), model_dir, {"name": "m"})
    assert target == model_dir / "2"
    assert json.loads((target / "metadata.json").read_text())["version"] == 2
    assert (model_dir / "1" / "saved_model.pb").read_bytes() == b"pb" and not (model_dir / "1" / "metadata.json").exists()


def test_exports_at_once_take_different_versions(tmp_path: Path) -> None:
    model_dir = tmp_path / "m"
    stagings = [_staging(model_dir, str(i)) for i in range(4)]
    targets: list[Path] = []
    threads = [threading.Thread(target=lambda s=s: targets.append(publish(s, model_dir, {}))) for s in stagings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(int(t.name) for t in targets) == [1, 2, 3, 4]
    for target in targets:
        assert json.loads((target / "metadata.json").read_text())["version"] == int(target.name)


def test_a_left_over_staging_folder_is_never_served_and_goes_once_stale(tmp_path: Path) -> None:
    model_dir = tmp_path / "m"
    publish(_staging(model_dir, "done"), model_dir, VALID_METADATA)
    old, fresh = _staging(model_dir, "old"), _staging(model_dir, "fresh")
    (old / "saved_model.pb").touch()
    os.utime(old, (0, 0))
    assert resolve_version_dir(model_dir) == model_dir / "1"
    export._remove_stale_staging(model_dir)
    assert not old.exists() and fresh.exists()
