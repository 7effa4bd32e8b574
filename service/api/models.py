"""GET /v1/models: what the worker serves, so a client can check labels and version."""

from __future__ import annotations

from flask import Blueprint

from service.api.tagger import get_tagger

bp = Blueprint("models", __name__, url_prefix="/v1/models")

# metadata.json keys a client may rely on; config, data and provenance stay on disk.
PUBLIC_KEYS = ("labels", "metrics", "created", "vocabulary_size", "epochs", "training_seconds")


@bp.get("")
def models() -> dict:
    model = get_tagger().model
    public = {key: model.metadata[key] for key in PUBLIC_KEYS if key in model.metadata}
    return {"name": model.name, "version": model.version, "heads": list(model.heads), **public}
