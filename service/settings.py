"""Server settings: defaults, then `SLOT_TAGGER_*` environment variables, then an explicit mapping.

gunicorn.conf.py and `create_app` read the same `Settings`, so the bind address, the worker
count and the request limits cannot disagree between the server and the app. A bad value
fails at start-up with the variable's name, not on the first request.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.errors import InvalidSetting

ENV_PREFIX = "SLOT_TAGGER_"
# The app.config key a worker sets while it drains after SIGTERM (service/gunicorn.conf.py):
# /readyz answers 503 and every answer closes its connection, so traffic moves elsewhere.
DRAINING = "SLOT_TAGGER_DRAINING"
INTENT_RANKING = 10  # intents in an answer's intent_ranking unless set: Rasa's own number


@dataclass(frozen=True)
class Settings:
    """Every field `x` is read from `SLOT_TAGGER_X`; README's configuration table lists them."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    threads: int = 4  # requests a worker answers at once: keep-alive clients and I/O overlap inference
    max_queue: int = 16  # requests a worker lets wait for a turn; more get 503 (service/api/admission.py)
    model: str = "models/default"  # models/<name> (newest valid version) or a version folder
    model_version: int = 0  # pin this version of `model`; 0 serves the newest valid one
    poll_seconds: int = 10  # how often each worker looks for a newer version (service/api/rollout.py)
    max_text_chars: int = 10_000
    max_tokens: int = 512
    max_batch: int = 64
    max_body_bytes: int = 1024 * 1024
    intent_ranking: int = INTENT_RANKING  # intents listed in each answer's intent_ranking
    # when set, every route but /healthz and /readyz requires it (service/api/auth.py); never printed
    api_token: str = dataclasses.field(default="", repr=False)
    read_timeout: int = 10  # seconds a request's headers and body may take to arrive (service/read_deadline.py)
    timeout: int = 60  # seconds a worker may stay silent (model load included) before a restart
    graceful_timeout: int = 30  # seconds in-flight requests get to finish after SIGTERM
    # Seconds a worker keeps serving after SIGTERM with /readyz at 503, before it stops accepting,
    # so a load balancer polling /readyz stops sending first; 0 stops accepting at once.
    drain_seconds: int = 0
    # A worker restarts after max_requests (plus up to max_requests_jitter, so workers do not
    # restart together) requests, bounding any slow growth; 0 never restarts.
    max_requests: int = 0
    max_requests_jitter: int = 0


def open_bind_warning(settings: Settings) -> str | None:
    """The warning for a server anyone on the network can use: bound beyond loopback, no token."""
    if settings.api_token or _is_loopback(settings.host):
        return None
    return (
        f"serving on {settings.host}:{settings.port} without SLOT_TAGGER_API_TOKEN: "
        "anyone who can reach this address can use the API"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: only its resolver knows where it points
        return False


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build `Settings` from `environ` (default: os.environ) and `overrides`.

    Override keys are field names in any case (`MODEL`, `max_batch`), as a Flask config
    mapping would spell them; keys that name no field are ignored so the same mapping can
    carry Flask's own options such as `TESTING`.
    """
    environ = os.environ if environ is None else environ
    fields = {field.name: field for field in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    for name, field in fields.items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _convert(ENV_PREFIX + name.upper(), raw, field.type)
    for key, value in (overrides or {}).items():
        name = key.lower()
        if name in fields:
            values[name] = _convert(key, value, fields[name].type)
    return Settings(**values)


def _convert(source: str, value: Any, type_name: Any) -> Any:
    """Coerce one value to its field's type; ints must be >= 1 (ports, counts, limits)."""
    if type_name in ("str", str):
        if not str(value).strip():
            raise InvalidSetting(f"{source} must not be empty", field=source)
        return str(value)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidSetting(f"{source} must be an integer, got {value!r}", field=source) from None
    if number < 1:
        raise InvalidSetting(f"{source} must be >= 1, got {number}", field=source)
    return number
