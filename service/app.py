"""`create_app`: the Flask application factory (defaults, then environment, then `config`).

Creating the app loads and warms up the model, so under gunicorn (`preload_app = False`) each
worker pays that once at boot and a bad model path fails the boot, never a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from service import openapi
from service.api import admission, auth, errors, health, metrics, models, parse, rasa, rollout
from service.settings import load_settings


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; `config` keys name `Settings` fields (`MODEL`, `MAX_BATCH`) or Flask options."""
    app = Flask(__name__)
    settings = load_settings(overrides=config)
    app.config.update(SETTINGS=settings, MAX_CONTENT_LENGTH=settings.max_body_bytes)
    app.config.from_mapping(config or {})
    app.json.sort_keys = False  # keep the documented field order: tokens, intent, entities, model
    errors.init_app(app)
    metrics.init_app(app)
    auth.init_app(app, settings)
    admission.init_app(app, settings)
    for blueprint in (parse.bp, rasa.bp, models.bp, health.bp, metrics.bp, openapi.bp):
        app.register_blueprint(blueprint)
    rollout.init_app(app, settings)
    return app
