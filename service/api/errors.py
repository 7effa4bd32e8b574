"""The one error handler: every failure leaves as `{"error": {"code", "message", "field"}}`.

`SlotTaggerError`s carry their own code and status; werkzeug's HTTP errors (404, 405, 413)
get a code from their name; anything else is a bug, logged with its traceback on the server
and answered as a bare 500, never with the traceback. A server fault whose message names server
paths (`message_for_clients = False`, such as a model that breaks its contract mid-request) keeps
its code, but its message goes to the log only.
"""

from __future__ import annotations

import logging
import re

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from service.api.metrics import ERRORS
from service.errors import SlotTaggerError

logger = logging.getLogger(__name__)
SERVER_FAULT = "the server cannot answer this request; its log says why"


def init_app(app: Flask) -> None:
    app.register_error_handler(Exception, handle_error)


def handle_error(exc: Exception) -> tuple[Response, int]:
    if isinstance(exc, SlotTaggerError) and not exc.message_for_clients:
        logger.error("%s: %s", exc.code, exc.message)
        body, status = {"code": exc.code, "message": SERVER_FAULT}, exc.http_status
    elif isinstance(exc, SlotTaggerError):
        body, status = exc.to_dict(), exc.http_status
    elif isinstance(exc, HTTPException):
        status = exc.code or 500
        body = {"code": _snake(exc.name), "message": exc.description or exc.name}
    else:
        logger.exception("unexpected error")
        body, status = {"code": "internal_error", "message": "internal server error"}, 500
    ERRORS.labels(body["code"]).inc()
    response = jsonify(error=body)
    if isinstance(exc, HTTPException) and exc.code == 405:
        response.headers["Allow"] = exc.get_response().headers.get("Allow", "")
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response, status


def _snake(name: str) -> str:
    """"Method Not Allowed" -> "method_not_allowed": a stable code from werkzeug's name."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
