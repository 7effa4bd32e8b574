"""Optional token auth: with SLOT_TAGGER_API_TOKEN set, every route but the health checks needs it.

Clients send `Authorization: Bearer <token>`. `/model/parse` also takes the two places Rasa
puts it: the `token` field of the JSON body (Rasa's RasaNLUHttpInterpreter, from `token:` in
`endpoints.yml`) and the `?token=` query parameter (Rasa's own server). Tokens are compared in
constant time, so a wrong guess says nothing about how close it was.
"""

from __future__ import annotations

import hmac

from flask import Flask, request

from service.errors import Unauthorized
from service.settings import Settings

OPEN_ROUTES = ("/healthz", "/readyz")  # a load balancer and a supervisor carry no token
RASA_ROUTE = "/model/parse"


def init_app(app: Flask, settings: Settings) -> None:
    if not settings.api_token:
        return
    expected = settings.api_token.encode("utf-8")

    @app.before_request
    def require_token() -> None:
        if request.path in OPEN_ROUTES:
            return
        # surrogatepass: JSON may carry a lone surrogate, which is simply a wrong token
        if not any(hmac.compare_digest(expected, sent.encode("utf-8", "surrogatepass")) for sent in _sent_tokens()):
            raise Unauthorized("missing or wrong API token: send the header 'Authorization: Bearer <token>'")


def _sent_tokens() -> list[str]:
    """Every token the request carries, in the places its route accepts."""
    sent = []
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        sent.append(value.strip())
    if request.path == RASA_ROUTE:
        sent.extend(request.args.getlist("token"))
        body = request.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("token"), str):
            sent.append(body["token"])
    return sent
