"""The service as deployed: real gunicorn on a free loopback port, real HTTP with requests.

A model of slots+intent is trained here for enough epochs to get the fixture's
`arrive in taipei` / `leave taipei` sentences right (the session's tiny model is too weak).
Every server is killed in its fixture's teardown; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES, REPO, tiny_config
from training.pipeline import run

READY_SECONDS = 180  # two workers importing TF on a busy machine
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "service/gunicorn.conf.py", "service.wsgi:app"]
# Both sentences are in data/fixtures/tiny_atis/train/seq.in: the same city word, two roles.
ARRIVE = "which flights arrive in taipei"
LEAVE = "which flights leave taipei on friday"
FUZZ_MAX_CHARS = 2000  # the fuzzing server's SLOT_TAGGER_MAX_TEXT_CHARS: punctuation runs reach it


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
        rnn_units=32, word_dim=32, dropout=0.1, word_dropout=0.0, token_dropout=0.0,
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
                   SLOT_TAGGER_WORKERS="2", SLOT_TAGGER_MAX_BODY_BYTES="65536",
                   SLOT_TAGGER_MAX_TEXT_CHARS=str(FUZZ_MAX_CHARS))
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


# --- fuzzing over HTTP: whatever a client sends, a 2xx or a JSON 4xx, and offsets that slice ---

# Every code point, lone surrogates included (JSON can carry them as "\ud800" escapes).
ANY_CHAR = st.characters(codec=None, categories=None)
HOSTILE_TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=120),
    st.text(st.sampled_from("\x00\u2028\u2029\x85\u0301\u0308\u200b\u200f\ufeff \t\n.,!?-…"), max_size=80),
    st.builds(lambda mark, n: mark * n, st.sampled_from(".!?-,…*#"), st.integers(1, FUZZ_MAX_CHARS)),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(ANY_CHAR, max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(ANY_CHAR, max_size=8), inner, max_size=4),
    max_leaves=12,
)
BODIES = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries({"text": HOSTILE_TEXT}),
    st.fixed_dictionaries({"tokens": st.lists(HOSTILE_TEXT, max_size=6)}),
    st.fixed_dictionaries({"texts": st.lists(HOSTILE_TEXT, max_size=4)}),
    st.fixed_dictionaries({"text": HOSTILE_TEXT, "message_id": st.none() | st.text(max_size=8),
                           "token": st.none() | st.text(max_size=8)}),
    st.dictionaries(st.sampled_from(["text", "tokens", "texts", "message_id", "token"]), JSON_VALUES, max_size=3),
)
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _sliced(text: str, items: list[dict]) -> bool:
    return all(text[item["start"] : item["end"]] == item["text"] for item in items)


@pytest.mark.parametrize("path", ["/v1/parse", "/v1/parse/batch", "/model/parse"])
@FUZZ
@given(body=BODIES)
def test_any_body_gets_a_2xx_or_a_json_4xx_with_offsets_that_slice(fuzz_session, server, path, body):
    raw = json.dumps(body)  # ASCII, lone surrogates as \ud800 escapes, as a client may send them
    response = fuzz_session.post(server.url + path, data=raw, headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code < 500, (response.status_code, response.text[:300])
    answer = response.json()
    if response.status_code >= 400:
        assert set(answer["error"]) >= {"code", "message"}
        return
    if path == "/v1/parse/batch":
        for text, result in zip(body["texts"], answer["results"], strict=True):
            assert _sliced(text, result["tokens"]) and _sliced(text, result["entities"])
    elif path == "/model/parse":
        spans = [(e["start"], e["end"]) for e in answer["entities"]] + [tuple(t) for t in answer["text_tokens"]]
        assert all(0 <= start < end <= len(body["text"]) for start, end in spans)
    else:
        text = body["text"] if "text" in body else " ".join(body["tokens"])
        assert _sliced(text, answer["tokens"]) and _sliced(text, answer["entities"])


@pytest.fixture(scope="module")
def fuzz_session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_workers_recycled_by_max_requests_fail_no_request(taipei_model, tmp_path):
    """Each worker restarts after 30 to 40 requests while 4 keep-alive clients send 360; the
    other worker answers while a new one loads the model, and no request fails."""
    server = start(taipei_model, tmp_path / "gunicorn.log", SLOT_TAGGER_WORKERS="2",
                   SLOT_TAGGER_MAX_REQUESTS="30", SLOT_TAGGER_MAX_REQUESTS_JITTER="10")
    failures: list[str] = []

    def client(_: int) -> int:
        answered = 0
        with requests.Session() as session:
            for _ in range(90):
                try:
                    response = session.post(server.url + "/v1/parse", json={"text": LEAVE}, timeout=60)
                except requests.RequestException as exc:
                    failures.append(type(exc).__name__)
                    continue
                answered += response.status_code == 200
        return answered

    try:
        wait_ready(server)
        with ThreadPoolExecutor(max_workers=4) as pool:
            answered = sum(pool.map(client, range(4)))
    finally:
        stop(server)
    log = server.log.read_text(errors="replace")
    assert log.count("Autorestarting worker") >= 2, log[-2000:]
    assert failures == [] and answered == 360


def test_sigterm_drains_then_stops_with_no_request_lost(taipei_model, tmp_path):
    """16 clients keep sending through SIGTERM: /readyz turns 503 during the 3 s drain, every request
    answered is one the clients received (the access log's count of 200s equals theirs), and the
    only client errors are new connections the stopping server no longer took."""
    server = start(taipei_model, tmp_path / "gunicorn.log", SLOT_TAGGER_WORKERS="2", SLOT_TAGGER_DRAIN_SECONDS="3")
    answered: list[int] = []
    errors: list[str] = []
    stopped = threading.Event()

    def client() -> None:
        with requests.Session() as session:
            while not stopped.is_set():
                try:
                    response = session.post(server.url + "/v1/parse", json={"text": LEAVE}, timeout=30)
                except requests.ConnectionError as exc:
                    errors.append(str(exc))
                    if "refused" in str(exc).lower():
                        return  # nobody listens any more
                    continue
                answered.append(response.status_code)

    try:
        wait_ready(server)
        threads = [threading.Thread(target=client, daemon=True) for _ in range(16)]
        for thread in threads:
            thread.start()
        time.sleep(2)
        server.process.send_signal(signal.SIGTERM)
        readiness = []
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            try:
                readiness.append(requests.get(server.url + "/readyz", timeout=5).json()["status"])
            except requests.ConnectionError:
                break
            time.sleep(0.2)
        assert server.process.wait(timeout=60) == 0
        stopped.set()
        for thread in threads:
            thread.join(timeout=40)
    finally:
        stopped.set()
        stop(server)
    assert "draining" in readiness and "ready" not in readiness[1:]
    assert set(answered) == {200}
    logged = server.log.read_text(errors="replace").count('"POST /v1/parse HTTP/1.1" 200')
    assert logged == len(answered), (logged, len(answered), errors[:3])
    # refused: nothing listens; reset: a connection still in the kernel's queue when the last
    # worker closed the socket, which the server never read from
    unexpected = [e for e in errors if "refused" not in e.lower() and "reset by peer" not in e.lower()]
    assert not unexpected, unexpected[:3]


def test_beyond_the_queue_a_quick_503_with_retry_after(taipei_model, tmp_path):
    """One worker with one turn and a queue of 2: of 12 batch requests sent at once, 3 are
    admitted and the rest refused at once (faster than the admitted ones are answered)."""
    server = start(taipei_model, tmp_path / "gunicorn.log", SLOT_TAGGER_WORKERS="1",
                   SLOT_TAGGER_THREADS="1", SLOT_TAGGER_MAX_QUEUE="2")
    body = {"texts": [LEAVE, ARRIVE] * 32}
    barrier = threading.Barrier(12)

    def send(_: int) -> tuple[int, float, str, dict]:
        with requests.Session() as session:
            session.get(server.url + "/healthz", timeout=30)  # connect first, so they all arrive together
            barrier.wait(timeout=30)
            began = time.perf_counter()
            response = session.post(server.url + "/v1/parse/batch", json=body, timeout=60)
            return response.status_code, time.perf_counter() - began, response.headers.get("Retry-After", ""), response.json()

    try:
        wait_ready(server)
        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(send, range(12)))
        after = requests.post(server.url + "/v1/parse/batch", json=body, timeout=60)
    finally:
        stop(server)
    admitted = [a for a in answers if a[0] == 200]
    refused = [a for a in answers if a[0] == 503]
    assert len(admitted) + len(refused) == 12 and len(admitted) >= 3 and refused
    assert all(r[2] == "1" and r[3]["error"]["code"] == "overloaded" for r in refused)
    assert max(r[1] for r in refused) < sorted(a[1] for a in admitted)[-1]
    assert after.status_code == 200


def _trickle(url: str, part: str, until: float, answers: list[bytes]) -> None:
    """One slow client: a request sent a byte every 0.2 s, its headers or its body."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"text": LEAVE}).encode()
    head = (f"POST /v1/parse HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        slow = head + body if part == "headers" else body
        if part == "body":
            sock.sendall(head)
        try:
            for byte in slow:
                if time.monotonic() > until or select.select([sock], [], [], 0)[0]:
                    break  # out of time, or the server has answered (or closed) already
                sock.sendall(bytes([byte]))
                time.sleep(0.2)
            answer = b""
            while chunk := sock.recv(65536):  # the whole answer: the server closes after it
                answer += chunk
            answers.append(answer)
        except OSError:  # the server shut the connection: what the deadline is for
            answers.append(b"")


def test_32_trickling_clients_hold_no_thread_past_the_read_timeout(taipei_model, tmp_path):
    """16 clients trickle their headers and 16 their body while a normal client keeps asking:
    every normal request is answered, and the body tricklers get 408 at the read timeout."""
    server = start(taipei_model, tmp_path / "gunicorn.log", SLOT_TAGGER_WORKERS="2", SLOT_TAGGER_READ_TIMEOUT="2")
    answers: list[bytes] = []
    try:
        wait_ready(server)
        until = time.monotonic() + 8
        tricklers = [threading.Thread(target=_trickle, args=(server.url, part, until, answers), daemon=True)
                     for part in ["headers"] * 16 + ["body"] * 16]
        for thread in tricklers:
            thread.start()
        time.sleep(1)
        statuses = []
        with requests.Session() as session:
            while time.monotonic() < until - 2:
                statuses.append(session.post(server.url + "/v1/parse", json={"text": ARRIVE}, timeout=3).status_code)
        for thread in tricklers:
            thread.join(timeout=30)
    finally:
        stop(server)
    assert len(statuses) >= 20 and set(statuses) == {200}
    timed_out = [a for a in answers if a.startswith(b"HTTP/1.1 408")]
    assert len(timed_out) == 16 and all(b'"request_timeout"' in a for a in timed_out)


class _MiscountsOneWord(tf.Module):
    """Keeps the export contract until it sees the word "miscount": then it reports wrong lengths,
    a model fault the predictor catches mid-request (the warm-up never sees the word)."""

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="tokens")])
    def serve(self, tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        real = tf.not_equal(tokens, "")
        lengths = tf.reduce_sum(tf.cast(real, tf.int32), axis=1)
        broken = tf.reduce_any(tf.equal(tokens, "miscount"), axis=1)
        return {"lengths": tf.where(broken, lengths + 1, lengths), "slots": tf.where(real, "O", ""),
                "slot_confidence": tf.where(real, 0.5, 0.0)}


def test_a_model_fault_mid_request_is_a_503_without_server_paths(tmp_path):
    version = tmp_path / "secret-path" / "miscounting" / "1"
    module = _MiscountsOneWord()
    tf.saved_model.save(module, str(version), signatures={"serving_default": module.serve})
    (version / "metadata.json").write_text(json.dumps(
        {"schema_version": 2, "heads": ["slots"], "labels": {"slots": ["O"]}}), encoding="utf-8")
    server = start(version.parent, tmp_path / "gunicorn.log", SLOT_TAGGER_WORKERS="1")
    try:
        wait_ready(server)
        fine = requests.post(server.url + "/v1/parse", json={"text": "all is well"}, timeout=30)
        broken = requests.post(server.url + "/v1/parse", json={"text": "please miscount this"}, timeout=30)
    finally:
        stop(server)
    assert fine.status_code == 200
    assert broken.status_code == 503 and broken.json()["error"]["code"] == "model_corrupt"
    assert "secret-path" not in broken.text and "Traceback" not in broken.text
    assert "secret-path" in server.log.read_text(errors="replace")  # the operator keeps the detail
