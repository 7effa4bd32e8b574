"""Which model version a worker serves, and switching to a new one without a failed request.

The policy is TensorFlow Serving's: serve the newest valid version under `SLOT_TAGGER_MODEL`, or
the one `SLOT_TAGGER_MODEL_VERSION` pins. A version is valid when its SavedModel loads, its
signatures and metadata keep the export contract, and a warm-up sentence tags; an invalid one is
logged once, with the reason, and skipped, so one broken new folder never stops the server.

Every `SLOT_TAGGER_POLL_SECONDS`, a thread in each worker looks for a newer version. It loads and
warms it up beside the one being served, at the lowest CPU priority so serving keeps the cores
(tests/bench_rollout.py measures what is left), then swaps the app's `Tagger` in one assignment, so
requests keep being answered by the old version until then, and a request started on it finishes
on it; the old one is released when its last request ends. Each worker switches on its own poll,
so for up to one interval (plus the load) workers may serve different versions; a client's
keep-alive connection stays on one worker and never sees a version older than one it has seen.
A pinned version, or a version folder named directly, is never switched.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from flask import Flask

from service.api.tagger import EXTENSION, Tagger, build_tagger
from service.errors import ModelCorrupt, SlotTaggerError
from service.model_store import load_model, no_valid_version, version_dirs
from service.settings import Settings

logger = logging.getLogger(__name__)


def init_app(app: Flask, settings: Settings) -> None:
    """Serve the newest valid version now; follow newer ones unless the version is pinned."""
    rejected: dict[Path, str] = {}
    app.extensions[EXTENSION] = newest_valid(settings, rejected)
    if not settings.model_version and not (Path(settings.model) / "saved_model.pb").is_file():
        thread = threading.Thread(target=_follow, args=(app, settings, rejected), name="model-poller", daemon=True)
        thread.start()


def newest_valid(settings: Settings, rejected: dict[Path, str], newer_than: int = 0) -> Tagger | None:
    """The newest valid version above `newer_than`, loaded and warmed up; versions found invalid
    go into `rejected` (path -> reason) and are not tried again. None if there is no newer one;
    ModelCorrupt if there is no valid version at all (and `newer_than` is 0)."""
    for version_dir in version_dirs(settings.model, settings.model_version):
        if version_dir in rejected:
            continue
        if newer_than and int(version_dir.name) <= newer_than:
            break
        try:
            return build_tagger(load_model(version_dir), settings)
        except Exception as exc:  # TF raises many kinds; each means this version cannot be served
            rejected[version_dir] = exc.message if isinstance(exc, SlotTaggerError) else f"{type(exc).__name__}: {exc}"
            logger.error("skipping model version %s: %s", version_dir, rejected[version_dir])
    if newer_than:
        return None
    raise ModelCorrupt(no_valid_version(Path(settings.model), list(rejected.values())))


def _follow(app: Flask, settings: Settings, rejected: dict[Path, str]) -> None:
    # The lowest CPU priority for this thread (Linux threads have their own nice value): loading a
    # new version takes only what serving leaves, so capacity holds while it loads.
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    while True:
        time.sleep(settings.poll_seconds)
        current: Tagger = app.extensions[EXTENSION]
        try:
            newer = newest_valid(settings, rejected, newer_than=current.model.version)
        except SlotTaggerError as exc:  # the folder went away: keep serving what is loaded
            logger.error("cannot look for new model versions: %s", exc.message)
            continue
        if newer is not None:
            app.extensions[EXTENSION] = newer
            logger.info("switched from model version %d to %d", current.model.version, newer.model.version)
