"""GET /healthz (the process answers) and GET /readyz (the model is loaded and warmed up).

A load balancer sends traffic only on /readyz; a supervisor restarts only on /healthz.
"""

from __future__ import annotations

from flask import Blueprint, current_app

from service.api.tagger import EXTENSION

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict, int]:
    tagger = current_app.extensions.get(EXTENSION)
    if tagger is None:
        return {"status": "loading"}, 503
    return {"status": "ready", "model": tagger.model_info()}, 200
