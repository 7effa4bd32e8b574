"""Overload: beyond a queue of settable depth, a worker answers 503 at once instead of queueing.

A worker answers at most `SLOT_TAGGER_THREADS` tagging requests at a time; up to
`SLOT_TAGGER_MAX_QUEUE` more wait for a turn. A request beyond those gets `503 overloaded` with
`Retry-After` without waiting, so a client under overload learns it at once and can back off, and
the wait of the admitted ones stays bounded. gunicorn runs `SPARE_THREADS` more threads than
turns plus queue (service/gunicorn.conf.py), so a request to refuse, and the health checks,
always find a thread to answer them. Only the tagging routes are counted, and their body is read
before they take a turn, so a client trickling its body holds a thread (until the read deadline,
service/read_deadline.py) but never a turn.
"""

from __future__ import annotations

import threading

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import ClientDisconnected

from service import read_deadline
from service.errors import Overloaded, RequestTimeout
from service.settings import Settings

TAGGING_ROUTES = ("/v1/parse", "/v1/parse/batch", "/model/parse")
RETRY_AFTER_SECONDS = 1
SPARE_THREADS = 4


class Admission:
    """The tagging requests a worker holds, and the turns they wait for."""

    def __init__(self, settings: Settings) -> None:
        self.limit = settings.threads + settings.max_queue
        self.turns = threading.BoundedSemaphore(settings.threads)
        self.held = 0
        self.lock = threading.Lock()

    def enter(self) -> None:
        """Count this request in, or refuse it; then wait for a turn."""
        with self.lock:
            if self.held >= self.limit:
                raise Overloaded(f"this worker holds {self.limit} requests; retry after {RETRY_AFTER_SECONDS} s")
            self.held += 1
        self.turns.acquire()

    def leave(self) -> None:
        self.turns.release()
        with self.lock:
            self.held -= 1


def init_app(app: Flask, settings: Settings) -> None:
    admission = Admission(settings)

    @app.before_request
    def admit() -> None:
        if request.method == "POST" and request.path in TAGGING_ROUTES:
            read_whole_body()  # before taking a turn: a slow body must not hold one
            admission.enter()
            g.admitted = True

    @app.teardown_request
    def release(_: BaseException | None) -> None:
        if g.pop("admitted", False):
            admission.leave()

    @app.after_request
    def retry_after(response: Response) -> Response:
        if response.status_code == Overloaded.http_status:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def read_whole_body() -> None:
    """Read the body now (Flask keeps it for the view), within the read deadline gunicorn's
    worker set for this connection; under gunicorn, the deadline ends here. A body cut short by
    the deadline reads as a short one (or a disconnection), so the deadline is asked, not the body."""
    sock = request.environ.get("gunicorn.socket")
    try:
        request.get_data()
    except ClientDisconnected:
        if sock is None or not read_deadline.expired(sock):
            raise
    try:
        if sock is not None and read_deadline.expired(sock):
            raise RequestTimeout(f"the body did not arrive within {current_app.config['SETTINGS'].read_timeout} s")
    finally:
        if sock is not None:
            read_deadline.forget(sock)
