"""Prometheus metrics: request counts and latency per route, inference time, errors.

Under gunicorn every worker is its own process, so gunicorn.conf.py points
PROMETHEUS_MULTIPROC_DIR at a fresh folder before workers start; prometheus-client then writes
each worker's values there and `GET /metrics` sums them. Without that variable (tests, the
Flask dev server) the process's default registry is served.
"""

from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess

bp = Blueprint("metrics", __name__)

# 404s share one route label and odd methods one method label, so clients cannot grow the
# number of series without bound.
UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "POST", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
REQUESTS = Counter(
    "slot_tagger_http_requests_total", "HTTP requests by route, method and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "slot_tagger_http_request_duration_seconds", "Time from request start to response, by route",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
INFERENCE_SECONDS = Histogram(
    "slot_tagger_inference_seconds", "Time in Predictor.tag per request (tokens to answers)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
SENTENCES = Counter("slot_tagger_sentences_total", "Sentences tagged")
ERRORS = Counter("slot_tagger_errors_total", "Error responses by error code", ["code"])


def init_app(app: Flask) -> None:
    """Time and count every request, including the ones the error handler answers."""
    app.before_request(_start_timer)
    app.after_request(_record)


@bp.get("/metrics")
def metrics() -> Response:
    registry = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _start_timer() -> None:
    g.started = time.perf_counter()


def _record(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    method = request.method if request.method in METHODS else "other"
    REQUESTS.labels(route, method, str(response.status_code)).inc()
    if "started" in g:
        LATENCY.labels(route, method).observe(time.perf_counter() - g.started)
    return response
