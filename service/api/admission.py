"""Overload: beyond a queue of settable depth, a worker answers 503 at once instead of queueing.

A worker answers at most `SLOT_TAGGER_THREADS` tagging requests at a time; up to
`SLOT_TAGGER_MAX_QUEUE` more wait for a turn. A request beyond those gets `503 overloaded` with
`Retry-After` without waiting, so a client under overload learns it at once and can back off, and
the wait of the admitted ones stays bounded. gunicorn runs `SPARE_THREADS` more threads than
turns plus queue (service/gunicorn.conf.py), so a request to refuse, and the health checks,
always find a thread to answer them. Only the tagging routes are counted.
"""

from __future__ import annotations

import threading

from flask import Flask, Response, g, request

from service.errors import Overloaded
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
