"""GET /healthz (the process answers) and GET /readyz (the model is loaded, warmed up, and the
worker is not draining).

A load balancer sends traffic only on /readyz; a supervisor restarts only on /healthz. A worker
draining after SIGTERM says so on /readyz (503) and closes every connection it answers on.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from service.api.tagger import get_tagger
from service.settings import DRAINING

bp = Blueprint("health", __name__)


@bp.after_app_request
def close_while_draining(response: Response) -> Response:
    if current_app.config.get(DRAINING):
        response.headers["Connection"] = "close"
    return response


@bp.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict, int]:
    model = get_tagger().model_info()  # a worker takes requests only once its model is warm
    if current_app.config.get(DRAINING):
        return {"status": "draining", "model": model}, 503
    return {"status": "ready", "model": model}, 200
