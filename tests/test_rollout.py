"""Model rollout on real gunicorn: the newest valid version, a pin, broken versions skipped, and a
new version switched in under load with no failed request. Copies of the session's tiny model
play the versions; every server is stopped in its test, every wait is bounded."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import requests

from tests.test_gunicorn import start, stop, wait_ready

CLIENTS = 8
SENTENCE = "show me flights from boston to taipei"


def _publish(tiny_model: Path, models: Path, version: int) -> Path:
    """A copy of the tiny model as `models/<version>`, renamed into place as an export is."""
    staging = models / f".export-copy-{version}"
    shutil.copytree(tiny_model, staging)
    return staging.rename(models / str(version))


def _served_version(url: str) -> int:
    return requests.get(url + "/v1/models", timeout=30).json()["version"]


def test_broken_newer_versions_are_skipped_and_logged_once(tiny_model, tmp_path):
    models = tmp_path / "models" / "tiny"
    _publish(tiny_model, models, 1)
    (_publish(tiny_model, models, 2) / "saved_model.pb").write_bytes(b"not a SavedModel")
    (_publish(tiny_model, models, 3) / "metadata.json").write_text("{", encoding="utf-8")
    server = start(models, tmp_path / "gunicorn.log", SLOT_TAGGER_WORKERS="1", SLOT_TAGGER_POLL_SECONDS="1")
    try:
        wait_ready(server)
        assert _served_version(server.url) == 1
        time.sleep(3)  # three polls: the broken versions are not tried, or logged, again
        assert requests.post(server.url + "/v1/parse", json={"text": SENTENCE}, timeout=30).json()["model"]["version"] == 1
    finally:
        stop(server)
    log = server.log.read_text(errors="replace")
    assert log.count(f"skipping model version {models / '2'}: cannot load SavedModel") == 1
    assert "Traceback" not in log


def test_a_pinned_version_is_served_though_a_newer_one_exists(tiny_model, tmp_path):
    models = tmp_path / "models" / "tiny"
    _publish(tiny_model, models, 1)
    _publish(tiny_model, models, 2)
    server = start(models, tmp_path / "gunicorn.log", SLOT_TAGGER_WORKERS="1", SLOT_TAGGER_MODEL_VERSION="1",
                   SLOT_TAGGER_POLL_SECONDS="1")
    try:
        wait_ready(server)
        time.sleep(2)
        assert _served_version(server.url) == 1
    finally:
        stop(server)


def test_a_new_version_under_load_no_failed_request_and_never_back(tiny_model, tmp_path):
    models = tmp_path / "models" / "tiny"
    _publish(tiny_model, models, 1)
    server = start(models, tmp_path / "gunicorn.log", SLOT_TAGGER_WORKERS="2", SLOT_TAGGER_POLL_SECONDS="1")
    seen: list[list[int]] = [[] for _ in range(CLIENTS)]
    failures: list[str] = []
    done = threading.Event()

    def client(k: int) -> None:
        with requests.Session() as session:
            while not done.is_set():
                try:
                    response = session.post(server.url + "/v1/parse", json={"text": SENTENCE}, timeout=30)
                except requests.RequestException as exc:
                    failures.append(f"{type(exc).__name__}")
                    continue
                if response.status_code != 200:
                    failures.append(str(response.status_code))
                else:
                    seen[k].append(response.json()["model"]["version"])

    try:
        wait_ready(server)
        threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(2)
        _publish(tiny_model, models, 2)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(versions.count(2) >= 20 for versions in seen):
            time.sleep(0.5)
        done.set()
        for thread in threads:
            thread.join(timeout=40)
        assert {_served_version(server.url) for _ in range(10)} == {2}  # new connections: either worker
    finally:
        done.set()
        stop(server)
    assert failures == []
    for versions in seen:
        assert versions[0] == 1 and versions[-1] == 2 and versions == sorted(versions)
    assert "switched from model version 1 to 2" in server.log.read_text(errors="replace")
