"""The service as deployed: real gunicorn on a free loopback port, real HTTP with requests.

A model of slots+intent is trained here for enough epochs to get the fixture's
`arrive in taipei` / `leave taipei` sentences right (the session's tiny model is too weak).
Every server is killed in its fixture's teardown; every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import FIXTURES, REPO, tiny_config
from training.pipeline import run

READY_SECONDS = 180  # two workers importing TF on a busy machine
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "service/gunicorn.conf.py", "service.wsgi:app"]
# Both sentences are in data/fixtures/tiny_atis/train/seq.in: the same city word, two roles.
ARRIVE = "which flights arrive in taipei"
LEAVE = "which flights leave taipei on friday"


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log: Path


@pytest.fixture(scope="module")
def taipei_model(tmp_path_factory) -> Path:
    """slots+intent, trained ~15 s: enough to learn arrive/leave on the 40 fixture sentences."""
    config = tiny_config(
        name="taipei", heads=("slots", "intent"), max_epochs=60, patience=60,
        lstm_units=32, word_dim=32, dropout=0.1, word_dropout=0.0, token_dropout=0.0,
    )
    return run(config, tmp_path_factory.mktemp("models"), data_dir=FIXTURES)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(model: Path, log: Path, **env: str) -> Server:
    port = free_port()
    environ = {
        **os.environ, "SLOT_TAGGER_HOST": "127.0.0.1", "SLOT_TAGGER_PORT": str(port),
        "SLOT_TAGGER_MODEL": str(model), "SLOT_TAGGER_TIMEOUT": "180", **env,
    }
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    handle = log.open("wb")
    process = subprocess.Popen(GUNICORN, cwd=REPO, env=environ, stdout=handle, stderr=subprocess.STDOUT)
    handle.close()
    return Server(process, f"http://127.0.0.1:{port}", log)


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.log.read_text(errors="replace")[-3000:]
        try:
            if requests.get(server.url + "/readyz", timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # no worker has accepted yet
            pass
        time.sleep(0.5)
    pytest.fail(f"not ready after {READY_SECONDS} s: {server.log.read_text(errors='replace')[-3000:]}")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(taipei_model, tmp_path_factory) -> Iterator[Server]:
    server = start(taipei_model.parent, tmp_path_factory.mktemp("log") / "gunicorn.log",
                   SLOT_TAGGER_WORKERS="2", SLOT_TAGGER_MAX_BODY_BYTES="65536")
    try:
        wait_ready(server)
        yield server
    finally:
        stop(server)


def parse(server: Server, text: str) -> dict:
    response = requests.post(server.url + "/v1/parse", json={"text": text}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def slot_of(body: dict, word: str) -> str:
    return next(token["slot"] for token in body["tokens"] if token["text"] == word)


def test_arrive_and_leave_taipei(server):
    assert slot_of(parse(server, ARRIVE), "taipei") == "B-toloc.city_name"
    assert slot_of(parse(server, LEAVE), "taipei") == "B-fromloc.city_name"
    body = requests.post(server.url + "/v1/parse/batch", json={"texts": [LEAVE, ARRIVE]}, timeout=30).json()
    assert [slot_of(result, "taipei") for result in body["results"]] == ["B-fromloc.city_name", "B-toloc.city_name"]
    entity = next(e for e in parse(server, ARRIVE)["entities"] if e["slot"] == "toloc.city_name")
    assert (entity["text"], entity["start"], entity["end"]) == ("taipei", 24, 30)


def test_endpoints_answer(server):
    assert requests.get(server.url + "/healthz", timeout=10).json() == {"status": "ok"}
    models = requests.get(server.url + "/v1/models", timeout=10).json()
    assert (models["name"], models["version"], models["heads"]) == ("taipei", 1, ["slots", "intent"])
    assert requests.get(server.url + "/openapi.json", timeout=10).json()["openapi"].startswith("3.")
    body = requests.post(server.url + "/v1/parse", json={"tokens": ["leave", "taipei"]}, timeout=30).json()
    assert [(t["start"], t["end"]) for t in body["tokens"]] == [(0, 5), (6, 12)]


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": "{oops", "headers": {"Content-Type": "application/json"}}, 400),
        ({"data": "text=hi"}, 415),
        ({"json": {"text": "x" * 70_000}}, 413),
        ({"json": {"text": "hi", "extra": 1}}, 400),
        ({"json": {"text": "   "}}, 400),
    ],
)
def test_bad_requests_over_http(server, kwargs, status):
    response = requests.post(server.url + "/v1/parse", timeout=30, **kwargs)
    assert response.status_code == status and set(response.json()["error"]) >= {"code", "message"}
    assert requests.get(server.url + "/nope", timeout=10).status_code == 404
    assert requests.put(server.url + "/v1/parse", timeout=10).status_code == 405
    assert slot_of(parse(server, LEAVE), "taipei") == "B-fromloc.city_name"


def test_concurrent_clients(server):
    texts = [ARRIVE, LEAVE] * 20
    with ThreadPoolExecutor(max_workers=8) as pool, requests.Session() as session:
        bodies = list(pool.map(lambda t: session.post(server.url + "/v1/parse", json={"text": t}, timeout=60).json(), texts))
    roles = [slot_of(body, "taipei") for body in bodies]
    assert roles == ["B-toloc.city_name", "B-fromloc.city_name"] * 20
    metrics = requests.get(server.url + "/metrics", timeout=10).text
    line = next(l for l in metrics.splitlines()
                if l.startswith('slot_tagger_http_requests_total{method="POST",route="/v1/parse",status="200"}'))
    assert float(line.split()[-1]) >= 40  # summed over both workers (multiprocess mode)


def test_sigterm_finishes_the_in_flight_request(taipei_model, tmp_path):
    server = start(taipei_model, tmp_path / "gunicorn.log", SLOT_TAGGER_WORKERS="1")
    try:
        wait_ready(server)
        body = f'{{"text": "{LEAVE}"}}'.encode()
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            head = (f"POST /v1/parse HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
            sock.sendall(head + body[:10])  # the request is now in the worker's hands
            time.sleep(1)
            server.process.send_signal(signal.SIGTERM)
            time.sleep(1)
            sock.sendall(body[10:])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert b"B-fromloc.city_name" in answer
        assert server.process.wait(timeout=40) == 0
    finally:
        stop(server)


@pytest.mark.parametrize("layout", ["missing", "empty_version"])
def test_bad_model_fails_fast_with_one_line(tmp_path, layout):
    model = tmp_path / "models" / "broken"
    if layout == "empty_version":
        (model / "1").mkdir(parents=True)
    server = start(model, tmp_path / "gunicorn.log")
    try:
        code = server.process.wait(timeout=30)
    finally:
        stop(server)
    output = server.log.read_text(errors="replace")
    assert code != 0
    assert str(model) in output and "Traceback" not in output
    assert output.strip().splitlines()[-1].startswith("slot-tagger: cannot start:")
